"""Sequence datasets: flat arrays of consecutive frames with episode starts marked.

Convention (as DreamerV3's replay): row t holds frame t, the action that led *into* it (zero at
episode starts), the reward received on arriving, and whether it is the first or terminal frame.
Windows may cross episode boundaries; `is_first` resets the dynamics there. A row may also carry the
simulator's privileged lane pose (`lane`: lateral offset m, heading rad; NaN where unknown, as on a robot),
used only as a training target. The command history a model reads beside each frame is derived from the
action column (`command_history`), so robot, bag and simulator data give it the same way.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from redraw_trainer.model.world_model import LANE_DIMS  # lateral offset (m), heading (rad)


class DatasetError(ValueError):
    """A dataset file or array is not what the trainer expects (names the file and the field)."""


FIELDS = ("image", "action", "reward", "is_first", "is_terminal", "lane")


def command_history(action: np.ndarray, is_first: np.ndarray, steps: int) -> np.ndarray:
    """(N, steps * A) float32: row t holds action[t], action[t-1], ... action[t-steps+1] (the command that led
    into frame t first), zero before the episode's first row (whose own action is zero: nothing was sent)."""
    count, dims = action.shape
    if steps <= 0:
        return np.zeros((count, 0), np.float32)
    starts = np.maximum.accumulate(np.where(is_first, np.arange(count), 0)) if count else np.zeros(0, int)
    out = np.zeros((count, steps, dims), np.float32)
    for back in range(steps):
        rows = np.arange(count) - back
        valid = rows >= starts
        out[valid, back] = action[rows[valid]]
    return out.reshape(count, steps * dims)


