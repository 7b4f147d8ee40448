#!/usr/bin/env bash
# Set up (if needed) and run the main job: `redraw demo` (arguments are passed through).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/redraw demo "$@"
