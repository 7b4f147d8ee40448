"""Camera-frame preprocessing shared by the robot nodes, the bag reader and the simulator."""

from redraw_perception.errors import ContractError, PreprocessError, Reject
from redraw_perception.lane_masks import LaneMaskConfig, colour_balance, lane_masks
from redraw_perception.preprocess import (
    PreprocessConfig,
    Preprocessor,
    preprocess_jpeg,
    preprocess_rgb,
)

__all__ = [
    "ContractError",
    "LaneMaskConfig",
    "PreprocessConfig",
    "PreprocessError",
    "Preprocessor",
    "Reject",
    "colour_balance",
    "lane_masks",
    "preprocess_jpeg",
    "preprocess_rgb",
]
