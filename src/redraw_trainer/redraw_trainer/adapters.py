"""Saving and loading adapted dynamics (a residual, or a finetuned / new prior) next to their base model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from redraw_trainer.adapt import AdaptResult, build_dynamics
from redraw_trainer.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from redraw_trainer.config import Config
from redraw_trainer.devices import module_device
from redraw_trainer.world_model import WorldModel


def save_adapter(path: str | Path, result: AdaptResult, base_model: str | Path, cfg: Config) -> Path:
    trainable = result.trainable
    return save_checkpoint(path, "adapter", {
        "method": result.method, "base_model": str(base_model), "config": cfg.to_dict(),
        "weights": trainable.state_dict() if trainable is not None else {}, "history": result.history,
    })


def load_adapter(path: str | Path, model: WorldModel) -> tuple[nn.Module, dict[str, Any]]:
    """The adapted dynamics for `model` (which must be the adapter's base model)."""
    data = load_checkpoint(path, "adapter", required=("method", "weights", "config"))
    cfg = Config.from_dict(data["config"], source=str(path))
    if (cfg.model.groups, cfg.model.classes) != (model.cfg.groups, model.cfg.classes):
        raise CheckpointError(f"{path}: field 'config.model' latent {cfg.model.groups}x{cfg.model.classes} does not "
                              f"match the world model's {model.cfg.groups}x{model.cfg.classes}")
    dynamics, _, _ = build_dynamics(model, data["method"], cfg.adapt)
    target = dynamics.residual if data["method"] == "residual" else dynamics
    if data["method"] != "none":
        target.load_state_dict(data["weights"])
    dynamics.to(module_device(model)).eval()
    return dynamics, data
