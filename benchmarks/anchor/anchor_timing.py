"""The timing both sides of the anchor share (imported by `ours.py` and `theirs.py`, which run in different
venvs): warm-up, then each update timed alone; one JSON line with what was timed."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import torch


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
