"""Environment steps/s: raw gym-duckietown, our wrapped env in one process, and parallel workers.

    .venv/bin/python benchmarks/sim_rate.py [--steps 600] [--workers 2] [--smoke]

The raw simulator steps the same physics and renders the same 160x120 frame per control step; our env
adds preprocessing, kinematics and the lane reward. The ratio wrapped / raw is from the same run.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np


def wrapped_rate(steps: int, seed: int = 0) -> float:
    from redraw_trainer.envs.factory import make_env

    env = make_env("duckietown", seed=seed)
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    start = time.perf_counter()
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(rng.uniform([0.2, -1], [1, 1]).astype(np.float32))
        if terminated or truncated:
            env.reset()
    rate = steps / (time.perf_counter() - start)
    env.close()
    return rate


def raw_rate(steps: int, seed: int = 0) -> float:
    from redraw_trainer.core.config import DuckietownConfig
    from redraw_trainer.envs.duckietown import DuckietownLaneEnv

    env = DuckietownLaneEnv(DuckietownConfig(), seed=seed)  # build once, then bypass our wrapper
    sim = env.sim
    rng = np.random.default_rng(seed)
    sim.reset()
    start = time.perf_counter()
    for _ in range(steps):
        _, _, done, _ = sim.step(rng.uniform(0.0, 0.6, 2))
        if done:
            sim.reset()
    rate = steps / (time.perf_counter() - start)
    env.close()
    return rate


def _worker(args: tuple[int, int]) -> float:
    import torch

    torch.set_num_threads(1)
    return wrapped_rate(*args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few iterations: check it runs (CI), figures not meaningful")
    args = parser.parse_args()
    if args.smoke:
        args.steps, args.workers = 10, 0
    raw = raw_rate(args.steps)
    single = wrapped_rate(args.steps)
    parallel = float("nan")  # --workers 0: not measured
    if args.workers:
        start = time.perf_counter()
        with ProcessPoolExecutor(args.workers, mp_context=mp.get_context("spawn")) as pool:
            list(pool.map(_worker, [(args.steps, k) for k in range(args.workers)]))
        parallel = args.workers * args.steps / (time.perf_counter() - start)  # includes process and sim start-up
    print(f"gym-duckietown loop_empty, 10 Hz control (3 physics steps of 1/30 s), 160x120 render, {args.steps} steps")
    print(f"{'':<40}{'steps/s':>10}")
    print(f"{'raw Simulator.step':<40}{raw:>10.1f}")
    print(f"{'redraw env, 1 process':<40}{single:>10.1f}")
    print(f"{f'redraw env, {args.workers} worker processes (total)':<40}{parallel:>10.1f}")
    print(f"ratio wrapped / raw: {single / raw:.2f}; parallel / single: {parallel / single:.2f}")


if __name__ == "__main__":
    main()
