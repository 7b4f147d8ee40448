"""Plan2Explore: an ensemble predicts the next frame's embedding; where its members disagree, the
model is uncertain, and an explorer actor-critic trained in imagination is rewarded for going there."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from redraw_trainer.data.sequences import SequenceData
from redraw_trainer.core.devices import module_device
from redraw_trainer.model.nets import mlp
from redraw_trainer.model.distributions import sample_one_hot
from redraw_trainer.model.world_model import WorldModel, dynamics_mask, masked_mean


class Disagreement(nn.Module):
    """`members` MLPs (z_{t-1}, a_{t-1}) -> embedding of frame t; intrinsic reward = their variance."""

    def __init__(self, latent: int, action_dim: int, embed_dim: int, members: int = 5, hidden: int = 256) -> None:
        super().__init__()
        self.heads = nn.ModuleList(mlp(latent + action_dim, hidden, 2, embed_dim) for _ in range(members))

    def predict(self, z_prev: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        x = torch.cat([z_prev.flatten(-2), action], -1)
        return torch.stack([head(x) for head in self.heads])  # (M, ..., E)

    def intrinsic_reward(self, z_prev: torch.Tensor, action: torch.Tensor, z_next: torch.Tensor | None = None) -> torch.Tensor:
        return self.predict(z_prev, action).var(0).mean(-1)

    def loss(self, z_prev: torch.Tensor, action: torch.Tensor, embed: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        error = ((self.predict(z_prev, action) - embed.unsqueeze(0)) ** 2).mean(-1).mean(0)
        return masked_mean(error, mask)


def train_disagreement(model: WorldModel, ensemble: Disagreement, data: SequenceData, updates: int,
                       batch: int = 16, seq_len: int = 16, lr: float = 3e-4, seed: int = 0) -> list[float]:
    """Fit the ensemble on (posterior sample of t-1, action into t) -> encoder embedding of t."""
    rng = np.random.default_rng(seed)
    device = module_device(model)
    ensemble.to(device)
    optimizer = torch.optim.Adam(ensemble.parameters(), lr=lr)
    losses = []
    for _ in range(updates):
        b = data.sample(batch, seq_len, rng, device, model.cfg.command_history)
        with torch.no_grad():
            embed = model.embed(b["image"])
            raw = model.posterior_head(model.posterior_input(embed, b["history"]))
            raw = raw.reshape(*embed.shape[:-1], model.cfg.groups, model.cfg.classes)
            z = sample_one_hot(torch.log_softmax(raw, -1))
        mask = dynamics_mask(b["is_first"])[:, 1:]
        commands = model.commands(b["action"], b["history"])
        loss = ensemble.loss(z[:, :-1], commands[:, 1:], embed[:, 1:], mask)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses
