"""ReDRAW beside its anchor, NM512/dreamerv3-torch, at equal sizes: world-model update and imagination.

    .venv/bin/python benchmarks/anchor/run.py --anchor-src /path/to/dreamerv3-torch [--rounds 5] [--threads 1]
    .venv/bin/python benchmarks/anchor/run.py --smoke [--anchor-src DIR]      # CI: tiny sizes, checks it runs

Fetches nothing at run time except, once, the anchor's venv: `--venv DIR` (default
~/.cache/redraw/anchor-venv) is created with `python3 -m venv` and filled from the package registry with
`pip install torch==2.13.0` (the same torch as ours) and ANCHOR_PINS. Their source is a checked-out copy
of their repository (see benchmarks/README.md for the clone and commit); it is imported as it is.

Both sides get the same sizes (SIZES: image, CNN depth, latent groups x classes, MLP width, head and
policy layers, batch, sequence length, horizon) and the same torch thread count; their RSSM has a
deterministic GRU state of `deter` units beside the same stochastic latent, which DRAW does not have.
Each round runs our side, then theirs, each in a fresh process (warm-up updates, then timed ones, the
median taken); rounds interleave so a change in machine load hits both. Prints per-side medians and the
median over rounds of the per-round ratio (theirs s/update / ours s/update = our frames/s over theirs).
`--smoke` uses tiny sizes and one round; without an anchor source (or `REDRAW_ANCHOR_SRC`) it times ours only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ANCHOR_TORCH = "torch==2.13.0"
# their requirements.txt pins torch 2.4.1 / numpy 1.23.5; we give both sides the same torch and numpy, and
# take what their imported modules need: ruamel.yaml (configs.yaml) and tensorboard (tools.py imports it)
ANCHOR_PINS = ["numpy==2.3.5", "ruamel.yaml==0.19.1", "tensorboard==2.17.1"]
SIZES = {  # equal sizes, ours = the `small` preset's
    "image_size": 64, "cnn_depth": 16, "groups": 32, "classes": 16, "hidden": 256, "deter": 256,
    "head_layers": 1, "policy_layers": 2, "action_dim": 2, "batch": 16, "seq_len": 16, "horizon": 15,
    "imag_gradient": "reinforce",
}
SMOKE_SIZES = {**SIZES, "image_size": 32, "cnn_depth": 4, "groups": 4, "classes": 4, "hidden": 16, "deter": 16,
               "batch": 2, "seq_len": 4, "horizon": 3}


def ensure_venv(venv: Path) -> Path:
    """The anchor's own venv, created (once) from the package registry; returns its python."""
    python = venv / "bin" / "python"
    stamp = venv / ".anchor-installed"
    want = hashlib.sha256(" ".join([ANCHOR_TORCH, *ANCHOR_PINS]).encode()).hexdigest()[:16]
    if stamp.is_file() and stamp.read_text().strip() == want:
        return python
    print(f"anchor: creating {venv} ({ANCHOR_TORCH} {' '.join(ANCHOR_PINS)}; a few minutes, once)", flush=True)
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, ANCHOR_TORCH], check=True)  # alone: this spelling takes the CPU wheel
    subprocess.run([*pip, *ANCHOR_PINS], check=True)
    stamp.write_text(want + "\n")
    return python


def run_side(cmd: list[str]) -> dict[str, dict]:
    """Run one side in a fresh process; its JSON lines by `what` (their code prints other lines too)."""
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    results = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    return {r["what"]: r for r in results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--anchor-src", type=Path, default=os.environ.get("REDRAW_ANCHOR_SRC"),
                        help="a checked-out copy of NM512/dreamerv3-torch (benchmarks/README.md)")
    parser.add_argument("--venv", type=Path, default=Path.home() / ".cache" / "redraw" / "anchor-venv")
    parser.add_argument("--anchor-python", default=None, help="use this Python for the anchor instead of --venv's")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--updates", type=int, default=10, help="timed updates per side per round")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads, both sides (1: on a loaded machine 2 threads time the scheduler, not the model)")
    parser.add_argument("--what", nargs="+", default=["world_model", "imagination"], choices=["world_model", "imagination"])
    parser.add_argument("--imag-gradient", default=SIZES["imag_gradient"], choices=["reinforce", "dynamics"],
                        help="theirs: reinforce (what ours does) or dynamics (their DMC default: backprop through the model)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one round: check it runs (CI), figures not meaningful")
    args = parser.parse_args()
    sizes = {**(SMOKE_SIZES if args.smoke else SIZES), "imag_gradient": args.imag_gradient}
    if args.smoke:
        args.rounds, args.updates, args.warmup = 1, 2, 1
    anchor_python = None
    if args.anchor_src is not None:
        if not (Path(args.anchor_src) / "models.py").is_file():
            parser.error(f"--anchor-src {args.anchor_src}: no models.py there; clone NM512/dreamerv3-torch")
        # smoke: the project's Python runs their code too (same torch), so CI needs no second venv
        anchor_python = args.anchor_python or (sys.executable if args.smoke else str(ensure_venv(args.venv)))
    common = ["--sizes", json.dumps(sizes), "--updates", str(args.updates), "--warmup", str(args.warmup),
              "--threads", str(args.threads)]
    print(f"sizes: {json.dumps(sizes)}; {args.rounds} round(s) x {args.updates} timed updates per side, "
          f"{args.threads} torch thread(s); load average {os.getloadavg()[0]:.2f}", flush=True)
    ours_runs, theirs_runs = [], []
    for round_ in range(args.rounds):
        ours_runs.append(run_side([sys.executable, str(HERE / "ours.py"), "--what", *args.what, *common]))
        if anchor_python:
            theirs_runs.append(run_side([anchor_python, str(HERE / "theirs.py"), "--anchor-src", str(args.anchor_src),
                                         "--what", *args.what, *common]))
        if args.rounds > 1:
            print(f"  round {round_ + 1}/{args.rounds} done, load average {os.getloadavg()[0]:.2f}", flush=True)
    for what in args.what:
        unit = "frames/s" if what == "world_model" else "imagined states/s"
        rows = [("redraw (DRAW)", [r[what] for r in ours_runs])]
        if theirs_runs:
            rows.append(("dreamerv3-torch", [r[what] for r in theirs_runs]))
        print(f"{what}: {rows[0][1][0]['items']} {'frames' if what == 'world_model' else 'imagined states'} per update")
        print(f"  {'side':<18}{'params':>10}{'s/update':>11}{unit:>19}   (median of rounds; each round's median s/update)")
        medians = {}
        for name, runs in rows:
            per_round = [statistics.median(r["times"]) for r in runs]
            medians[name] = per_round
            med = statistics.median(per_round)
            print(f"  {name:<18}{runs[0]['params']:>10,}{med:>11.4f}{runs[0]['items'] / med:>19,.0f}   "
                  f"({', '.join(f'{v:.4f}' for v in per_round)}; torch {runs[0]['torch']})")
        if theirs_runs:
            ratios = [t / o for t, o in zip(medians["dreamerv3-torch"], medians["redraw (DRAW)"])]
            print(f"  ratio ours / theirs ({unit}), median of {len(ratios)} interleaved rounds: "
                  f"{statistics.median(ratios):.2f}x (rounds: {', '.join(f'{r:.2f}' for r in ratios)})")
        else:
            print("  anchor not run: give --anchor-src (benchmarks/README.md says how to get it)")

if __name__ == "__main__":
    main()
