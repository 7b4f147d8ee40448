"""Lane masks: yellow, white and red markings found by colour, under casts and dim light too."""

import numpy as np
import pytest

from redraw_perception import ContractError, PreprocessConfig, PreprocessError, Preprocessor, colour_balance, lane_masks

from redraw_testing.scenes import jpeg, road_frame


def marking_truth(width: int = 640, height: int = 480) -> tuple[np.ndarray, np.ndarray]:
    """Where road_frame drew yellow and white paint: its markings differ from the noiseless frame's road."""
    frame = road_frame(width, height).astype(int)
    yellow = (frame[..., 0] > 180) & (frame[..., 2] < 80)
    white = frame.min(-1) > 200
    return yellow, white


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def test_masks_find_the_yellow_centre_line_and_the_white_edge():
    masks = lane_masks(road_frame())
    yellow, white = marking_truth()
    assert masks.shape == (480, 640, 3) and masks.dtype == np.uint8
    assert set(np.unique(masks)) <= {0, 255}
    assert iou(masks[..., 0] > 0, yellow) > 0.8
    assert iou(masks[..., 1] > 0, white) > 0.8
    assert not masks[..., 2].any()  # no red paint in this scene


def test_grey_road_and_green_grass_are_not_markings():
    frame = road_frame()
    masks = lane_masks(frame)
    road = (np.abs(frame.astype(int) - (90, 90, 95)).max(-1) < 15)
    grass = (np.abs(frame.astype(int) - (40, 90, 40)).max(-1) < 15)
    assert masks[road].max() == 0 and masks[grass].max() == 0


@pytest.mark.parametrize("cast", [(1.0, 0.8, 0.5), (0.5, 0.5, 0.5), (0.6, 0.7, 1.0)], ids=["warm lamp", "dim", "cool"])
def test_colour_balance_keeps_the_markings_under_a_lighting_change(cast):
    frame = road_frame()
    lit = np.clip(frame * np.array(cast), 0, 255).astype(np.uint8)
    plain, seen = lane_masks(frame), lane_masks(lit)
    assert iou(seen[..., 0] > 0, plain[..., 0] > 0) > 0.7
    assert iou(seen[..., 1] > 0, plain[..., 1] > 0) > 0.7


def test_colour_balance_stretches_each_channel_to_the_full_range():
    rng = np.random.default_rng(0)
    dim = rng.integers(20, 100, size=(60, 80, 3)).astype(np.uint8)
    out = colour_balance(dim, percent=1.0)
    assert (np.percentile(out.reshape(-1, 3), 99, axis=0) > 240).all()
    assert (np.percentile(out.reshape(-1, 3), 1, axis=0) < 15).all()


def test_preprocessor_gives_masks_at_model_size_from_a_jpeg():
    pre = Preprocessor(PreprocessConfig(observation="lane_masks"))
    out = pre.from_jpeg(jpeg(road_frame()))
    assert out.shape == (64, 64, 3) and out.dtype == np.uint8
    assert (out[..., 0] > 0).sum() > 20 and (out[..., 1] > 0).sum() > 20  # centre line and edge line survive


def test_a_mask_model_refuses_rgb_pixels_and_names_the_field():
    masks = PreprocessConfig(observation="lane_masks")
    with pytest.raises(ContractError, match="observation"):
        PreprocessConfig().check_matches(masks, source="policy.onnx")


def test_configs_written_before_masks_load_as_rgb():
    old = PreprocessConfig().to_dict()
    del old["observation"]
    assert PreprocessConfig.from_dict(old).observation == "rgb"


def test_unknown_observation_is_an_error():
    with pytest.raises(PreprocessError, match="observation"):
        PreprocessConfig(observation="depth")
