"""A class of robots: one ReDRAW residual per robot, adapted in one batched run on one frozen base model.

    results = adapt_fleet(model, {"robot_a": data_a, "robot_b": data_b}, cfg.adapt, seed=cfg.seed)
    save_adapter(out / "robot_a" / "residual.pt", results["robot_a"], model_path, cfg)   # `load_adapter` reads it

Each robot's run follows `adapt(model, data, cfg, "residual", seed)` after `torch.manual_seed(seed)` step for step:
the same residual initialisation, validation episodes, window draws, posterior samples, Adam, gradient clipping and
early stopping, each on that robot's own data; the results agree up to float rounding (tests/test_fleet.py says how
far). Only the arithmetic is shared: the residuals' weights are stacked (`torch.func.stack_module_state`) and
`adapt.dynamics_kl_loss` is mapped over the robot axis with `torch.func.vmap` + `functional_call`, so one step is one
pass through the frozen prior for every robot's windows (the robots fold into its batch) and one batched matmul per
residual layer. vmap was chosen over hand-written grouped layers (`torch.baddbmm`) because it reuses the loss and
`Residual` unchanged; on this CPU the two ran within 5-6% of each other per step at 4 and 16 robots
(benchmarks/README.md). Robot r's loss depends only on robot r's weights and windows, Adam is elementwise and the
gradient is clipped per robot, so one robot's data cannot move another's weights (bit for bit).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap
from tqdm import tqdm

from redraw_trainer.core.config import AdaptConfig
from redraw_trainer.core.devices import generator as seeded_generator, module_device
from redraw_trainer.data.sequences import SequenceData
from redraw_trainer.learn.adapt import (AdaptResult, adapt, build_dynamics, dynamics_kl_loss, teacher_forced_kl,
                                        validation_split)
from redraw_trainer.learn.posteriors import encode_posteriors, windows_with_cache
from redraw_trainer.model.residual import RectifiedDynamics
from redraw_trainer.model.world_model import WorldModel


def seeded_residual(model: WorldModel, cfg: AdaptConfig, seed: int) -> RectifiedDynamics:
    """The rectified dynamics `adapt(model, data, cfg, "residual")` starts from after `torch.manual_seed(seed)`,
    built without touching the caller's random state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        dynamics, _, _ = build_dynamics(model, "residual", cfg)
    return dynamics.to(module_device(model))


def adapt_one_at_a_time(model: WorldModel, datasets: dict[str, SequenceData], cfg: AdaptConfig, seed: int = 0,
                        progress: bool = True) -> dict[str, AdaptResult]:
    """The unbatched reference: `adapt()` for each robot in turn, each from the same seeded start as the fleet."""
    results = {}
    for name, data in datasets.items():
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            results[name] = adapt(model, data, cfg, "residual", seed=seed, progress=progress)
    return results


@dataclass
class _Robot:
    """One robot's side of the batched run: its data, validation episodes, cached posteriors and random streams."""

    name: str
    dynamics: RectifiedDynamics  # its residual holds the robot's weights when they are read (validation, result)
    data: SequenceData
    validation: SequenceData | None
    cache: torch.Tensor
    val_cache: torch.Tensor | None
    rng: np.random.Generator
    generator: torch.Generator
    history: list[dict[str, float]] = field(default_factory=list)
    best: tuple[float, int, dict[str, torch.Tensor] | None] = (float("inf"), 0, None)  # validation KL, step, weights
    command_history: int = 0  # commands per row the model reads (model.command_history)

    @classmethod
    def start(cls, model: WorldModel, name: str, data: SequenceData, cfg: AdaptConfig, seed: int) -> "_Robot":
        fit, validation = validation_split(data, cfg.validation_fraction, seed)
        val_cache = encode_posteriors(model, validation) if validation is not None else None
        return cls(name, seeded_residual(model, cfg, seed), fit, validation, encode_posteriors(model, fit), val_cache,
                   np.random.default_rng(seed), seeded_generator(seed, module_device(model)),
                   command_history=model.cfg.command_history)

    def batch(self, cfg: AdaptConfig) -> dict[str, torch.Tensor]:
        rows = self.data.windows(self.data.sample_starts(cfg.batch_size, cfg.seq_len, self.rng), cfg.seq_len)
        return windows_with_cache(self.data, self.cache, rows, self.generator, self.command_history)


class _KLLoss(nn.Module):
    """`dynamics_kl_loss` as a module, so `functional_call` can run it with one robot's residual weights."""

    def __init__(self, model: WorldModel, dynamics: RectifiedDynamics) -> None:
        super().__init__()
        self.dynamics = dynamics
        self.model = [model]  # a plain list: the frozen model is used, not registered

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return dynamics_kl_loss(self.model[0], self.dynamics, batch)[0]


