"""Metrics to JSONL (one row per log step) and TensorBoard scalars under the same names."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class MetricsLog:
    """Append-only metrics file that survives resume: rows after the resumed step are dropped."""

    def __init__(self, run_dir: str | Path, name: str = "metrics.jsonl", resume_step: int | None = None,
                 tensorboard: bool = True) -> None:
        self.path = Path(run_dir) / name
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if resume_step is not None and self.path.exists():
            kept = [line for line in self.path.read_text().splitlines() if line and json.loads(line)["step"] <= resume_step]
            self.path.write_text("".join(line + "\n" for line in kept))
        elif resume_step is None and self.path.exists():
            self.path.unlink()
        self._writer = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                stem = Path(name).stem  # one TensorBoard run per log: tb/ for metrics.jsonl, tb/<stem>/ otherwise
                tb_dir = Path(run_dir) / "tb" if stem == "metrics" else Path(run_dir) / "tb" / stem
                self._writer = SummaryWriter(str(tb_dir), purge_step=resume_step)
            except ImportError:  # tensorboard is optional at run time
                self._writer = None

    def write(self, step: int, values: dict[str, Any]) -> None:
        row = {"step": step, **{k: float(v) for k, v in values.items()}}
        with open(self.path, "a") as handle:
            handle.write(json.dumps(row) + "\n")
        if self._writer is not None:
            for key, value in values.items():
                self._writer.add_scalar(key, float(value), step)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


def read_metrics(path: str | Path) -> list[dict[str, float]]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line]
