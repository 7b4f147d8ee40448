"""SequenceData: the command history rows carry, and windows that end where the robot left the road."""

import numpy as np

from redraw_trainer.data.sequences import SequenceData, command_history


def two_episodes() -> SequenceData:
    """Episode one: rows 0-3 (the last leaves the road), episode two: rows 4-9."""
    n = 10
    action = np.arange(2 * n, dtype=np.float32).reshape(n, 2)
    is_first = np.zeros(n, bool)
    is_first[[0, 4]] = True
    action[is_first] = 0.0  # nothing led into an episode's first frame
    terminal = np.zeros(n, bool)
    terminal[3] = True
    return SequenceData(np.zeros((n, 4, 4, 3), np.uint8), action, np.zeros(n, np.float32), is_first, terminal)


def test_the_command_history_is_newest_first_and_never_crosses_an_episode_start():
    data = two_episodes()
    history = command_history(data.action, data.is_first, 3).reshape(-1, 3, 2)
    np.testing.assert_array_equal(history[2], [data.action[2], data.action[1], data.action[0]])
    np.testing.assert_array_equal(history[5], [data.action[5], data.action[4], [0, 0]])  # row 3 is another episode
    np.testing.assert_array_equal(data.commands(0), data.action)  # no history: the command into the frame
    assert data.history(3) is data.history(3)  # computed once


def test_terminal_windows_end_on_the_frame_that_left_the_road():
    data = two_episodes()
    starts = data.sample_starts(8, 3, np.random.default_rng(0), terminal_fraction=0.5)
    np.testing.assert_array_equal(starts[:4] + 2, [3, 3, 3, 3])
    assert len(data.lane) == len(data) and np.isnan(data.lane).all()  # no lane pose known: a robot's rows
