"""Behaviour policies for data collection, named by a short spec: 'random', 'pid:noise=0.3', 'operator'."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from redraw_trainer.envs.rollout import Policy, random_policy


def _options(spec: str) -> tuple[str, dict[str, float]]:
    name, _, rest = spec.partition(":")
    options = {}
    for item in filter(None, rest.split(",")):
        key, _, value = item.partition("=")
        options[key] = float(value)
    return name, options


def make_behaviour(spec: str, env: gym.Env, rng: np.random.Generator, gap: Any = None) -> Policy:
    """random | pid[:noise=S,kp=..,ka=..,forward=..] | operator[:noise=S,swerve=P] | expert | smooth[:sigma=S]
    | torch:CKPT[@stochastic] | onnx:MODEL. `gap` (a RealityGap) is what an operator knows about the robot."""
    if spec.startswith("torch:"):
        from redraw_trainer.model.frame_policy import load_policy

        path, _, mode = spec[len("torch:"):].partition("@")
        return load_policy(path, stochastic=mode == "stochastic", seed=int(rng.integers(1 << 31)))[0]
    if spec.startswith("onnx:"):
        from redraw_policy.runtime import OnnxPolicy, PolicyRunner

        runner = PolicyRunner(OnnxPolicy(spec[len("onnx:"):]))  # keeps the commands it sent, as on the robot

        def onnx_policy(obs: np.ndarray, info: dict[str, Any]) -> np.ndarray:
            return runner.step_image(obs).action

        onnx_policy.reset = runner.reset
        return onnx_policy
    name, options = _options(spec)
    if name == "random":
        return random_policy(env.action_space, rng)
    if name == "pid":
        from redraw_trainer.envs.duckietown import lane_pid_policy

        return lane_pid_policy(rng=rng, **options)
    if name == "smooth":
        return smooth_random_policy(rng, **options)
    if name == "expert":
        return expert_policy(gap)
    if name == "operator":
        return operator_policy(rng, steering_reversed=bool(getattr(gap, "steering_reversed", False)), **options)
    raise ValueError(f"behaviour '{spec}': unknown policy '{name}' (random, pid, operator, smooth)")


def expert_policy(gap: Any = None) -> Policy:
    """The privileged reference: the simulator's lane-pose PD (it reads the true lane pose, which no camera
    policy can) with what can be undone of the gap undone: reversed steering flipped back, a motor gain divided
    out. Trim, latency and camera gaps its feedback absorbs or suffers, as it would on a robot."""
    from redraw_trainer.envs.duckietown import lane_pid_policy

    follow = lane_pid_policy()
    gain = float(getattr(gap, "gain", 1.0)) or 1.0
    reversed_steering = bool(getattr(gap, "steering_reversed", False))

    def policy(obs: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        action = np.array(follow(obs, info), np.float64)
        if reversed_steering:
            action[1] = -action[1]
        return np.clip(action / gain, -1.0, 1.0).astype(np.float32)

    return policy


def operator_policy(rng: np.random.Generator, steering_reversed: bool = False, noise: float = 0.15,
                    swerve: float = 0.02, slow: float = 0.3, fast: float = 0.7) -> Policy:
    """A person driving the robot with a joystick, reward-free: they know the robot's quirks.

    Lane following by the lane-pose PD with the robot's reversed steering (if any) undone, at a speed
    chosen per episode in [slow, fast], with Gaussian noise; with probability `swerve` per step the
    operator swerves (a random turn for 0.3-0.8 s) and then corrects back into the lane. Other gaps
    (trim, gain, latency) the PD's feedback absorbs, as a person's would.
    """
    from redraw_trainer.envs.duckietown import lane_pid_policy

    follow = lane_pid_policy(forward=1.0)
    speed, swerve_steps, swerve_turn = slow, 0, 0.0

    def policy(obs: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        nonlocal speed, swerve_steps, swerve_turn
        if info.get("t", 1) == 0:
            speed, swerve_steps = rng.uniform(slow, fast), 0
        if swerve_steps == 0 and rng.random() < swerve:
            swerve_steps, swerve_turn = int(rng.integers(3, 9)), float(rng.choice([-1.0, 1.0]) * rng.uniform(0.3, 0.7))
        action = np.array(follow(obs, info), np.float64)
        action[0] = speed
        if swerve_steps > 0:
            action[1] = swerve_turn  # a deliberate command: the robot turns whichever way its wiring says
            swerve_steps -= 1
        elif steering_reversed:
            action[1] = -action[1]
        action += rng.normal(0.0, noise, 2)
        return np.clip(action, -1.0, 1.0).astype(np.float32)

    return policy


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
