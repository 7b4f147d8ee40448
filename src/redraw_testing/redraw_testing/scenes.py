"""Synthetic camera frames for tests: a road with lane markings, rendered at any size."""

import cv2
import numpy as np


def road_frame(width: int = 640, height: int = 480, shift: float = 0.0) -> np.ndarray:
    """An RGB uint8 frame: sky, grey road, white edge line, dashed yellow centre line, some texture."""
    rng = np.random.default_rng(0)
    s = width / 640.0
    frame = np.empty((height, width, 3), np.uint8)
    frame[:] = (40, 90, 40)
    frame[: height // 3] = (150, 190, 230)
    road = np.array([[0.05 + shift, 1.0], [0.45 + shift, 1 / 3], [0.55 + shift, 1 / 3], [0.95 + shift, 1.0]])
    road = (road * [width, height]).astype(np.int32)
    cv2.fillPoly(frame, [road], (90, 90, 95))
    cv2.line(frame, tuple(road[2]), tuple(road[3]), (240, 240, 240), max(1, int(10 * s)))
    for y0 in range(height // 3, height, max(2, height // 12)):
        y1 = min(height - 1, y0 + height // 24)
        x0 = int(width * (0.5 + shift))
        cv2.line(frame, (x0, y0), (x0, y1), (230, 200, 20), max(1, int(8 * s)))
    noise = rng.integers(-12, 12, size=frame.shape)
    return np.clip(frame.astype(np.int16) + noise, 0, 255).astype(np.uint8)


def jpeg(rgb: np.ndarray, quality: int = 90) -> bytes:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return buf.tobytes()
