"""The actor network: latent z -> a Normal over the two actions (forward, turn) in [-1, 1].

Trained in imagination by `learn/imagination.py`; the exported ONNX policy runs its deterministic `act`.
"""

from __future__ import annotations

import torch
from torch import nn

from redraw_trainer.core.config import PolicyConfig
from redraw_trainer.model.nets import mlp


class Actor(nn.Module):
    """z (B, G*K) -> Normal over actions with tanh-squashed mean; the deterministic action is the mean."""

    def __init__(self, latent: int, action_dim: int, cfg: PolicyConfig) -> None:
        super().__init__()
        self.net = mlp(latent, cfg.hidden, cfg.layers, 2 * action_dim)
        with torch.no_grad():  # DreamerV3's output scale: start near mean 0, std 0.89 of max
            self.net[-1].weight.mul_(cfg.actor_outscale)
            self.net[-1].bias.mul_(cfg.actor_outscale)
        self.min_std, self.max_std = cfg.min_std, cfg.max_std
        self.action_dim = action_dim

    def forward(self, z_flat: torch.Tensor) -> torch.distributions.Normal:
        out = self.net(z_flat)
        mean = torch.tanh(out[..., : self.action_dim])
        std = self.min_std + (self.max_std - self.min_std) * torch.sigmoid(out[..., self.action_dim :] + 2.0)
        return torch.distributions.Normal(mean, std)

    def act(self, z_flat: torch.Tensor) -> torch.Tensor:
        """Deterministic action in [-1, 1] (what the exported policy runs)."""
        return torch.tanh(self.net(z_flat)[..., : self.action_dim])
