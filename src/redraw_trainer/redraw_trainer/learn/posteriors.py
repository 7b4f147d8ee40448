"""Posterior caching: the encoder is frozen during adaptation, so target frames are encoded once."""

from __future__ import annotations

import numpy as np
import torch

from redraw_trainer.data.sequences import SequenceData
from redraw_trainer.core.devices import module_device
from redraw_trainer.model.distributions import sample_one_hot
from redraw_trainer.model.world_model import WorldModel


@torch.no_grad()
def encode_posteriors(model: WorldModel, data: SequenceData, batch: int = 256) -> torch.Tensor:
    """Posterior log-probs of every frame (with its command history): (N, G, K) float32, on the model's device."""
    device = module_device(model)
    history = data.history(model.cfg.command_history)
    out = []
    for start in range(0, len(data), batch):
        rows = slice(start, start + batch)
        out.append(model.posterior(torch.from_numpy(data.image[rows]).to(device),
                                   torch.from_numpy(history[rows]).to(device)))
    if not out:
        return torch.zeros(0, model.cfg.groups, model.cfg.classes, device=device)
    return torch.cat(out)


def windows_with_cache(
    data: SequenceData, cache: torch.Tensor, rows: np.ndarray, generator: torch.Generator | None = None,
    history: int = 0,
) -> dict[str, torch.Tensor]:
    """A (B, T) batch of posterior log-probs, posterior samples, actions, `history` commands per row and episode
    starts (on the cache's device)."""
    device = cache.device
    post = cache[torch.from_numpy(rows).to(device)]
    return {
        "post": post,
        "z": sample_one_hot(post, generator),
        "action": torch.from_numpy(data.action[rows].astype(np.float32)).to(device),
        "history": torch.from_numpy(data.history(history)[rows]).to(device),
        "is_first": torch.from_numpy(data.is_first[rows]).to(device),
    }


def imagination_starts(model: WorldModel, data: SequenceData) -> tuple[torch.Tensor, torch.Tensor]:
    """Start states for imagination: every frame's posterior (N, G, K) and its commands c_t (N, C)."""
    post = encode_posteriors(model, data)
    return post, torch.from_numpy(data.commands(model.cfg.command_history)).to(post.device)
