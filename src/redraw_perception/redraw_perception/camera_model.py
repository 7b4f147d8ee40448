"""Pinhole camera model with distortion, read from a ROS camera_info / Duckietown calibration YAML."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml

from redraw_perception.errors import PreprocessError, Reject


@dataclass(frozen=True)
class CameraModel:
    """Intrinsics at the calibrated resolution; `scaled()` gives them at another resolution."""

    width: int
    height: int
    camera_matrix: tuple[float, ...]  # row-major 3x3
    distortion: tuple[float, ...]
    distortion_model: str = "plumb_bob"

    @classmethod
    def from_yaml(cls, path: str | Path) -> "CameraModel":
        """Read the standard camera_info YAML (`image_width`, `camera_matrix.data`, ...)."""
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as err:
            raise PreprocessError(f"{path}: cannot read camera calibration: {err}", Reject.CALIBRATION) from err
        return cls.from_dict(data, source=str(path))

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<dict>") -> "CameraModel":
        def field(name: str) -> Any:
            if not isinstance(data, dict) or name not in data:
                raise PreprocessError(f"{source}: camera calibration lacks field '{name}'", Reject.CALIBRATION)
            return data[name]

        matrix = field("camera_matrix")
        matrix = matrix["data"] if isinstance(matrix, dict) else matrix
        dist = field("distortion_coefficients")
        dist = dist["data"] if isinstance(dist, dict) else dist
        if len(matrix) != 9:
            raise PreprocessError(f"{source}: camera_matrix.data has {len(matrix)} values, expected 9", Reject.CALIBRATION)
        return cls(
            width=int(field("image_width")),
            height=int(field("image_height")),
            camera_matrix=tuple(float(v) for v in matrix),
            distortion=tuple(float(v) for v in dist),
            distortion_model=str(data.get("distortion_model", "plumb_bob")),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "image_width": self.width,
            "image_height": self.height,
            "camera_matrix": {"rows": 3, "cols": 3, "data": list(self.camera_matrix)},
            "distortion_coefficients": {"rows": 1, "cols": len(self.distortion), "data": list(self.distortion)},
            "distortion_model": self.distortion_model,
        }

    def undistort_maps(self, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
        """Remap tables that undistort a frame of `width` x `height` (intrinsics scaled to it)."""
        sx, sy = width / self.width, height / self.height
        k = np.array(self.camera_matrix, dtype=np.float64).reshape(3, 3).copy()
        k[0] *= sx
        k[1] *= sy
        d = np.array(self.distortion, dtype=np.float64)
        if self.distortion_model == "equidistant":
            new_k = cv2.fisheye.estimateNewCameraMatrixForUndistortRectify(k, d[:4], (width, height), np.eye(3))
            return cv2.fisheye.initUndistortRectifyMap(k, d[:4], np.eye(3), new_k, (width, height), cv2.CV_16SC2)
        new_k, _ = cv2.getOptimalNewCameraMatrix(k, d, (width, height), 0.0)
        return cv2.initUndistortRectifyMap(k, d, None, new_k, (width, height), cv2.CV_16SC2)