def adapt_fleet(model: WorldModel, datasets: dict[str, SequenceData], cfg: AdaptConfig, seed: int = 0,
                progress: bool = True, on_log: Callable[[str, int, dict[str, float]], None] | None = None
                ) -> dict[str, AdaptResult]:
    """One ReDRAW residual per robot (`datasets`: robot name -> its target data), trained together; the model stays
    frozen. Returns each robot's `AdaptResult`, as `adapt()` returns for one (`save_adapter` writes it)."""
    if not datasets:
        raise ValueError("adapt_fleet: no robots")
    model.requires_grad_(False)
    model.eval()
    start = time.perf_counter()
    robots = [_Robot.start(model, name, data, cfg, seed) for name, data in datasets.items()]
    if cfg.steps > 0:
        _train_together(model, robots, cfg, seed, progress, on_log)
    seconds = time.perf_counter() - start
    results = {}
    for robot in robots:
        residual = robot.dynamics.residual
        if robot.best[2] is not None:  # early stopping, per robot: its weights that predicted its validation best
            residual.load_state_dict(robot.best[2])
        robot.dynamics.eval()
        results[robot.name] = AdaptResult("residual", robot.dynamics, robot.history, seconds,
                                          robot.best[1] if robot.best[2] is not None else None)
    return results


def _train_together(model: WorldModel, robots: list[_Robot], cfg: AdaptConfig, seed: int, progress: bool,
                    on_log: Callable[[str, int, dict[str, float]], None] | None) -> None:
    residuals = [robot.dynamics.residual for robot in robots]
    stacked, _ = stack_module_state(residuals)  # name -> (R, ...) leaf tensors, each robot's start weights
    optimizer = torch.optim.Adam(list(stacked.values()), lr=cfg.lr)
    loss_module = _KLLoss(model, RectifiedDynamics(model.dynamics, copy.deepcopy(residuals[0])))  # weights swapped in

    def robot_loss(weights: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return functional_call(loss_module, {f"dynamics.residual.{k}": v for k, v in weights.items()}, (batch,))

    losses_of = vmap(robot_loss)
    loss_module.train()
    for step in tqdm(range(1, cfg.steps + 1), desc=f"adapt[fleet of {len(robots)}]", disable=not progress, leave=False):
        batches = [robot.batch(cfg) for robot in robots]
        losses = losses_of(stacked, {k: torch.stack([b[k] for b in batches]) for k in batches[0]})  # (R,)
        optimizer.zero_grad(set_to_none=True)
        losses.sum().backward()  # robot r's weights get the gradient of robot r's loss only
        clip_grad_norm_per_robot(list(stacked.values()), cfg.grad_clip)
        optimizer.step()
        if step % cfg.log_every == 0 or step == cfg.steps:
            for r, (robot, kl) in enumerate(zip(robots, losses.detach().tolist())):
                _log(model, robot, {k: v[r] for k, v in stacked.items()}, kl, step, cfg, seed, on_log)


def _log(model: WorldModel, robot: _Robot, weights: dict[str, torch.Tensor], kl: float, step: int, cfg: AdaptConfig,
         seed: int, on_log: Callable[[str, int, dict[str, float]], None] | None) -> None:
    """`adapt()`'s log row for one robot: its training KL and, with validation episodes, their KL and the best step."""
    residual = robot.dynamics.residual
    with torch.no_grad():
        for name, value in residual.named_parameters():
            value.copy_(weights[name])
    row = {"adapt/kl": kl}
    if robot.validation is not None:
        robot.dynamics.eval()
        row["adapt/validation_kl"] = teacher_forced_kl(model, robot.dynamics, robot.validation, cfg.seq_len, seed,
                                                       robot.val_cache)
        if row["adapt/validation_kl"] < robot.best[0]:
            robot.best = (row["adapt/validation_kl"], step, copy.deepcopy(residual.state_dict()))
    robot.history.append({"step": step, **row})
    if on_log:
        on_log(robot.name, step, row)


def clip_grad_norm_per_robot(stacked: list[torch.Tensor], max_norm: float) -> torch.Tensor:
    """`nn.utils.clip_grad_norm_` applied to each robot's slice (axis 0) of the stacked parameters on its own;
    returns the per-robot norms before clipping (R,)."""
    grads = [p.grad for p in stacked if p.grad is not None]
    per_tensor = torch.stack([torch.linalg.vector_norm(g.flatten(1), dim=1) for g in grads], 1)  # (R, tensors)
    norms = torch.linalg.vector_norm(per_tensor, dim=1)
    coef = (max_norm / (norms + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(coef.reshape(-1, *[1] * (g.dim() - 1)))
    return norms
