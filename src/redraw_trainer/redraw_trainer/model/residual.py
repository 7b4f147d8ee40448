"""ReDRAW: a small residual network that corrects the frozen prior's logits from target data.

    prior_logits'(z_{t-1}, c_t, b_{t-1}) = prior_logits(z_{t-1}, c_t, b_{t-1}) + delta(z_{t-1}, c_t)

delta is one hidden layer (LayerNorm, SiLU), zero-initialised at its output so adaptation starts from
the unadapted model. Only delta is trained; the world model stays bit-identical. c_t are the commands the
prior reads (the last k sent, `world_model.command_dim`), so a residual can express a latency the simulator
did not have.
"""

from __future__ import annotations

import torch
from torch import nn

from redraw_trainer.model.nets import mlp


class Residual(nn.Module):
    """delta(z_{t-1} one-hot (B, G, K), c_t (B, C)) -> logit offsets (B, G, K)."""

    def __init__(self, groups: int, classes: int, command_dim: int, hidden: int) -> None:
        super().__init__()
        self.groups, self.classes = groups, classes
        self.net = mlp(groups * classes + command_dim, hidden, 1, groups * classes)
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, z_prev: torch.Tensor, commands: torch.Tensor) -> torch.Tensor:
        batch = z_prev.shape[0]
        x = torch.cat([z_prev.reshape(batch, -1), commands], -1)
        return self.net(x).reshape(batch, self.groups, self.classes)


class RectifiedDynamics(nn.Module):
    """The frozen prior plus the residual: a drop-in replacement for `PriorDynamics`."""

    def __init__(self, base: nn.Module, residual: Residual) -> None:
        super().__init__()
        self.base = base
        self.residual = residual

    def forward(self, z_prev: torch.Tensor, commands: torch.Tensor, belief_prev: torch.Tensor) -> torch.Tensor:
        return self.base(z_prev, commands, belief_prev) + self.residual(z_prev, commands)

    def initial_logits(self, batch: int) -> torch.Tensor:
        return self.base.initial_logits(batch)
