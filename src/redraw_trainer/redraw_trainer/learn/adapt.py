"""Adapting the world model's dynamics to target data: `adapt(model, data, cfg, method)`.

Every method trains a dynamics function on the same loss, with the world model frozen:

    L = masked mean_t KL( sg(q(z_t | x_t)) || p'(z_t | z_{t-1}, a_{t-1}, b_{t-1}) )   (no free bits)

with posteriors computed once (`posteriors.encode_posteriors`), so a step touches no CNN. The adapted
dynamics are saved beside the base model's path and loaded back onto it (`save_adapter`, `load_adapter`).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from redraw_trainer.learn.baselines import finetune_dynamics, new_dynamics
from redraw_trainer.model.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from redraw_trainer.core.config import AdaptConfig, Config
from redraw_trainer.data.sequences import SequenceData
from redraw_trainer.core.devices import generator as seeded_generator, module_device
from redraw_trainer.model.distributions import categorical_kl
from redraw_trainer.learn.posteriors import encode_posteriors, windows_with_cache
from redraw_trainer.model.residual import RectifiedDynamics, Residual
from redraw_trainer.model.world_model import WorldModel, command_dim, dynamics_mask, masked_mean, scan_prior

METHODS = ("residual", "finetune", "new_dynamics", "none")


@dataclass
class AdaptResult:
    method: str
    dynamics: nn.Module  # drop-in for model.dynamics
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0
    best_step: int | None = None  # the step whose weights were kept (early stopping on validation episodes)

    @property
    def trainable(self) -> nn.Module | None:
        """The part adaptation trained: the residual, or the whole dynamics for the baselines."""
        if self.method == "none":
            return None
        return self.dynamics.residual if self.method == "residual" else self.dynamics


def build_dynamics(model: WorldModel, method: str, cfg: AdaptConfig) -> tuple[nn.Module, list[nn.Parameter], float]:
    """(dynamics, trainable parameters, learning rate) for an adaptation method."""
    m = model.cfg
    if method == "residual":
        residual = Residual(m.groups, m.classes, command_dim(m), cfg.residual_hidden)
        return RectifiedDynamics(model.dynamics, residual), list(residual.parameters()), cfg.lr
    if method == "finetune":
        dynamics = finetune_dynamics(model)
        return dynamics, list(dynamics.parameters()), cfg.finetune_lr
    if method == "new_dynamics":
        dynamics = new_dynamics(model)
        return dynamics, list(dynamics.parameters()), cfg.finetune_lr
    if method == "none":
        return model.dynamics, [], 0.0
    raise ValueError(f"adapt: unknown method '{method}' (expected one of {METHODS})")


def dynamics_kl_loss(
    model: WorldModel, dynamics: nn.Module, batch: dict[str, torch.Tensor]
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Masked KL(sg(posterior) || adapted prior) on a cached-posterior batch (B, T)."""
    post = batch["post"]
    commands = model.commands(batch["action"], batch.get("history"))
    prior = scan_prior(dynamics, batch["z"], commands, batch["is_first"], post[:, 0].exp(), model.cfg.unimix)
    kl = categorical_kl(post, prior)
    loss = masked_mean(kl, dynamics_mask(batch["is_first"]))
    return loss, {"adapt/kl": loss.detach()}


@torch.no_grad()
def teacher_forced_kl(model: WorldModel, dynamics: nn.Module, data: SequenceData, seq_len: int = 16, seed: int = 0,
                      cache: torch.Tensor | None = None) -> float:
    """Mean one-step KL(posterior || prior) over held-out rows, in windows of `seq_len` that overlap by one
    row so that every row after the first is predicted exactly once (episode starts excluded)."""
    length = min(seq_len, len(data))
    if length < 2:
        raise ValueError(f"teacher_forced_kl: {len(data)} rows, need at least 2")
    starts = np.arange(0, len(data) - length + 1, length - 1)
    cache = encode_posteriors(model, data) if cache is None else cache
    batch = windows_with_cache(data, cache, data.windows(starts, length), seeded_generator(seed, cache.device),
                               model.cfg.command_history)
    return float(dynamics_kl_loss(model, dynamics, batch)[0])


def adapt(
    model: WorldModel,
    data: SequenceData,
    cfg: AdaptConfig,
    method: str | None = None,
    seed: int = 0,
    progress: bool = True,
    on_log: Callable[[int, dict[str, float]], None] | None = None,
) -> AdaptResult:
    """Train `method`'s dynamics on `data` (target domain, no rewards needed); the model stays frozen."""
    method = method or cfg.method
    model.requires_grad_(False)
    model.eval()
    dynamics, params, lr = build_dynamics(model, method, cfg)
    device = module_device(model)
    dynamics.to(device)  # in place: `params` stay the ones the optimizer gets
    result = AdaptResult(method, dynamics)
    if method == "none" or cfg.steps == 0:
        return result
    start = time.perf_counter()
    data, validation = _validation_split(data, cfg.validation_fraction, seed)
    cache = encode_posteriors(model, data)
    val_cache = encode_posteriors(model, validation) if validation is not None else None
    rng = np.random.default_rng(seed)
    generator = seeded_generator(seed, device)
    optimizer = torch.optim.Adam(params, lr=lr)
    trained = result.trainable
    best = (float("inf"), 0, None)  # validation KL, step, weights
    dynamics.train()
    for step in tqdm(range(1, cfg.steps + 1), desc=f"adapt[{method}]", disable=not progress, leave=False):
        rows = data.windows(data.sample_starts(cfg.batch_size, cfg.seq_len, rng), cfg.seq_len)
        batch = windows_with_cache(data, cache, rows, generator, model.cfg.command_history)
        loss, metrics = dynamics_kl_loss(model, dynamics, batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        optimizer.step()
        if step % cfg.log_every == 0 or step == cfg.steps:
            row = {k: float(v) for k, v in metrics.items()}
            if validation is not None:
                dynamics.eval()
                row["adapt/validation_kl"] = teacher_forced_kl(model, dynamics, validation, cfg.seq_len, seed, val_cache)
                dynamics.train()
                if row["adapt/validation_kl"] < best[0]:
                    best = (row["adapt/validation_kl"], step, copy.deepcopy(trained.state_dict()))
            result.history.append({"step": step, **row})
            if on_log:
                on_log(step, row)
    if best[2] is not None:  # early stopping: the weights that predicted the validation episodes best
        trained.load_state_dict(best[2])
        result.best_step = best[1]
    dynamics.eval()
    result.seconds = time.perf_counter() - start
    return result


def _validation_split(data: SequenceData, fraction: float, seed: int) -> tuple[SequenceData, SequenceData | None]:
    """Whole episodes set aside to choose when to stop (none if there are too few episodes to spare)."""
    if fraction <= 0 or data.num_episodes < 4:
        return data, None
    fit, validation = data.split(fraction, seed=seed + 1)
    return (fit, validation) if len(validation) >= 2 else (data, None)


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
