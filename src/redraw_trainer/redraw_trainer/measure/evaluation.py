"""Evaluation of dynamics on held-out target data, without any reward.

(The teacher-forced one-step KL, the adaptation loss on held-out rows, is `adapt.teacher_forced_kl`.)

From windows of real frames: burn the prior in for `context` steps on posterior samples, then roll it
forward `horizon` steps on its own samples with the recorded actions. At each horizon h report
KL(posterior || rolled-out prior) and latent accuracy (share of categoricals whose most likely class
agrees). Lower KL / higher accuracy = dynamics closer to the target domain.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from redraw_trainer.data.sequences import SequenceData
from redraw_trainer.core.devices import generator as seeded_generator
from redraw_trainer.core.devices import module_device
from redraw_trainer.model.distributions import categorical_kl, mode_one_hot, sample_one_hot, straight_through_sample
from redraw_trainer.learn.posteriors import encode_posteriors
from redraw_trainer.model.world_model import WorldModel, scan_prior


@torch.no_grad()
def mode_rollout(model: WorldModel, dynamics: nn.Module, start_post: torch.Tensor, commands: torch.Tensor) -> torch.Tensor:
    """Open-loop rollout on the most likely latents: from start posteriors (B, G, K) under the recorded commands
    c (T, B, C) -> the imagined latents (T, B, G, K), one-hot. Deterministic, for pictures and reward checks."""
    z, belief, out = mode_one_hot(start_post), start_post.exp(), []
    for command in commands:
        prior = model.prior_step(dynamics, z, command, belief)
        z, belief = mode_one_hot(prior), prior.exp()
        out.append(z)
    return torch.stack(out)


def clean_window_starts(data: SequenceData, length: int) -> np.ndarray:
    """Starts of windows of `length` rows that do not cross into a new episode."""
    if len(data) < length:
        return np.arange(0)
    firsts = np.concatenate([[0], np.cumsum(data.is_first.astype(np.int64))])
    starts = np.arange(len(data) - length + 1)
    # episode starts strictly inside (start, start + length)
    inside = firsts[starts + length] - firsts[starts + 1]
    return starts[inside == 0]


@torch.no_grad()
def open_loop(
    model: WorldModel,
    dynamics: nn.Module,
    data: SequenceData,
    context: int,
    horizon: int,
    max_windows: int = 512,
    seed: int = 0,
    cache: torch.Tensor | None = None,
) -> dict[str, np.ndarray]:
    """Per-horizon mean KL and latent accuracy, arrays of shape (horizon,)."""
    length = context + horizon
    starts = clean_window_starts(data, length)
    if len(starts) == 0:
        raise ValueError(f"open_loop: no window of {length} steps inside one episode in {len(data)} rows")
    rng = np.random.default_rng(seed)
    if len(starts) > max_windows:
        starts = np.sort(rng.choice(starts, max_windows, replace=False))
    cache = encode_posteriors(model, data) if cache is None else cache
    device = cache.device
    rows = torch.from_numpy(data.windows(starts, length))
    post = cache[rows.to(device)]  # (W, L, G, K)
    commands = torch.from_numpy(data.commands(model.cfg.command_history))[rows].to(device)  # c_t per row
    is_first = torch.from_numpy(data.is_first)[rows].to(device)
    generator = seeded_generator(seed, device)
    z_context = sample_one_hot(post[:, :context], generator)
    prior = scan_prior(dynamics, z_context, commands[:, :context], is_first[:, :context], post[:, 0].exp(), model.cfg.unimix)
    belief = prior[:, -1].exp() if context > 1 else post[:, 0].exp()
    z_prev = z_context[:, -1]
    kls, accs = [], []
    for h in range(horizon):
        t = context + h
        log_probs = model.prior_step(dynamics, z_prev, commands[:, t], belief)
        kls.append(categorical_kl(post[:, t], log_probs).mean().item())
        accs.append((log_probs.argmax(-1) == post[:, t].argmax(-1)).float().mean().item())
        belief = log_probs.exp()
        z_prev = straight_through_sample(log_probs, generator)
    return {"kl": np.array(kls), "accuracy": np.array(accs)}


def imagined_strip(model, dynamics_by_name: dict[str, Any], holdout: SequenceData, steps: int = 8) -> dict[str, np.ndarray]:
    """Real target frames beside frames decoded from open-loop rollouts of each model's dynamics."""
    starts = clean_window_starts(holdout, steps + 2)
    start = int(starts[len(starts) // 2])
    rows = np.arange(start, start + steps + 1)
    real = holdout.image[rows]
    out = {"real (target)": real[1:]}
    with torch.no_grad():
        device = module_device(model)
        history = torch.from_numpy(holdout.history(model.cfg.command_history)[rows]).to(device)
        post = model.posterior(torch.from_numpy(real[:1]).to(device), history[:1])
        actions = model.commands(torch.from_numpy(holdout.action[rows]).to(device), history)[1:, None]  # (T, 1, C)
        for name, dynamics in dynamics_by_name.items():
            out[f"imagined: {name}"] = model.decode(mode_rollout(model, dynamics, post, actions))[:, 0].cpu().numpy()
    return out


def evaluate_expert(gap: str, episodes: int, episode_steps: int, seed: int) -> dict[str, Any]:
    """The privileged lane PD (`envs.behaviour.expert_policy`) in the target, from the same starts as
    `envs.rollout.evaluate_onnx` gives every exported policy: a reference no camera policy can reach."""
    from redraw_trainer.envs.behaviour import expert_policy
    from redraw_trainer.envs.factory import make_env
    from redraw_trainer.envs.reality_gap import RealityGap
    from redraw_trainer.envs.rollout import run_episodes

    parsed = RealityGap.parse(gap)
    env = make_env("duckietown", parsed, seed=10_000 + seed)
    stats = run_episodes(env, expert_policy(parsed), episodes, seed=50_000 + seed, max_steps=episode_steps)
    env.close()
    return stats.to_dict()
