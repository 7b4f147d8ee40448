"""Reality-gap wrappers that turn a source simulator into a "real" target domain.

Generic wrappers act on the normalised action; wheel-level gaps (trim, gain, dead-zone) live with the
Duckietown wrapper, where wheel commands exist.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, fields

import gymnasium as gym
import numpy as np


class ReversedAction(gym.ActionWrapper):
    """Negate the chosen action dimensions (e.g. dim 1: steering reversed)."""

    def __init__(self, env: gym.Env, dims: tuple[int, ...] = (1,)) -> None:
        super().__init__(env)
        self.dims = tuple(dims)

    def action(self, action: np.ndarray) -> np.ndarray:
        action = np.array(action, dtype=np.float32, copy=True)
        action[list(self.dims)] *= -1.0
        return action


class ActionLatency(gym.Wrapper):
    """Execute the action chosen `steps` control steps ago (zero action until the queue fills)."""

    def __init__(self, env: gym.Env, steps: int) -> None:
        super().__init__(env)
        if steps < 0:
            raise ValueError(f"ActionLatency: steps={steps}, expected >= 0")
        self.steps = steps
        self._queue: deque[np.ndarray] = deque()

    def reset(self, **kwargs):
        zero = np.zeros(self.action_space.shape, dtype=np.float32)
        self._queue = deque([zero] * self.steps)
        return self.env.reset(**kwargs)

    def step(self, action):
        self._queue.append(np.asarray(action, dtype=np.float32))
        return self.env.step(self._queue.popleft())


class WheelGap(gym.Wrapper):
    """Motor differences on a Duckietown env: left/right imbalance (trim), overall gain, dead-zone.

    Applied to the duty cycles after the kinematics: left *= gain * (1 - trim), right *= gain * (1 + trim);
    commands with |u| < deadzone do not move the wheel.
    """

    def __init__(self, env: gym.Env, trim: float = 0.0, gain: float = 1.0, deadzone: float = 0.0) -> None:
        super().__init__(env)
        self.trim, self.gain, self.deadzone = trim, gain, deadzone
        env.unwrapped.wheel_transforms.append(self.transform)

    def transform(self, left: float, right: float) -> tuple[float, float]:
        left, right = left * self.gain * (1.0 - self.trim), right * self.gain * (1.0 + self.trim)
        if abs(left) < self.deadzone:
            left = 0.0
        if abs(right) < self.deadzone:
            right = 0.0
        return left, right


class CameraPoseOffset(gym.Wrapper):
    """Mount the camera differently from the simulator's nominal pose (pitch degrees, height metres)."""

    def __init__(self, env: gym.Env, pitch_deg: float = 0.0, height_m: float = 0.0) -> None:
        super().__init__(env)
        self.pitch_deg, self.height_m = pitch_deg, height_m
        env.unwrapped.camera_adjusters.append(self.adjust)

    def adjust(self, sim) -> None:
        sim.cam_angle = [sim.cam_angle[0] + self.pitch_deg, sim.cam_angle[1], sim.cam_angle[2]]
        sim.cam_height = sim.cam_height + self.height_m


@dataclass(frozen=True)
class RealityGap:
    """A target domain = the source simulator plus these differences. Parse from 'steering_reversed,trim=0.1'."""

    steering_reversed: bool = False
    trim: float = 0.0
    gain: float = 1.0
    latency_steps: int = 0
    deadzone: float = 0.0
    camera_pitch_deg: float = 0.0
    camera_height_m: float = 0.0

    @classmethod
    def parse(cls, spec: str) -> "RealityGap":
        """'none' or comma-separated `name` (booleans) / `name=value` items, e.g. 'steering_reversed,trim=0.1'."""
        if spec.strip() in ("", "none"):
            return cls()
        known = {f.name: f for f in fields(cls)}
        values: dict[str, object] = {}
        for item in spec.split(","):
            name, _, value = item.strip().partition("=")
            if name not in known:
                raise ValueError(f"reality gap '{spec}': unknown item '{name}' (known: {sorted(known)})")
            kind = type(getattr(cls(), name))
            try:
                values[name] = True if kind is bool and not value else (value.lower() in ("1", "true", "yes") if kind is bool else kind(value))
            except ValueError as err:
                raise ValueError(f"reality gap '{spec}': item '{name}' needs a {kind.__name__}, got '{value}'") from err
        return cls(**values)

    def describe(self) -> str:
        default = RealityGap()
        items = [f.name if isinstance(getattr(self, f.name), bool) else f"{f.name}={getattr(self, f.name)}"
                 for f in fields(self) if getattr(self, f.name) != getattr(default, f.name)]
        return ",".join(items) or "none"

    def apply(self, env: gym.Env) -> gym.Env:
        """Wrap a DuckietownLaneEnv (wheel and camera gaps need it) with every gap that is set."""
        if self.trim or self.gain != 1.0 or self.deadzone:
            env = WheelGap(env, self.trim, self.gain, self.deadzone)
        if self.camera_pitch_deg or self.camera_height_m:
            env = CameraPoseOffset(env, self.camera_pitch_deg, self.camera_height_m)
        if self.steering_reversed:
            env = ReversedAction(env, dims=(1,))
        if self.latency_steps:
            env = ActionLatency(env, self.latency_steps)
        return env
