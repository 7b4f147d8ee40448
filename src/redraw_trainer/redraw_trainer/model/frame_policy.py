"""A trained policy as one self-contained file (world model + actor + configs) and as a callable that acts
from camera frames (encoder -> posterior -> actor). The world model has no recurrence: one frame and the
commands this policy sent last (its command history, as the robot's runtime keeps it) are enough.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from redraw_trainer.core.config import Config, PolicyConfig
from redraw_trainer.core.devices import generator as seeded_generator, module_device
from redraw_trainer.model.actor import Actor
from redraw_trainer.model.checkpoint import load_checkpoint, save_checkpoint
from redraw_trainer.model.distributions import mode_one_hot, sample_one_hot
from redraw_trainer.model.world_model import WorldModel
from redraw_policy.history import CommandHistory


class FramePolicy:
    """Callable (obs (S, S, 3) uint8, info) -> action (2,) float32 in [-1, 1]."""

    def __init__(self, model: WorldModel, actor: Actor, stochastic: bool = False, seed: int = 0) -> None:
        self.model, self.actor, self.stochastic = model, actor, stochastic
        self.device = module_device(model)
        self.generator = seeded_generator(seed, self.device)
        self.sent = CommandHistory(model.cfg.command_history, model.cfg.action_dim)

    def reset(self) -> None:
        """A new episode: nothing has been sent yet."""
        self.sent.reset()

    @torch.no_grad()
    def __call__(self, obs: np.ndarray, info: dict[str, Any] | None = None) -> np.ndarray:
        image = torch.from_numpy(np.ascontiguousarray(obs))[None].to(self.device)
        post = self.model.posterior(image, torch.from_numpy(self.sent.before_next())[None].to(self.device))
        if self.stochastic:
            dist = self.actor(sample_one_hot(post, self.generator).flatten(-2))
            noise = torch.randn(dist.mean.shape, generator=self.generator, device=self.device)
            action = dist.mean + dist.stddev * noise
        else:
            action = self.actor.act(mode_one_hot(post).flatten(-2))
        action = action[0].clamp(-1.0, 1.0).cpu().numpy().astype(np.float32)
        self.sent.push(action)
        return action


def save_policy(path: str | Path, model: WorldModel, cfg: Config, actor: Actor, ac_cfg: PolicyConfig,
                dynamics_state: dict[str, Any] | None = None, extra: dict[str, Any] | None = None) -> Path:
    """A policy checkpoint is self-contained: world model weights, actor, configs, preprocessing."""
    from dataclasses import asdict

    return save_checkpoint(path, "policy", {
        "config": cfg.to_dict(), "model": model.state_dict(), "actor": actor.state_dict(),
        "actor_config": asdict(ac_cfg), **(extra or {}),
    })


def policy_config(saved: dict[str, Any]) -> PolicyConfig:
    """The PolicyConfig a policy checkpoint was trained with (keys it does not know are older names: dropped)."""
    from dataclasses import fields

    known = {f.name for f in fields(PolicyConfig)}
    return PolicyConfig(**{k: v for k, v in saved.items() if k in known})


def load_policy(path: str | Path, stochastic: bool = False, seed: int = 0) -> tuple[FramePolicy, dict[str, Any]]:
    data = load_checkpoint(path, "policy", required=("config", "model", "actor", "actor_config"))
    cfg = Config.from_dict(data["config"], source=str(path))
    model = WorldModel(cfg.model)
    model.load_state_dict(data["model"])
    model.eval()
    actor = Actor(cfg.model.groups * cfg.model.classes, cfg.model.action_dim, policy_config(data["actor_config"]))
    actor.load_state_dict(data["actor"])
    actor.eval()
    return FramePolicy(model, actor, stochastic, seed), data
