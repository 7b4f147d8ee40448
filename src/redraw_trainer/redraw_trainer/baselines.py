"""Baseline ways to adapt dynamics to the target domain, beside the ReDRAW residual.

- finetune: the pretrained prior dynamics, trained further on target data (encoder and heads frozen);
- new_dynamics: a fresh dynamics function of the same inputs, trained only on target data;
- none: the simulator's dynamics as they are (zero-shot).
"""

from __future__ import annotations

import copy

from torch import nn

from redraw_trainer.world_model import PriorDynamics, WorldModel


def finetune_dynamics(model: WorldModel) -> nn.Module:
    """A trainable copy of the pretrained prior (the model itself stays untouched)."""
    dynamics = copy.deepcopy(model.dynamics)
    dynamics.requires_grad_(True)
    return dynamics


def new_dynamics(model: WorldModel) -> nn.Module:
    """A freshly initialised prior of the same architecture."""
    return PriorDynamics(model.cfg)
