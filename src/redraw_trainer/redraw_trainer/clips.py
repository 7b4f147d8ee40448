"""Short videos a user watches instead of reading numbers: camera frames with the commands drawn on them.

`draw_commands` is the one drawing of (v, omega) on a frame, used by `redraw replay` (recorded vs policy)
and by the demo's per-method clips (the policy's command alone). `write_mp4` writes OpenCV's mp4v;
`write_gif` a small animated GIF (Pillow, which matplotlib already brings) that a Markdown report embeds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import cv2
import numpy as np

VIDEO_SIZE = (320, 240)
RECORDED = (60, 200, 60)  # BGR green
POLICY = (0, 140, 255)  # BGR orange


def fit_frame(image: np.ndarray | None, size: tuple[int, int] = VIDEO_SIZE) -> np.ndarray:
    """A BGR frame resized to `size` (width, height); black if there is none (an undecodable JPEG)."""
    if image is None:
        return np.zeros((size[1], size[0], 3), np.uint8)
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def draw_commands(frame: np.ndarray, commands: Sequence[tuple[str, tuple[float, float], tuple[int, int, int]]],
                  scale: tuple[float, float], header: str = "") -> np.ndarray:
    """Draw each (label, (v, omega), BGR colour) as an arrow from the bottom centre (length ~ v, angle ~ omega,
    omega > 0 turning left) and a text line, under a header line; modifies and returns `frame`."""
    h, w = frame.shape[:2]
    base = (w // 2, h - 10)
    for _, (v, omega), colour in commands:
        length = 70 * h / 240 * float(np.clip(v / scale[0], -1, 1))
        angle = float(np.clip(omega / scale[1], -1, 1)) * np.pi / 3
        tip = (int(base[0] - length * np.sin(angle)), int(base[1] - length * np.cos(angle)))
        cv2.arrowedLine(frame, base, tip, colour, 3, tipLength=0.25)
    if header:
        cv2.putText(frame, header, (5, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1)
    width = max((len(label) for label, _, _ in commands), default=0)
    for row, (label, (v, omega), colour) in enumerate(commands):
        cv2.putText(frame, f"{label:<{width}} v={v:+.2f} w={omega:+.2f}", (5, 32 + 16 * row),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.4, colour, 1)
    return frame


class Mp4Writer:
    """cv2.VideoWriter (mp4v) that fails loudly if OpenCV cannot write here; frames are BGR of one size."""

    def __init__(self, path: str | Path, fps: float, size: tuple[int, int] = VIDEO_SIZE) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.size = size
        self.frames = 0
        self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
        if not self._writer.isOpened():
            raise RuntimeError(f"{self.path}: OpenCV cannot write MP4 here")

    def write(self, frame: np.ndarray) -> None:
        self._writer.write(fit_frame(frame, self.size) if frame.shape[1::-1] != self.size else frame)
        self.frames += 1

    def close(self) -> None:
        self._writer.release()

    def __enter__(self) -> Mp4Writer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def write_mp4(frames: Iterable[np.ndarray], path: str | Path, fps: float = 10.0, size: tuple[int, int] = VIDEO_SIZE) -> Path:
    with Mp4Writer(path, fps, size) as writer:
        for frame in frames:
            writer.write(frame)
    return Path(path)


def write_gif(frames: Sequence[np.ndarray], path: str | Path, fps: float = 10.0, stride: int = 2, width: int = 160) -> Path:
    """Every `stride`-th BGR frame, resized to `width` px wide, as a looping GIF at the matching speed
    (an adaptive palette per frame keeps a camera view a few hundred KB)."""
    from PIL import Image

    picked = list(frames)[::max(1, stride)]
    if not picked:
        raise ValueError(f"{path}: no frames for a GIF")
    h, w = picked[0].shape[:2]
    size = (width, max(1, int(round(h * width / w))))
    images = [Image.fromarray(cv2.cvtColor(cv2.resize(f, size, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB))
              .quantize(64, method=Image.Quantize.MEDIANCUT) for f in picked]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    images[0].save(path, save_all=True, append_images=images[1:], duration=int(round(1000 * stride / fps)), loop=0,
                   optimize=True)
    return path


def policy_clip(frames_rgb: Sequence[np.ndarray], commands: Sequence[tuple[float, float]], scale: tuple[float, float],
                stem: str | Path, title: str = "", fps: float = 10.0, gif_stride: int = 2,
                gif_width: int = 160) -> dict[str, str]:
    """The robot's camera view (RGB renders) with the policy's command drawn as `replay` draws it:
    `<stem>.mp4` (every step) and `<stem>.gif` (every `gif_stride`-th, `gif_width` px). Returns both paths."""
    drawn = [draw_commands(fit_frame(cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2BGR)),
                           [("policy", c, POLICY)], scale, f"{title} t={i / fps:5.1f}s".strip())
             for i, (f, c) in enumerate(zip(frames_rgb, commands))]
    stem = Path(stem)
    mp4 = write_mp4(drawn, stem.with_suffix(".mp4"), fps)
    gif = write_gif(drawn, stem.with_suffix(".gif"), fps, gif_stride, gif_width)
    return {"mp4": str(mp4), "gif": str(gif)}


def episode_clip(frames_rgb: Sequence[np.ndarray], commands: Sequence[tuple[float, float]], xy: Sequence[tuple[float, float]],
                 tiles: list[tuple[int, int]], tile_size: float, scale: tuple[float, float], stem: str | Path,
                 title: str = "", fps: float = 10.0) -> dict[str, str]:
    """One driven episode: the camera clip (`<stem>.mp4`, `<stem>.gif`) and a top-down trace of the path over
    the map's drivable tiles (`<stem>_path.png`)."""
    from redraw_trainer.plots import path_trace

    paths = policy_clip(frames_rgb, commands, scale, stem, title, fps)
    stem = Path(stem)
    paths["path"] = str(path_trace(np.array(xy), tiles, tile_size, stem.with_name(f"{stem.name}_path.png"),
                                   f"{title}: path driven ({len(xy) / fps:.1f} s)".strip(": ")))
    return paths
