"""Drive a Gymnasium environment with a behaviour policy and record SequenceData."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from tqdm import tqdm

from redraw_trainer.data.sequences import SequenceData
from redraw_trainer.envs.rollout import Policy, reset_policy


def collect(env: gym.Env, policy: Policy, transitions: int, seed: int = 0, progress: bool = False,
            meta: dict[str, Any] | None = None) -> SequenceData:
    """Run `policy` for `transitions` environment steps; rows follow the SequenceData convention, with the
    simulator's lane pose where the environment reports one (`info["lane"]`)."""
    images, actions, rewards, firsts, terminals, lanes = [], [], [], [], [], []
    zero = np.zeros(env.action_space.shape, np.float32)
    obs, info = env.reset(seed=seed)
    reset_policy(policy)
    images.append(obs), actions.append(zero), rewards.append(0.0), firsts.append(True), terminals.append(False)
    lanes.append(lane_pose(info))
    steps = 0
    with tqdm(total=transitions, desc="collect", disable=not progress, leave=False) as bar:
        while steps < transitions:
            action = np.asarray(policy(obs, info), dtype=np.float32)
            obs, reward, terminated, truncated, info = env.step(action)
            steps += 1
            bar.update(1)
            images.append(obs), actions.append(action), rewards.append(reward)
            firsts.append(False), terminals.append(terminated), lanes.append(lane_pose(info))
            if (terminated or truncated) and steps < transitions:
                obs, info = env.reset()
                reset_policy(policy)
                images.append(obs), actions.append(zero), rewards.append(0.0), firsts.append(True), terminals.append(False)
                lanes.append(lane_pose(info))
    return SequenceData(
        image=np.stack(images),
        action=np.stack(actions).astype(np.float32),
        reward=np.array(rewards, np.float32),
        is_first=np.array(firsts, bool),
        is_terminal=np.array(terminals, bool),
        lane=np.array(lanes, np.float32),
        meta=dict(meta or {}),
    )


def lane_pose(info: dict[str, Any]) -> tuple[float, float]:
    """(lateral offset m, heading rad) from a Duckietown step's info; NaN off the road or without lanes."""
    lane = info.get("lane")
    if not lane:
        return (np.nan, np.nan)
    return (lane["dist"], lane["angle_rad"])
