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
from redraw_perception import PreprocessConfig

import redraw_trainer
from redraw_trainer.core.config import Config
from redraw_trainer.model.world_model import WorldModel

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


# World-model files: weights, config, step, and the fields that make them self-describing.

def save_world_model(path: str | Path, model: WorldModel, cfg: Config, step: int, extra: dict[str, Any] | None = None,
                     optimizer: torch.optim.Optimizer | None = None, rng: Any = None) -> Path:
    payload: dict[str, Any] = {"config": cfg.to_dict(), "step": step, "model": model.state_dict(), **(extra or {})}
    if optimizer is not None:
        payload["optimizer"] = optimizer.state_dict()
    if rng is not None:
        payload["rng"] = rng_state(rng)
    return save_checkpoint(path, "world_model", payload)


def own_fields(ckpt: dict[str, Any]) -> dict[str, Any]:
    """A world-model checkpoint's own fields (preprocessing, data summaries, reward ...): what `extra` carried."""
    written = ("model", "config", "step", "optimizer", "rng", "format", "format_version", "kind", "versions")
    return {k: v for k, v in ckpt.items() if k not in written}


def checkpoint_preprocess(ckpt: dict[str, Any] | None, source: str = "world model") -> PreprocessConfig:
    """The preprocessing a world model was trained on, which every frame it sees must go through; the default
    for checkpoints written before it was stored."""
    if ckpt and ckpt.get("preprocess"):
        return PreprocessConfig.from_dict(ckpt["preprocess"], source=source)
    return PreprocessConfig()


def load_world_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[WorldModel, Config, dict[str, Any]]:
    """(model in eval mode on `device`, its config, the raw checkpoint dict)."""
    data = load_checkpoint(path, "world_model", required=("config", "model", "step"))
    cfg = Config.from_dict(data["config"], source=str(path))
    model = WorldModel(cfg.model)
    model.load_state_dict(data["model"])
    model.to(device).eval()
    return model, cfg, data


def action_scale(cfg: Config) -> tuple[float, float]:
    """m/s and rad/s of a normalised (forward, turn) action of 1: what the model's actions mean, as it learned them
    in its simulator (models written before the `sim` section took the simulator's defaults, the same values)."""
    return cfg.sim.v_max, cfg.sim.omega_max


def model_contract(path: str | Path) -> tuple[PreprocessConfig, tuple[float, float]]:
    """(preprocessing, action scale) of a world-model file, read without building the model."""
    data = load_checkpoint(path, "world_model", required=("config",))
    return checkpoint_preprocess(data, source=str(path)), action_scale(Config.from_dict(data["config"], source=str(path)))
