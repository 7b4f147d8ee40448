"""Robots adapted per minute: one batched fleet run (learn/fleet.py) vs `adapt()` one robot after another.

    .venv/bin/python benchmarks/fleet_adapt.py [--model models/source_small.pt] [--robots 1,2,4,8,16] [--steps 30]
                                               [--rows 600] [--rounds 2] [--threads 1] [--smoke]

Every robot gets its own random frames and actions (episodes of 100 rows; timing does not depend on what the frames
show), the model's adaptation settings (shipped model: batch 32 x 16, residual 256) and `--steps` updates with
validation every `--steps // 2`. Both sides include encoding each robot's frames once (posterior caching) and the
validation checks: what a user waits for. Per robot count, `--rounds` rounds run both sides, alternating which goes
first (a shared machine's load hits both), and the medians are printed: robots/minute batched and one at a time,
their ratio, the largest |weight difference| between the two sides' residuals and how many robots kept a different
early-stopping step (same seeds: float rounding only).
"""

from __future__ import annotations

import argparse
import copy
import time

import numpy as np
import torch

from redraw_trainer.core.config import load_config
from redraw_trainer.data.sequences import SequenceData
from redraw_trainer.learn.fleet import adapt_fleet, adapt_one_at_a_time
from redraw_trainer.model.checkpoint import load_world_model
from redraw_trainer.model.world_model import WorldModel


SIDES = {"batched": adapt_fleet, "single": adapt_one_at_a_time}


def random_robot(rows: int, size: int, seed: int) -> SequenceData:
    rng = np.random.default_rng(seed)
    is_first = np.zeros(rows, bool)
    is_first[::100] = True
    return SequenceData(image=rng.integers(0, 255, (rows, size, size, 3), dtype=np.uint8),
                        action=rng.uniform(-1, 1, (rows, 2)).astype(np.float32), reward=np.zeros(rows, np.float32),
                        is_first=is_first, is_terminal=np.zeros(rows, bool))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="models/source_small.pt", help="world model whose residuals are adapted")
    parser.add_argument("--robots", default="1,2,4,8,16", help="robot counts to time, comma-separated")
    parser.add_argument("--steps", type=int, default=30, help="adaptation updates per robot")
    parser.add_argument("--rows", type=int, default=600, help="target rows per robot")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of both sides per robot count (medians)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1: a shared 2-core machine)")
    parser.add_argument("--smoke", action="store_true", help="tiny random model, 1-2 robots, 4 steps: check it runs (CI)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.smoke:
        cfg = load_config(["tiny"])
        model, counts, args.steps, args.rows, args.rounds = WorldModel(cfg.model), [1, 2], 4, 400, 1
    else:
        model, cfg, _ = load_world_model(args.model)
        counts = [int(n) for n in args.robots.split(",")]
    adapt_cfg = copy.deepcopy(cfg.adapt)
    adapt_cfg.steps, adapt_cfg.log_every = args.steps, max(1, args.steps // 2)
    m = cfg.model
    print(f"latent {m.groups}x{m.classes}, prior MLP {m.hidden}, residual {adapt_cfg.residual_hidden}, batch "
          f"{adapt_cfg.batch_size}x{adapt_cfg.seq_len}, {args.steps} steps, {args.rows} rows per robot, "
          f"torch threads {torch.get_num_threads()}")
    warm = copy.deepcopy(adapt_cfg)
    warm.steps = 2  # first calls (vmap's tracing, allocator, thread pools) are not what a fleet waits for
    adapt_fleet(model, {"warm": random_robot(200, m.image_size, 0)}, warm, progress=False)
    adapt_one_at_a_time(model, {"warm": random_robot(200, m.image_size, 0)}, warm, progress=False)
    print(f"{'robots':>6}{'batched robots/min':>20}{'one at a time robots/min':>26}{'ratio':>8}{'max |dw|':>11}"
          f"{'step differs':>13}")
    results = {}
    for count in counts:
        robots = {f"robot_{k}": random_robot(args.rows, m.image_size, 100 + k) for k in range(count)}
        times: dict[str, list[float]] = {"batched": [], "single": []}
        for round_ in range(args.rounds):
            for side in (("batched", "single") if round_ % 2 == 0 else ("single", "batched")):
                start = time.perf_counter()
                results[side] = SIDES[side](model, robots, adapt_cfg, seed=0, progress=False)
                times[side].append(time.perf_counter() - start)
        batched, single = results["batched"], results["single"]
        diff = max(float((a - b).abs().max()) for name in robots for a, b in
                   zip(batched[name].trainable.state_dict().values(), single[name].trainable.state_dict().values()))
        moved = sum(batched[name].best_step != single[name].best_step for name in robots)
        batched_s, single_s = float(np.median(times["batched"])), float(np.median(times["single"]))
        print(f"{count:>6}{60 * count / batched_s:>20.2f}{60 * count / single_s:>26.2f}"
              f"{single_s / batched_s:>7.2f}x{diff:>11.1e}{moved:>13}", flush=True)

if __name__ == "__main__":
    main()
