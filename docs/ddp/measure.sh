#!/usr/bin/env bash
# One process vs two gloo ranks (`--nproc 2`), `redraw pretrain` at the tiny preset on the point task, the same
# global batch (train.batch_size=16: 8 sequences a rank); a third run, one process with seed 1, shows how far two
# runs that differ only by chance lie apart. Then docs/ddp/plot.py draws loss.png and writes results.json.
# Usage: bash docs/ddp/measure.sh [RUNS_DIR]   (PYTHON= the interpreter, default .venv/bin/python)
set -euo pipefail
PYTHON=${PYTHON:-.venv/bin/python}
RUNS=${1:-runs/ddp}
COMMON=(--preset tiny --quiet --set device=cpu --set train.steps=400 --set train.log_every=10)
rm -rf "$RUNS" && mkdir -p "$RUNS"
export OMP_NUM_THREADS=1
run() {  # name nproc seed
  /usr/bin/time -f '{"wall_s": %e, "user_s": %U, "sys_s": %S}' -o "$RUNS/$1.time.json" \
    "$PYTHON" -m redraw_trainer.cli pretrain --run-dir "$RUNS/$1" --nproc "$2" --seed "$3" "${COMMON[@]}" > "$RUNS/$1.out"
}
run one 1 0
run two 2 0
run one_seed1 1 1
"$PYTHON" docs/ddp/plot.py "$RUNS" docs/ddp
