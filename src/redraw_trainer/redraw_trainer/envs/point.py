"""A small image-based task with known dynamics, for fast and exact tests of the method.

A point shown as a red and a green band (its x and y); the action moves it: pos <- clip(pos + step * action). The reward is
higher near the centre. The "real" domain is the same task with the action's effect reversed
(`envs.reality_gap.ReversedAction`), which a simulator-trained prior gets exactly wrong.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np


class PointEnv(gym.Env):
    metadata = {"render_modes": ["rgb_array"]}

    def __init__(self, image_size: int = 32, step_size: float = 0.2, episode_length: int = 50) -> None:
        self.image_size = image_size
        self.step_size = step_size
        self.episode_length = episode_length
        self.observation_space = gym.spaces.Box(0, 255, (image_size, image_size, 3), np.uint8)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        grid = (np.arange(image_size) + 0.5) / image_size * 2.0 - 1.0
        self._xx, self._yy = np.meshgrid(grid, grid)
        self.pos = np.zeros(2)
        self._t = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.pos = self.np_random.uniform(-0.8, 0.8, size=2)
        self._t = 0
        return self.render(), {"pos": self.pos.copy()}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        action = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        self.pos = np.clip(self.pos + self.step_size * action, -1.0, 1.0)
        self._t += 1
        reward = 1.0 - float(np.linalg.norm(self.pos)) / np.sqrt(2.0)
        return self.render(), reward, False, self._t >= self.episode_length, {"pos": self.pos.copy()}

    def render(self) -> np.ndarray:
        """A red vertical band at x and a green horizontal band at y: position changes many pixels."""
        band_x = np.exp(-((self._xx - self.pos[0]) ** 2) / (2 * 0.12**2))
        band_y = np.exp(-((self._yy - self.pos[1]) ** 2) / (2 * 0.12**2))
        image = np.empty((self.image_size, self.image_size, 3), np.float64)
        image[..., 0] = 60 + 190 * band_x
        image[..., 1] = 60 + 190 * band_y
        image[..., 2] = 60 + 40 * (self._xx > 0)  # a fixed landmark: the right half is bluer
        return image.round().astype(np.uint8)
