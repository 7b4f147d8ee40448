"""Behaviour policies for data collection, named by a short spec: 'random', 'pid', 'pid:noise=0.3'."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from redraw_trainer.data.collect import Policy, random_policy


def _options(spec: str) -> tuple[str, dict[str, float]]:
    name, _, rest = spec.partition(":")
    options = {}
    for item in filter(None, rest.split(",")):
        key, _, value = item.partition("=")
        options[key] = float(value)
    return name, options


def make_behaviour(spec: str, env: gym.Env, rng: np.random.Generator) -> Policy:
    """random | pid[:noise=S,kp=..,ka=..,forward=..] | smooth[:sigma=S] | torch:CKPT[@stochastic] | onnx:MODEL."""
    if spec.startswith("torch:"):
        from redraw_trainer.agent import load_policy

        path, _, mode = spec[len("torch:"):].partition("@")
        return load_policy(path, stochastic=mode == "stochastic", seed=int(rng.integers(1 << 31)))[0]
    if spec.startswith("onnx:"):
        from redraw_policy.runtime import OnnxPolicy

        runner = OnnxPolicy(spec[len("onnx:"):])
        return lambda obs, info: runner.act_preprocessed(obs)
    name, options = _options(spec)
    if name == "random":
        return random_policy(env.action_space, rng)
    if name == "pid":
        from redraw_trainer.envs.duckietown import lane_pid_policy

        return lane_pid_policy(rng=rng, **options)
    if name == "smooth":
        return smooth_random_policy(rng, **options)
    raise ValueError(f"behaviour '{spec}': unknown policy '{name}' (random, pid, smooth)")


def smooth_random_policy(rng: np.random.Generator, sigma: float = 0.3, theta: float = 0.3,
                         forward_bias: float = 0.3) -> Policy:
    """Ornstein-Uhlenbeck actions around a slow forward drive: wanders, turns, and leaves the road."""
    state = np.zeros(2)

    def policy(obs: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        nonlocal state
        if info.get("t", 1) == 0:
            state = np.zeros(2)
        state = state + theta * (np.array([forward_bias, 0.0]) - state) + sigma * rng.normal(size=2)
        return np.clip(state, -1.0, 1.0).astype(np.float32)

    return policy
