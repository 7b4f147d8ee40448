"""Lane-marking masks: the camera frame as "where are the yellow, white and red markings".

An observation that looks the same in the simulator and on the robot, as far as colour rules allow: the
ReDRAW authors' Duckiebot policy observed lane masks instead of raw RGB, and Duckietown's own lane
following segments the markings by colour after a lighting normalisation (dt-ros2-core
`packages/line_detector/config/line_detector_node/default.yaml` gives HSV ranges; its `anti_instagram`
stretches each channel between percentiles). Here both run per frame, with no state, so a frame gives the
same mask wherever it is processed.

The HSV ranges are Duckietown's, narrowed where measured on simulator and Duckiebot frames
(experiments/visual-gap/): yellow hue 15-35 (OpenCV's 0-180 scale) instead of 25-45, because the simulator's
grass sits at 40-50 and real yellow paint at 10-30 after balancing; white saturation <= 70 instead of
<= 100, which keeps the simulator's tinted grass out.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

Range = tuple[tuple[int, int, int], tuple[int, int, int]]


@dataclass(frozen=True)
class LaneMaskConfig:
    """Colour rules for the three marking classes, in OpenCV HSV (H 0-180, S and V 0-255)."""

    balance_percent: float = 1.0  # each channel stretched between this percentile and 100 minus it
    yellow: tuple[Range, ...] = (((15, 80, 80), (35, 255, 255)),)
    white: tuple[Range, ...] = (((0, 0, 160), (180, 70, 255)),)
    red: tuple[Range, ...] = (((0, 100, 80), (8, 255, 255)), ((165, 100, 80), (180, 255, 255)))


CHANNELS = ("yellow", "white", "red")  # the mask's channel order


def colour_balance(rgb: np.ndarray, percent: float = 1.0) -> np.ndarray:
    """Stretch each channel so its `percent` and `100 - percent` percentiles span 0..255.

    Undoes a global colour cast and exposure (a warm lamp, a dim room, the simulator's randomised lighting)
    so fixed colour thresholds can work.
    """
    flat = rgb.reshape(-1, 3).astype(np.float32)
    low, high = np.percentile(flat, [percent, 100.0 - percent], axis=0)
    scale = 255.0 / np.maximum(high - low, 1.0)
    return np.clip((flat - low) * scale, 0, 255).astype(np.uint8).reshape(rgb.shape)


def lane_masks(rgb: np.ndarray, config: LaneMaskConfig = LaneMaskConfig()) -> np.ndarray:
    """HxWx3 RGB uint8 -> HxWx3 uint8 masks (yellow, white, red marking = 255, else 0).

    The output has the RGB frame's shape and dtype, so the world model and the ONNX contract take it
    unchanged; shown as an image, yellow markings are red, white ones green, red ones blue.
    """
    hsv = cv2.cvtColor(colour_balance(rgb, config.balance_percent), cv2.COLOR_RGB2HSV)
    out = np.zeros(rgb.shape, np.uint8)
    for channel, ranges in enumerate((config.yellow, config.white, config.red)):
        for low, high in ranges:
            out[..., channel] |= cv2.inRange(hsv, low, high)
    return out
