"""Declare the preprocessing parameters on a node and build a PreprocessConfig from them."""

from __future__ import annotations

from dataclasses import fields

from rclpy.node import Node
from rcl_interfaces.msg import ParameterDescriptor

from redraw_perception.camera_model import CameraModel
from redraw_perception.preprocess import PreprocessConfig

_DESCRIPTIONS = {
    "frame_width": "camera frame width in pixels (frames of another size are rejected)",
    "frame_height": "camera frame height in pixels",
    "crop_top": "fraction of the frame height removed at the top",
    "crop_bottom": "fraction of the frame height removed at the bottom",
    "crop_left": "fraction of the frame width removed at the left",
    "crop_right": "fraction of the frame width removed at the right",
    "out_width": "model input width",
    "out_height": "model input height",
    "reduced_decode": "decode JPEGs at reduced size when the output allows it",
}


def declare_preprocess_parameters(node: Node) -> PreprocessConfig:
    """Declare `preprocess.*` parameters (defaults from PreprocessConfig) and return the config they give."""
    defaults = PreprocessConfig()
    values = {}
    for f in fields(PreprocessConfig):
        if f.name in _DESCRIPTIONS:
            values[f.name] = node.declare_parameter(
                f"preprocess.{f.name}", getattr(defaults, f.name), ParameterDescriptor(description=_DESCRIPTIONS[f.name])
            ).value
    calibration = node.declare_parameter(
        "preprocess.camera_info", "", ParameterDescriptor(description="camera_info YAML; empty: no undistortion")
    ).value
    camera = CameraModel.from_yaml(calibration) if calibration else None
    return PreprocessConfig(**values, camera=camera)
