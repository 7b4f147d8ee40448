"""Run a policy in an environment for whole episodes and summarise what happened."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import gymnasium as gym
import numpy as np

Policy = Callable[[np.ndarray, dict[str, Any]], np.ndarray]


def reset_policy(policy: Policy) -> None:
    """A new episode begins: a policy that remembers what it sent (its command history) forgets it."""
    reset = getattr(policy, "reset", None)
    if callable(reset):
        reset()


def random_policy(action_space: gym.spaces.Box, rng: np.random.Generator) -> Policy:
    """Uniform random actions."""
    return lambda obs, info: rng.uniform(action_space.low, action_space.high).astype(np.float32)


def ci95(values: Any) -> float:
    """Half-width of the normal-approximation 95% interval of the mean."""
    values = np.asarray(values, float)
    return float(1.96 * values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else float("nan")


@dataclass
class EpisodeStats:
    returns: list[float]
    lengths: list[int]
    lane_time: list[float]  # seconds in lane per episode (Duckietown); steps for tasks without lanes
    distance: list[float]  # metres driven along the lane per episode (Duckietown; 0 for other tasks)

    @property
    def mean(self) -> float:
        return float(np.mean(self.returns))

    @property
    def ci95(self) -> float:
        """Half-width of the 95% confidence interval of the mean return."""
        return ci95(self.returns)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "mean": self.mean, "ci95": self.ci95, "mean_lane_time": float(np.mean(self.lane_time)),
                "mean_distance": float(np.mean(self.distance))}


def run_episodes(env: gym.Env, policy: Policy, episodes: int, seed: int = 1000, max_steps: int | None = None) -> EpisodeStats:
    """Episodes seeded seed, seed+1, ... so every policy meets the same starts."""
    returns, lengths, lane_time, distance = [], [], [], []
    dt = getattr(env.unwrapped, "dt", 1.0)
    for episode in range(episodes):
        obs, info = env.reset(seed=seed + episode)
        reset_policy(policy)
        total, steps, in_lane, metres, done = 0.0, 0, 0, 0.0, False
        while not done:
            obs, reward, terminated, truncated, info = env.step(policy(obs, info))
            total += reward
            steps += 1
            in_lane += bool(info.get("in_lane", True))
            metres += float(info.get("progress_m", 0.0))
            done = terminated or truncated or (max_steps is not None and steps >= max_steps)
        returns.append(total)
        lengths.append(steps)
        lane_time.append(in_lane * dt)
        distance.append(metres)
    return EpisodeStats(returns, lengths, lane_time, distance)


def evaluate_onnx(onnx_path: str, gap: str, episodes: int, episode_steps: int, seed: int,
                  record: bool = False) -> dict[str, Any]:
    """Run an exported policy through the robot runtime (JPEG in, command out) in the target simulator.

    With `record`, the first episode's camera frames, commands and positions are also kept (returned under
    "episode", with the map's drivable tiles, for `measure/clips.py`); watching changes nothing the policy sees
    or does, so every number is the same with or without it."""
    from redraw_policy.runtime import OnnxPolicy, PolicyRunner
    from redraw_trainer.envs.duckietown import camera_jpeg
    from redraw_trainer.envs.factory import make_env
    from redraw_trainer.envs.reality_gap import RealityGap

    env = make_env("duckietown", RealityGap.parse(gap), seed=10_000 + seed)
    runner = PolicyRunner(OnnxPolicy(onnx_path))
    sim = env.unwrapped
    seen = {"episode": -1, "frames": [], "commands": [], "xy": []}

    def policy(obs: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        command = runner.step_jpeg(camera_jpeg(sim.last_frame))
        if record:
            seen["episode"] += info.get("t") == 0  # a reset's info: the next episode begins
            if seen["episode"] == 0:
                seen["frames"].append(sim.last_frame.copy())
                seen["commands"].append((command.v, command.omega))
                seen["xy"].append((float(info["pos"][0]), float(info["pos"][2])))
        return command.action

    policy.reset = runner.reset  # each episode starts standing: no commands in flight
    stats = run_episodes(env, policy, episodes, seed=50_000 + seed, max_steps=episode_steps)
    result = stats.to_dict()
    if record and seen["frames"]:
        kin = runner.kinematics
        result["episode"] = {"frames": seen["frames"], "commands": seen["commands"], "xy": seen["xy"],
                             "tiles": [tuple(t["coords"]) for t in sim.sim.drivable_tiles],
                             "tile_size": sim.sim.road_tile_size, "scale": (kin.v_max, kin.omega_max),
                             "fps": 1.0 / sim.dt}
    env.close()
    return result
