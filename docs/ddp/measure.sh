#!/usr/bin/env bash
# One process vs two gloo ranks (`--nproc 2`), `redraw pretrain` at the tiny preset on the point task, the same
# global batch (train.batch_size=16: 8 sequences a rank); then docs/ddp/plot.py draws loss.png and results.json.
# Usage: bash docs/ddp/measure.sh [RUNS_DIR]   (PYTHON= the interpreter, default .venv/bin/python)
set -euo pipefail
PYTHON=${PYTHON:-.venv/bin/python}
RUNS=${1:-runs/ddp}
COMMON=(--preset tiny --quiet --set device=cpu --set train.steps=400 --set train.log_every=10)
rm -rf "$RUNS" && mkdir -p "$RUNS"
export OMP_NUM_THREADS=1
for run in one two; do
  nproc=1; [ "$run" = two ] && nproc=2
  /usr/bin/time -f '{"wall_s": %e, "user_s": %U, "sys_s": %S}' -o "$RUNS/$run.time.json" \
    "$PYTHON" -m redraw_trainer.cli pretrain --run-dir "$RUNS/$run" --nproc "$nproc" "${COMMON[@]}" > "$RUNS/$run.out"
done
"$PYTHON" docs/ddp/plot.py "$RUNS" docs/ddp