@dataclass
class SequenceData:
    image: np.ndarray  # (N, S, S, 3) uint8
    action: np.ndarray  # (N, A) float32, in [-1, 1]
    reward: np.ndarray  # (N,) float32
    is_first: np.ndarray  # (N,) bool
    is_terminal: np.ndarray  # (N,) bool
    lane: np.ndarray | None = None  # (N, 2) float32 privileged lane pose; None -> NaN (unknown)
    meta: dict[str, Any] = field(default_factory=dict)  # preprocessing config, source, domain ...

    def __post_init__(self) -> None:
        n = len(self.image)
        if self.lane is None:
            self.lane = np.full((n, LANE_DIMS), np.nan, np.float32)
        for name in FIELDS:
            if len(getattr(self, name)) != n:
                raise DatasetError(f"field '{name}' has {len(getattr(self, name))} rows, expected {n} (as image)")
        if self.image.ndim != 4 or self.image.shape[-1] != 3 or self.image.dtype != np.uint8:
            raise DatasetError(f"field 'image' is {self.image.shape} {self.image.dtype}; expected (N, S, S, 3) uint8")
        if n and not self.is_first[0]:
            raise DatasetError("field 'is_first': the first row must start an episode")

    def __len__(self) -> int:
        return len(self.image)

    @property
    def episode_starts(self) -> np.ndarray:
        return np.flatnonzero(self.is_first)

    @property
    def num_episodes(self) -> int:
        return int(self.is_first.sum())

    def select(self, rows: np.ndarray) -> "SequenceData":
        return SequenceData(*(getattr(self, f)[rows] for f in FIELDS), meta=dict(self.meta))

    def take_episodes(self, episodes: np.ndarray | list[int]) -> "SequenceData":
        starts = list(self.episode_starts) + [len(self)]
        rows = np.concatenate([np.arange(starts[e], starts[e + 1]) for e in episodes]) if len(episodes) else np.arange(0)
        return self.select(rows)

    def first_transitions(self, count: int) -> "SequenceData":
        """The first `count` transitions (whole episodes up to that size, the last one cut)."""
        rows = np.arange(min(count, len(self)))
        return self.select(rows)

    def split(self, holdout_fraction: float, seed: int = 0) -> tuple["SequenceData", "SequenceData"]:
        """(train, holdout) by whole episodes drawn at random (seeded), so every kind of driving in the
        data can land on both sides; each side keeps the recorded order."""
        train, held = self.split_episodes(holdout_fraction, seed)
        return self.take_episodes(train), self.take_episodes(held)

    def split_episodes(self, holdout_fraction: float, seed: int = 0) -> tuple[list[int], list[int]]:
        """Episode indices (train, holdout) of `split`."""
        episodes = self.num_episodes
        count = max(1, int(round(episodes * holdout_fraction))) if episodes > 1 else 0
        held = set(np.random.default_rng(seed).permutation(episodes)[:count].tolist())
        return [e for e in range(episodes) if e not in held], sorted(held)

    def reward_free(self) -> "SequenceData":
        """This data as a robot records it: no reward and no termination labels."""
        return SequenceData(self.image, self.action, np.zeros_like(self.reward), self.is_first,
                            np.zeros_like(self.is_terminal), meta=dict(self.meta))  # no lane pose either

    @staticmethod
    def concatenate(parts: list["SequenceData"]) -> "SequenceData":
        return SequenceData(*(np.concatenate([getattr(p, f) for p in parts]) for f in FIELDS), meta=dict(parts[0].meta))

    def sample_starts(self, batch: int, seq_len: int, rng: np.random.Generator,
                      terminal_fraction: float = 0.0) -> np.ndarray:
        """Window starts drawn uniformly; with `terminal_fraction`, that share of the windows ends on a terminal
        row instead (drawn uniformly among them), so rare failures reach every batch."""
        if len(self) < seq_len:
            raise DatasetError(f"dataset has {len(self)} rows, fewer than a window of {seq_len}")
        starts = rng.integers(0, len(self) - seq_len + 1, size=batch)
        terminals = np.flatnonzero(self.is_terminal)
        ending = int(round(batch * terminal_fraction)) if len(terminals) else 0
        if ending:
            ends = terminals[rng.integers(0, len(terminals), size=ending)]
            starts[:ending] = np.clip(ends - seq_len + 1, 0, len(self) - seq_len)
        return starts

    def windows(self, starts: np.ndarray, seq_len: int) -> np.ndarray:
        return starts[:, None] + np.arange(seq_len)[None, :]

    def history(self, steps: int) -> np.ndarray:
        """The command history of every row (`command_history`), computed once per length."""
        cache = self.__dict__.setdefault("_history", {})
        if steps not in cache:
            cache[steps] = command_history(self.action, self.is_first, steps)
        return cache[steps]

    def batch(self, rows: np.ndarray, device: str | torch.device = "cpu", history: int = 0) -> dict[str, torch.Tensor]:
        """Tensors for the (B, T) row indices, with `history` commands per row under "history"."""
        return {
            "image": torch.from_numpy(self.image[rows]).to(device),
            "action": torch.from_numpy(self.action[rows].astype(np.float32)).to(device),
            "history": torch.from_numpy(self.history(history)[rows]).to(device),
            "reward": torch.from_numpy(self.reward[rows].astype(np.float32)).to(device),
            "is_first": torch.from_numpy(self.is_first[rows]).to(device),
            "is_terminal": torch.from_numpy(self.is_terminal[rows]).to(device),
            "lane": torch.from_numpy(self.lane[rows].astype(np.float32)).to(device),
        }

    def sample(self, batch: int, seq_len: int, rng: np.random.Generator, device: str | torch.device = "cpu",
               history: int = 0, terminal_fraction: float = 0.0) -> dict[str, torch.Tensor]:
        starts = self.sample_starts(batch, seq_len, rng, terminal_fraction)
        return self.batch(self.windows(starts, seq_len), device, history)

    def save(self, path: str | Path) -> None:
        """Write an .npz atomically (temp file, then rename), metadata as JSON inside."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, **{f: getattr(self, f) for f in FIELDS}, meta=np.array(json.dumps(self.meta)))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | Path) -> "SequenceData":
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                missing = [f for f in (*FIELDS, "meta") if f not in data and f != "lane"]
                if missing:
                    raise DatasetError(f"{path}: dataset lacks field(s) {missing}")
                arrays = {f: data[f] for f in FIELDS if f in data}  # files before `lane` lack it
                meta = json.loads(str(data["meta"]))
        except (OSError, ValueError) as err:
            if isinstance(err, DatasetError):
                raise
            raise DatasetError(f"{path}: cannot read dataset: {err}") from err
        try:
            return cls(**arrays, meta=meta)
        except DatasetError as err:
            raise DatasetError(f"{path}: {err}") from err
