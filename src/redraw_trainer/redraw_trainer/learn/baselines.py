"""Baseline ways to adapt dynamics to the target domain, beside the ReDRAW residual.

- finetune: the pretrained prior dynamics, trained further on target data (encoder and heads frozen);
- new_dynamics: a fresh dynamics function of the same inputs, trained only on target data;
- none: the simulator's dynamics as they are (zero-shot);
- oracle: not an adaptation but the ceiling, a whole world model trained further on target data with reward.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import torch
from torch import nn

from redraw_trainer.core.config import Config
from redraw_trainer.data.sequences import SequenceData
from redraw_trainer.model.checkpoint import load_world_model, save_world_model
from redraw_trainer.model.world_model import PriorDynamics, WorldModel


def finetune_dynamics(model: WorldModel) -> nn.Module:
    """A trainable copy of the pretrained prior (the model itself stays untouched)."""
    dynamics = copy.deepcopy(model.dynamics)
    dynamics.requires_grad_(True)
    return dynamics


def new_dynamics(model: WorldModel) -> nn.Module:
    """A freshly initialised prior of the same architecture."""
    return PriorDynamics(model.cfg)


def oracle_model(model_path: str, data: SequenceData, cfg: Config, steps: int, run_dir: Path, progress: bool):
    """The ceiling: the source model trained further (all weights) on the target transitions *with* their
    reward labels, which the other methods never see."""
    from redraw_trainer.learn.train import train_world_model

    model, _, ckpt = load_world_model(model_path)
    oracle_dir = run_dir / "oracle_world_model"
    if not (oracle_dir / "world_model.pt").exists():
        oracle_dir.mkdir(parents=True, exist_ok=True)
        save_world_model(oracle_dir / "world_model.pt", model.float(), cfg, 0, {"preprocess": ckpt.get("preprocess")},
                         torch.optim.Adam(model.parameters(), lr=cfg.model.lr), np.random.default_rng(cfg.seed))
    cfg = copy.deepcopy(cfg)
    cfg.train.steps = steps
    cfg.train.checkpoint_every = max(steps // 4, 1)
    trained, _ = train_world_model(data, cfg, oracle_dir, progress=progress)
    return trained
