"""Reality-gap wrappers that turn a source simulator into a "real" target domain.

Generic wrappers act on the normalised action; wheel-level gaps (trim, gain, dead-zone) live with the
Duckietown wrapper, where wheel commands exist.
"""

from __future__ import annotations

from collections import deque

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
