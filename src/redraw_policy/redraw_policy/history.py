"""The commands a policy sent last: what the world model reads beside each camera frame.

One frame cannot show how fast the robot is going or which commands are still on their way to the motors;
the last k commands can. Row t of a dataset holds the command that led into frame t first
(`redraw_trainer.data.sequences.command_history`); at run time that is the last command sent, so the
runtime keeps exactly this list, newest first, and the trainer, the simulator and the robot agree.
"""

from __future__ import annotations

import numpy as np


class CommandHistory:
    """The last `steps` normalised commands sent, newest first; zeros before anything was sent."""

    def __init__(self, steps: int, action_dim: int = 2) -> None:
        self.steps, self.action_dim = steps, action_dim
        self._values = np.zeros((steps, action_dim), np.float32)

    def reset(self) -> None:
        """Nothing sent yet (an episode starts, or the wheels were stopped and the robot stands)."""
        self._values[:] = 0.0

    def before_next(self) -> np.ndarray:
        """(steps * action_dim,) float32: the model's history input for the frame that arrives now."""
        return self._values.reshape(-1).copy()

    def push(self, action: np.ndarray) -> None:
        """Record the command just sent (a stopped robot sends zeros, and they count)."""
        if self.steps:
            self._values[1:] = self._values[:-1]
            self._values[0] = np.asarray(action, np.float32).reshape(self.action_dim)

    def replace_newest(self, action: np.ndarray) -> None:
        """The command just recorded was really `action` (replay: what the robot sent, not the policy)."""
        if self.steps:
            self._values[0] = np.asarray(action, np.float32).reshape(self.action_dim)
