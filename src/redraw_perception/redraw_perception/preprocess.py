"""The one implementation of camera preprocessing: frame -> 64x64 uint8 model input (RGB or lane masks).

The robot nodes, the bag reader and the simulator wrapper all call `Preprocessor`, so the pixels a
model is trained on are the pixels it sees when deployed. The `PreprocessConfig` is stored in every
dataset, checkpoint and ONNX file and compared on load (`PreprocessConfig.check_matches`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import cv2
import numpy as np

from redraw_perception.camera_model import CameraModel
from redraw_perception.errors import ContractError, PreprocessError, Reject
from redraw_perception.lane_masks import lane_masks

PREPROCESS_VERSION = 1
_REDUCED_FLAGS = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4,
                  8: cv2.IMREAD_REDUCED_COLOR_8}
_ASPECT_TOLERANCE = 0.02
OBSERVATIONS = ("rgb", "lane_masks")


@dataclass(frozen=True)
class PreprocessConfig:
    """How a camera frame becomes a model input. Crops are fractions, so they hold at any resolution."""

    frame_width: int = 640  # the camera's frame size (Duckiebot: 640x480)
    frame_height: int = 480
    crop_top: float = 0.25  # drop the sky above the horizon
    crop_bottom: float = 0.0
    crop_left: float = 0.0
    crop_right: float = 0.0
    out_width: int = 64
    out_height: int = 64
    reduced_decode: bool = True  # decode JPEGs at 1/2, 1/4 or 1/8 size when the output allows
    camera: CameraModel | None = None  # undistort with this calibration when set
    # "rgb": the resized colour frame; "lane_masks": yellow/white/red marking masks of it (lane_masks.py),
    # an observation that looks alike in the simulator and on the robot
    observation: str = "rgb"
    version: int = PREPROCESS_VERSION

    def __post_init__(self) -> None:
        for name in ("crop_top", "crop_bottom", "crop_left", "crop_right"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise PreprocessError(f"PreprocessConfig.{name}={value}: expected a fraction in [0, 1)")
        if self.crop_top + self.crop_bottom >= 1.0 or self.crop_left + self.crop_right >= 1.0:
            raise PreprocessError("PreprocessConfig: crops remove the whole frame")
        if min(self.frame_width, self.frame_height, self.out_width, self.out_height) <= 0:
            raise PreprocessError("PreprocessConfig: frame and output sizes must be positive")
        if self.observation not in OBSERVATIONS:
            raise PreprocessError(f"PreprocessConfig.observation={self.observation!r}: expected one of {OBSERVATIONS}")

    @property
    def out_shape(self) -> tuple[int, int, int]:
        """Model input shape, HWC."""
        return (self.out_height, self.out_width, 3)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["camera"] = self.camera.to_dict() if self.camera else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<dict>") -> "PreprocessConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ContractError(f"{source}: preprocessing config has unknown fields {sorted(unknown)}")
        data = dict(data)
        if data.get("camera") is not None:
            data["camera"] = CameraModel.from_dict(data["camera"], source=source)
        return cls(**data)

    def check_matches(self, other: "PreprocessConfig", source: str = "model") -> None:
        """Raise ContractError naming the first field where `other` (from `source`) differs from self."""
        mine, theirs = self.to_dict(), other.to_dict()
        for name in mine:
            a, b = mine[name], theirs.get(name)
            same = math.isclose(a, b, abs_tol=1e-9) if isinstance(a, float) and isinstance(b, float) else a == b
            if not same:
                raise ContractError(
                    f"{source}: preprocessing field '{name}' is {b!r}, but this runtime uses {a!r}; "
                    "the model was trained on different pixels than it would see here"
                )


@dataclass
class Preprocessor:
    """Applies a PreprocessConfig to JPEG bytes or decoded frames; caches undistortion maps."""

    config: PreprocessConfig = field(default_factory=PreprocessConfig)

    def __post_init__(self) -> None:
        self._maps: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
        self.decode_factor = self._choose_decode_factor() if self.config.reduced_decode else 1

    def _choose_decode_factor(self) -> int:
        """Largest JPEG reduction that still leaves at least out_width x out_height pixels after the crop."""
        c = self.config
        keep_w = c.frame_width * (1.0 - c.crop_left - c.crop_right)
        keep_h = c.frame_height * (1.0 - c.crop_top - c.crop_bottom)
        for factor in (8, 4, 2):
            if keep_w / factor >= c.out_width and keep_h / factor >= c.out_height:
                return factor
        return 1

    def from_jpeg(self, data: bytes | bytearray | memoryview | np.ndarray) -> np.ndarray:
        """Decode a JPEG (or PNG) payload and preprocess it. Raises PreprocessError on bad input."""
        buf = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else data.reshape(-1)
        if buf.size == 0:
            raise PreprocessError("image payload is empty (0 bytes); expected JPEG data", Reject.EMPTY)
        bgr = cv2.imdecode(buf, _REDUCED_FLAGS[self.decode_factor])
        if bgr is None:
            head = bytes(buf[:4]).hex()
            raise PreprocessError(f"image payload ({buf.size} bytes, starts {head}) is not a decodable JPEG",
                                  Reject.UNDECODABLE)
        c = self.config
        expected = (math.ceil(c.frame_height / self.decode_factor), math.ceil(c.frame_width / self.decode_factor))
        if bgr.shape[:2] != expected:
            full = (bgr.shape[1] * self.decode_factor, bgr.shape[0] * self.decode_factor)
            raise PreprocessError(
                f"frame is about {full[0]}x{full[1]}, expected {c.frame_width}x{c.frame_height} "
                "(PreprocessConfig.frame_width/frame_height)",
                Reject.FRAME_SIZE, size=full, expected=(c.frame_width, c.frame_height),
            )
        return self._finish(bgr, bgr_input=True)

    def from_rgb(self, frame: np.ndarray) -> np.ndarray:
        """Preprocess a decoded RGB frame (e.g. the simulator's render) of the camera's aspect ratio."""
        return self._finish(self._check_frame(frame), bgr_input=False)

    def from_bgr(self, frame: np.ndarray) -> np.ndarray:
        """Preprocess a decoded BGR frame (OpenCV's channel order)."""
        return self._finish(self._check_frame(frame), bgr_input=True)

    def _check_frame(self, frame: np.ndarray) -> np.ndarray:
        c = self.config
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise PreprocessError(f"frame has shape {frame.shape} dtype {frame.dtype}; expected HxWx3 uint8",
                                  Reject.FRAME_SHAPE)
        h, w = frame.shape[:2]
        if abs(w / h - c.frame_width / c.frame_height) > _ASPECT_TOLERANCE * c.frame_width / c.frame_height:
            raise PreprocessError(
                f"frame is {w}x{h}, expected {c.frame_width}x{c.frame_height} or the same aspect ratio",
                Reject.FRAME_SIZE, size=(w, h), expected=(c.frame_width, c.frame_height),
            )
        return frame

    def _finish(self, image: np.ndarray, bgr_input: bool) -> np.ndarray:
        c = self.config
        h, w = image.shape[:2]
        if c.camera is not None:
            maps = self._maps.get((w, h))
            if maps is None:
                maps = self._maps[(w, h)] = c.camera.undistort_maps(w, h)
            image = cv2.remap(image, maps[0], maps[1], cv2.INTER_LINEAR)
        top, bottom = round(h * c.crop_top), h - round(h * c.crop_bottom)
        left, right = round(w * c.crop_left), w - round(w * c.crop_right)
        image = image[top:bottom, left:right]
        image = cv2.resize(image, (c.out_width, c.out_height), interpolation=cv2.INTER_AREA)
        if bgr_input:
            image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        if c.observation == "lane_masks":
            image = lane_masks(image)
        return np.ascontiguousarray(image)


def preprocess_jpeg(data: bytes, config: PreprocessConfig | None = None) -> np.ndarray:
    """One-shot helper: JPEG bytes -> model input. Prefer a long-lived Preprocessor in loops."""
    return Preprocessor(config or PreprocessConfig()).from_jpeg(data)


def preprocess_rgb(frame: np.ndarray, config: PreprocessConfig | None = None) -> np.ndarray:
    """One-shot helper: RGB frame -> model input."""
    return Preprocessor(config or PreprocessConfig()).from_rgb(frame)


def preprocess_many(config: dict, payloads: list[bytes]) -> list[np.ndarray | PreprocessError]:
    """Preprocess a batch of JPEGs; where a frame cannot be used, its PreprocessError takes its place.

    A light worker for process pools: the errors (typed reason, sizes, message) travel back so the
    caller can count and show them.
    """
    pre = Preprocessor(PreprocessConfig.from_dict(config))
    out: list[np.ndarray | PreprocessError] = []
    for data in payloads:
        try:
            out.append(pre.from_jpeg(data))
        except PreprocessError as err:
            out.append(err)
    return out
