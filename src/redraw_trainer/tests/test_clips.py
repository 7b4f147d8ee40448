"""The clips a user watches: camera frames with the commands drawn, as MP4 and as a GIF a report embeds,
and the top-down path of the episode."""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

from redraw_trainer.measure.clips import episode_clip, policy_clip
from redraw_trainer.measure.plots import broken_at_gaps


def renders(n: int) -> list[np.ndarray]:
    """Simulator-sized RGB renders (160x120) that change from frame to frame."""
    x = np.linspace(0, 1, 160)[None, :, None]
    return [np.broadcast_to((255 * ((x + 0.05 * i) % 1)).astype(np.uint8), (120, 160, 3)).copy() for i in range(n)]


def test_the_clip_is_a_readable_mp4_and_a_small_gif(tmp_path):
    commands = [(0.2, 0.5 * np.sin(i / 3)) for i in range(21)]
    paths = policy_clip(renders(21), commands, (0.5, 4.0), tmp_path / "clips" / "residual", "ReDRAW")
    video = cv2.VideoCapture(paths["mp4"])
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == 21
    ok, frame = video.read()
    assert ok and frame.shape == (240, 320, 3)
    with Image.open(paths["gif"]) as gif:
        assert gif.format == "GIF" and gif.n_frames == 11 and gif.size == (128, 96)  # every 2nd step, 128 px
        assert gif.info["duration"] == 200  # two 0.1 s steps per GIF frame: real speed
    assert (tmp_path / "clips" / "residual.gif").stat().st_size < 500_000


def test_the_episode_clip_also_draws_the_path_over_the_tiles(tmp_path):
    xy = [(0.9 + 0.02 * i, 0.3) for i in range(10)]
    paths = episode_clip(renders(10), [(0.2, 0.0)] * 10, xy, [(0, 0), (1, 0), (2, 0)], 0.585, (0.5, 4.0),
                         tmp_path / "zero_shot", "zero-shot")
    assert set(paths) == {"mp4", "gif", "path"}
    image = cv2.imread(paths["path"])
    assert image is not None and image.std() > 5


def test_a_line_breaks_at_a_gap_instead_of_joining_across_it():
    t = np.array([0.0, 0.1, 0.2, 100_000.0, 100_000.1])
    values = np.arange(10, dtype=float).reshape(5, 2)
    tt, vv = broken_at_gaps(t, values, 0.18)
    assert len(tt) == 6 and np.isnan(tt[3]) and np.isnan(vv[3]).all()
    assert np.array_equal(tt[[0, 1, 2, 4, 5]], t) and np.array_equal(vv[[0, 1, 2, 4, 5]], values)
    assert len(broken_at_gaps(t[:3], values[:3], 0.18)[0]) == 3  # 10 Hz steps stay one line
