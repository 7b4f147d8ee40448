#!/usr/bin/env bash
# Create .venv and install every pinned dependency and the redraw packages into it.
# Idempotent: when requirements and package manifests are unchanged, a second run installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${REDRAW_VENV:-.venv}"

# System packages: venv support and the EGL/GL libraries the headless simulator renders with.
need=()
command -v cmake >/dev/null 2>&1 || need+=(cmake)
command -v g++ >/dev/null 2>&1 || need+=(g++)
python3 -c "import ensurepip" >/dev/null 2>&1 || need+=(python3-venv)
for pkg in libegl1 libgl1 libgl1-mesa-dri libglu1-mesa; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing system packages: ${need[*]}"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

stamp="$VENV/.redraw-installed"
want=$(cat requirements.txt scripts/setup.sh scripts/build_msgs.sh src/*/setup.py src/duckietown_msgs/CMakeLists.txt src/duckietown_msgs/msg/*.msg | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "setup: installing Python dependencies into $VENV (about 2-5 minutes the first time)"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
# torch first and alone. PyPI's Linux x86_64 torch==2.13.0 is the CUDA build (it pulls the nvidia-* wheels,
# gigabytes); the CPU build is on PyTorch's CPU index. REDRAW_TORCH chooses:
#   cpu (default)  a torch 2.13.0 wheel pip already finds without an index (a local wheel, as on the
#                  project's CI machines), else PyTorch's CPU index
#   cuda           PyPI's build: CUDA on Linux x86_64, for a GPU workstation
torch_pin="torch==2.13.0"
case "${REDRAW_TORCH:-cpu}" in
  cpu)
    if "$VENV/bin/python" -m pip install -q --dry-run --ignore-installed --no-deps --no-index "$torch_pin" >/dev/null 2>&1; then
      "$VENV/bin/python" -m pip install -q "$torch_pin"
    else
      echo "setup: torch 2.13.0 CPU build from PyTorch's CPU index (REDRAW_TORCH=cuda for PyPI's CUDA build)"
      "$VENV/bin/python" -m pip install -q "$torch_pin" --index-url https://download.pytorch.org/whl/cpu
    fi ;;
  cuda) "$VENV/bin/python" -m pip install -q "$torch_pin" ;;
  *) echo "setup: REDRAW_TORCH is '${REDRAW_TORCH}', expected cpu or cuda" >&2; exit 2 ;;
esac
"$VENV/bin/python" -m pip install -q -r requirements.txt
"$VENV/bin/python" -m pip install -q --no-deps --no-build-isolation \
  -e src/redraw_testing -e src/redraw_perception -e src/redraw_policy -e src/redraw_logger -e src/redraw_trainer
# the Duckietown message types, built from src/duckietown_msgs with the ROS 2 build wheels (about 10 s)
REDRAW_VENV="$VENV" bash scripts/build_msgs.sh
echo "$want" > "$stamp"
echo "setup: done"
