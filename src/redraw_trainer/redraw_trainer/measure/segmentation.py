"""Scoring a lane-marking segmentation (class ids 0 background, 1 yellow, 2 white, 3 red) beside the hand-set
HSV lane masks: per-class pixel shares, agreement between two segmentations, and an image strip of frames
with both."""

from __future__ import annotations

import cv2
import numpy as np

CLASS_NAMES = ("background", "yellow", "white", "red")
# shown as the lane-mask observation is shown: yellow markings red, white green, red blue
_SHOW = np.array([(0, 0, 0), (255, 0, 0), (0, 255, 0), (0, 0, 255)], np.uint8)


def masks_to_classes(masks: np.ndarray) -> np.ndarray:
    """(..., H, W, 3) lane masks (yellow, white, red channels) -> (..., H, W) class ids; where channels overlap,
    yellow before white before red."""
    out = np.zeros(masks.shape[:-1], np.uint8)
    for k in (3, 2, 1):
        out[masks[..., k - 1] > 0] = k
    return out


def class_shares(classes: np.ndarray) -> dict[str, float]:
    counts = np.bincount(np.asarray(classes).ravel(), minlength=len(CLASS_NAMES))
    return {name: round(float(c / counts.sum()), 4) for name, c in zip(CLASS_NAMES, counts)}


def frames_with(classes: np.ndarray, min_pixels: int = 8) -> dict[str, float]:
    """Fraction of frames holding at least `min_pixels` of each marking class."""
    n = classes.reshape(len(classes), -1)
    return {name: round(float(np.mean((n == k).sum(1) >= min_pixels)), 3) for k, name in enumerate(CLASS_NAMES) if k}


def agreement(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Per-class IoU of two segmentations of the same frames (one of them need not be the truth)."""
    out = {}
    for k, name in enumerate(CLASS_NAMES):
        inter, union = np.sum((a == k) & (b == k)), np.sum((a == k) | (b == k))
        out[name] = round(float(inter / union), 3) if union else float("nan")
    return out


def show(classes: np.ndarray) -> np.ndarray:
    return _SHOW[classes]


def strip(rows: list[tuple[np.ndarray, ...]], scale: int = 3) -> np.ndarray:
    """Each row: images (H, W, 3) uint8 or class maps (H, W), side by side; rows stacked; nearest upscaled;
    a grey line between tiles."""
    pad = lambda x: np.pad(x, ((0, 1), (0, 1), (0, 0)), constant_values=128)
    tiles = [np.concatenate([pad(show(x) if x.ndim == 2 else x) for x in row], 1) for row in rows]
    image = np.concatenate(tiles, 0)
    return cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
