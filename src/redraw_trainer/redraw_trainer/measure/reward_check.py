"""Does the world model's reward tell driving from standing still from leaving the road?

A policy trained in imagination can only learn what the imagined reward separates. This drives fresh
labelled episodes in the simulator (source, or a target gap) with three fixed behaviours — drive
along the lane, stand still, turn off the road — and compares, per behaviour, the true return with
what the model predicts two ways:

- *posterior*: the reward head on each real frame's latent (and the command into it);
- *imagined*: the reward head along an open-loop rollout of the model's (or adapted) dynamics from the
  first frame under the recorded commands, weighted by the predicted continue probability — what the
  actor-critic sees.

It also prints the per-step correlation of predicted and true reward over all episodes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from redraw_trainer.model.distributions import mode_one_hot
from redraw_trainer.measure.evaluation import mode_rollout
from redraw_trainer.data.sequences import command_history
from redraw_trainer.model.world_model import WorldModel

SCENARIOS = ("drive", "stand", "leave")


@dataclass
class Episode:
    image: np.ndarray  # (T+1, S, S, 3): the first frame, then one per step
    action: np.ndarray  # (T, A): the command into frame t+1
    reward: np.ndarray  # (T,)


def scenario_policy(name: str, gap: Any, rng: np.random.Generator):
    """drive: the lane PD at 0.6 of full speed, reversed steering undone; stand: zero; leave: a hard turn."""
    from redraw_trainer.envs.behaviour import operator_policy

    if name == "drive":
        return operator_policy(rng, steering_reversed=bool(getattr(gap, "steering_reversed", False)), noise=0.0,
                               swerve=0.0, slow=0.6, fast=0.6)
    if name == "stand":
        return lambda obs, info: np.zeros(2, np.float32)
    if name == "leave":
        return lambda obs, info: np.array([0.8, 0.6], np.float32)
    raise ValueError(f"scenario '{name}': expected one of {SCENARIOS}")


def drive_scenarios(gap_spec: str, episodes: int, steps: int, seed: int, image_size: int,
                    observation: str = "rgb") -> dict[str, list[Episode]]:
    """`episodes` labelled episodes of at most `steps` steps per scenario, same starts for every scenario."""
    from redraw_trainer.envs.factory import make_env
    from redraw_trainer.envs.reality_gap import RealityGap

    gap = RealityGap.parse(gap_spec)
    env = make_env("duckietown", gap, seed=seed, image_size=image_size, observation=observation)
    out: dict[str, list[Episode]] = {}
    for name in SCENARIOS:
        policy = scenario_policy(name, gap, np.random.default_rng(seed))
        out[name] = []
        for episode in range(episodes):
            obs, info = env.reset(seed=seed + episode)
            images, actions, rewards = [obs], [], []
            for _ in range(steps):
                action = np.asarray(policy(obs, info), np.float32)
                obs, reward, terminated, truncated, info = env.step(action)
                images.append(obs), actions.append(action), rewards.append(reward)
                if terminated or truncated:
                    break
            out[name].append(Episode(np.stack(images), np.stack(actions), np.array(rewards, np.float32)))
    env.close()
    return out


@torch.no_grad()
def predicted_returns(model: WorldModel, dynamics: nn.Module, episode: Episode) -> tuple[np.ndarray, float]:
    """(per-step reward from the posterior of each real frame, imagined return of the open-loop rollout)."""
    device = next(model.parameters()).device
    into = np.concatenate([np.zeros_like(episode.action[:1]), episode.action])  # the command into each frame
    first = np.arange(len(into)) == 0
    history = torch.from_numpy(command_history(into, first, model.cfg.command_history)).to(device)
    post = model.posterior(torch.from_numpy(episode.image).to(device), history)  # (T+1, G, K)
    commands = model.commands(torch.from_numpy(into).to(device), history)[1:]  # c_t of frames 1..T
    per_step = model.reward(mode_one_hot(post[1:]), commands).cpu().numpy()
    z = mode_rollout(model, dynamics, post[:1], commands[:, None])[:, 0]  # (T, G, K)
    cont = model.cont(z)
    alive = torch.cumprod(torch.cat([torch.ones_like(cont[:1]), cont[:-1]]), 0)  # still running before step t
    return per_step, float((alive * model.reward(z, commands)).sum())


@dataclass
class ScenarioFigures:
    true_return: float
    posterior_return: float
    imagined_return: float
    steps: float


def reward_check(model: WorldModel, dynamics: nn.Module, gap: str = "none", episodes: int = 5, steps: int = 30,
                 seed: int = 0) -> dict[str, Any]:
    """Drive the scenarios in the simulator with `gap`, then score the model on them (`score_scenarios`)."""
    runs = drive_scenarios(gap, episodes, steps, seed, model.cfg.image_size, model.cfg.observation)
    return {"gap": gap, "episodes": episodes, "steps": steps, "seed": seed, **score_scenarios(model, dynamics, runs)}


def score_scenarios(model: WorldModel, dynamics: nn.Module, runs: dict[str, list[Episode]]) -> dict[str, Any]:
    """Figures per scenario (means over episodes) and the per-step correlation of predicted and true reward."""
    figures, predicted, true = {}, [], []
    for name, eps in runs.items():
        rows = []
        for episode in eps:
            per_step, imagined = predicted_returns(model, dynamics, episode)
            predicted.append(per_step), true.append(episode.reward)
            rows.append((episode.reward.sum(), per_step.sum(), imagined, len(episode.reward)))
        figures[name] = asdict(ScenarioFigures(*map(float, np.mean(rows, 0))))
    predicted_all, true_all = np.concatenate(predicted), np.concatenate(true)
    corr = float(np.corrcoef(predicted_all, true_all)[0, 1]) if true_all.std() > 0 else float("nan")
    return {"scenarios": figures, "step_correlation": corr,
            "step_abs_error": float(np.abs(predicted_all - true_all).mean())}


def format_reward_check(result: dict[str, Any]) -> str:
    lines = [f"reward check on gap '{result['gap']}': {result['episodes']} fresh episodes of at most "
             f"{result['steps']} steps per behaviour (seed {result['seed']})",
             "| behaviour | steps | true return | predicted from real frames | imagined (open loop) |",
             "|---|---|---|---|---|"]
    for name, f in result["scenarios"].items():
        lines.append(f"| {name} | {f['steps']:.1f} | {f['true_return']:.2f} | {f['posterior_return']:.2f} | "
                     f"{f['imagined_return']:.2f} |")
    lines.append(f"per-step correlation of predicted and true reward: {result['step_correlation']:.3f} "
                 f"(mean |error| {result['step_abs_error']:.3f})")
    return "\n".join(lines)
