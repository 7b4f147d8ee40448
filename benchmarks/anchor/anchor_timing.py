"""The options and timing both sides of the anchor share (imported by `ours.py` and `theirs.py`, which run in different
venvs): warm-up, then each update timed alone; one JSON line with what was timed."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import torch


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options both sides take from `run.py`."""
    parser.add_argument("--sizes", required=True, help="JSON: the equal sizes (run.py SIZES)")
    parser.add_argument("--what", nargs="+", choices=("world_model", "imagination"), required=True)
    parser.add_argument("--updates", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)


def time_updates(step: Callable[[], object], warmup: int, updates: int) -> list[float]:
    """Seconds per call of `step`, after `warmup` untimed calls."""
    for _ in range(warmup):
        step()
    times = []
    for _ in range(updates):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return times


def report(side: str, what: str, times: list[float], items: int, params: int) -> None:
    print(json.dumps({"side": side, "what": what, "times": times, "items": items, "params": params,
                      "threads": torch.get_num_threads(), "torch": torch.__version__}))
