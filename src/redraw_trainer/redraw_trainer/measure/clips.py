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

from redraw_trainer.measure.plots import path_trace

VIDEO_SIZE = (320, 240)
RECORDED = (60, 200, 60)  # BGR green
POLICY = (0, 140, 255)  # BGR orange


def fit_frame(image: np.ndarray | None, size: tuple[int, int] = VIDEO_SIZE) -> np.ndarray:
    """A BGR frame resized to `size` (width, height); black if there is none (an undecodable JPEG)."""
    if image is None:
        return np.zeros((size[1], size[0], 3), np.uint8)
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def draw_commands(frame: np.ndarray, commands: Sequence[tuple[str, tuple[float, float], tuple[int, int, int]]],
                  scale: tuple[float, float], header: str = "", labels: bool = True) -> np.ndarray:
    """Draw each (label, (v, omega), BGR colour) as an arrow from the bottom centre (length ~ v, angle ~ omega,
    omega > 0 turning left) and, with `labels`, a text line each, under a header line; modifies and returns
    `frame`. Sizes follow the frame's height (320x240: the replay video's)."""
    h, w = frame.shape[:2]
    k = h / 240
    base = (w // 2, h - int(10 * k))
    for _, (v, omega), colour in commands:
        length = 70 * k * float(np.clip(v / scale[0], -1, 1))
        angle = float(np.clip(omega / scale[1], -1, 1)) * np.pi / 3
        tip = (int(base[0] - length * np.sin(angle)), int(base[1] - length * np.cos(angle)))
        cv2.arrowedLine(frame, base, tip, colour, max(2, round(3 * k)), tipLength=0.25)
    if header:
        cv2.putText(frame, header, (int(5 * k), max(int(15 * k), 11)), cv2.FONT_HERSHEY_SIMPLEX, 0.45 * max(k, 0.75),
                    (255, 255, 255), 1)
    if labels:
        width = max((len(label) for label, _, _ in commands), default=0)
        for row, (label, (v, omega), colour) in enumerate(commands):
            cv2.putText(frame, f"{label:<{width}} v={v:+.2f} w={omega:+.2f}", (5, int((32 + 16 * row) * k)),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.4 * k, colour, 1)
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


def write_gif(frames: Sequence[np.ndarray], path: str | Path, fps: float = 10.0, stride: int = 2, width: int = 128,
              colours: int = 32) -> Path:
    """Every `stride`-th BGR frame, resized to `width` px wide, as a looping GIF at the matching speed
    (`colours` per frame, adaptive: a 200-step camera view is a few hundred KB)."""
    from PIL import Image

    picked = list(frames)[::max(1, stride)]
    if not picked:
        raise ValueError(f"{path}: no frames for a GIF")
    h, w = picked[0].shape[:2]
    size = (width, max(1, int(round(h * width / w))))
    images = [Image.fromarray(cv2.cvtColor(cv2.resize(f, size, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB))
              .quantize(colours, method=Image.Quantize.MEDIANCUT) for f in picked]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    images[0].save(path, save_all=True, append_images=images[1:], duration=int(round(1000 * stride / fps)), loop=0,
                   optimize=True)
    return path


def policy_clip(frames_rgb: Sequence[np.ndarray], commands: Sequence[tuple[float, float]], scale: tuple[float, float],
                stem: str | Path, title: str = "", fps: float = 10.0, gif_stride: int = 2,
                gif_width: int = 128) -> dict[str, str]:
    """The robot's camera view (RGB renders) with the policy's command drawn as `replay` draws it:
    `<stem>.mp4` (every step, 320x240, with the numbers) and `<stem>.gif` (every `gif_stride`-th step,
    `gif_width` px wide, the arrow and the time only: text that small is unreadable). Returns both paths."""
    bgr = [cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2BGR) for f in frames_rgb]
    drawn = [draw_commands(fit_frame(f), [("policy", c, POLICY)], scale, f"{title} t={i / fps:5.1f}s".strip())
             for i, (f, c) in enumerate(zip(bgr, commands))]
    small = (gif_width, int(round(gif_width * VIDEO_SIZE[1] / VIDEO_SIZE[0])))
    thumbs = [draw_commands(fit_frame(f, small), [("policy", c, POLICY)], scale, f"t={i / fps:.1f}s", labels=False)
              for i, (f, c) in enumerate(zip(bgr, commands)) if i % max(1, gif_stride) == 0]
    stem = Path(stem)
    mp4 = write_mp4(drawn, stem.with_suffix(".mp4"), fps)
    gif = write_gif(thumbs, stem.with_suffix(".gif"), fps / max(1, gif_stride), 1, gif_width)
    return {"mp4": str(mp4), "gif": str(gif)}


def episode_clip(frames_rgb: Sequence[np.ndarray], commands: Sequence[tuple[float, float]], xy: Sequence[tuple[float, float]],
                 tiles: list[tuple[int, int]], tile_size: float, scale: tuple[float, float], stem: str | Path,
                 title: str = "", fps: float = 10.0) -> dict[str, str]:
    """One driven episode: the camera clip (`<stem>.mp4`, `<stem>.gif`) and a top-down trace of the path over
    the map's drivable tiles (`<stem>_path.png`)."""
    paths = policy_clip(frames_rgb, commands, scale, stem, title, fps)
    stem = Path(stem)
    paths["path"] = str(path_trace(np.array(xy), tiles, tile_size, stem.with_name(f"{stem.name}_path.png"),
                                   f"{title}: path driven ({len(xy) / fps:.1f} s)".strip(": ")))
    return paths
