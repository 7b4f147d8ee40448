"""Self-describing checkpoints: one file with weights, config, preprocessing and versions.

Writes are atomic (temporary file, then rename), so a kill mid-write leaves the previous checkpoint.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

import numpy as np
import torch

import redraw_trainer

FORMAT = "redraw-checkpoint"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint file is missing, unreadable, or not the kind expected (names the file and field)."""


def versions() -> dict[str, str]:
    return {
        "redraw_trainer": redraw_trainer.__version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def _on_cpu(value: Any) -> Any:
    """Tensors anywhere in nested dicts/lists moved to the CPU (a file written on a GPU loads anywhere)."""
    if isinstance(value, torch.Tensor):
        return value.cpu()
    if isinstance(value, dict):
        return {k: _on_cpu(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_on_cpu(v) for v in value)
    return value


def save_checkpoint(path: str | Path, kind: str, payload: dict[str, Any]) -> Path:
    """Atomically write `payload` (state dicts, config dicts, step ...) tagged with kind and versions.

    Every tensor is written as a CPU tensor; loading maps to the CPU and callers place the model.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"format": FORMAT, "format_version": FORMAT_VERSION, "kind": kind, "versions": versions(), **_on_cpu(payload)}
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(data, tmp)
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    return path


def load_checkpoint(path: str | Path, kind: str, required: tuple[str, ...] = ()) -> dict[str, Any]:
    """Load and check a checkpoint of `kind`; raise CheckpointError naming the file and the field."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        data = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # torch raises many types for a damaged file
        raise CheckpointError(f"{path}: cannot read checkpoint ({type(err).__name__}: {err})") from err
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path}: field 'format' is not '{FORMAT}'; not a redraw checkpoint")
    if data.get("kind") != kind:
        raise CheckpointError(f"{path}: field 'kind' is '{data.get('kind')}', expected '{kind}'")
    for name in required:
        if name not in data:
            raise CheckpointError(f"{path}: checkpoint lacks field '{name}'")
    return data


def rng_state(rng: np.random.Generator) -> dict[str, Any]:
    return {"numpy": rng.bit_generator.state, "torch": torch.get_rng_state()}


def restore_rng(state: dict[str, Any], rng: np.random.Generator) -> None:
    rng.bit_generator.state = state["numpy"]
    torch.set_rng_state(state["torch"])
