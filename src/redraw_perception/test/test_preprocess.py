"""Preprocessing: JPEG or RGB frame -> 64x64 RGB uint8, identical for robot, bags and simulator."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from redraw_perception import ContractError, PreprocessConfig, PreprocessError, Preprocessor
from redraw_perception.camera_model import CameraModel

from redraw_testing.scenes import jpeg, road_frame

CONFIG_DIR = Path(__file__).resolve().parents[1] / "config"


def test_jpeg_becomes_64x64_rgb_uint8():
    out = Preprocessor().from_jpeg(jpeg(road_frame()))
    assert out.shape == (64, 64, 3) and out.dtype == np.uint8 and out.flags.c_contiguous


def test_reduced_decode_matches_full_decode_and_resize():
    """Decoding at 1/4 size (what the robot does) gives the pixels of a full decode + INTER_AREA resize."""
    data = jpeg(road_frame())
    reduced = Preprocessor(PreprocessConfig(reduced_decode=True))
    full = Preprocessor(PreprocessConfig(reduced_decode=False))
    assert reduced.decode_factor == 4 and full.decode_factor == 1
    diff = np.abs(reduced.from_jpeg(data).astype(int) - full.from_jpeg(data).astype(int))
    # Stated tolerance: mean |diff| <= 2 grey levels, 99th percentile <= 12.
    assert diff.mean() <= 2.0
    assert np.percentile(diff, 99) <= 12


def test_channel_order_is_rgb():
    red = np.zeros((480, 640, 3), np.uint8)
    red[..., 0] = 255
    out = Preprocessor().from_jpeg(jpeg(red))
    assert out[..., 0].mean() > 240 and out[..., 1].mean() < 15 and out[..., 2].mean() < 15


def test_crop_removes_the_top_of_the_frame():
    frame = np.zeros((480, 640, 3), np.uint8)
    frame[:120] = (255, 255, 255)  # exactly the top quarter
    out = Preprocessor(PreprocessConfig(crop_top=0.25)).from_rgb(frame)
    assert out.max() == 0
    uncropped = Preprocessor(PreprocessConfig(crop_top=0.0)).from_rgb(frame)
    assert uncropped[:16].mean() > 200


def test_simulator_render_at_lower_resolution_matches_camera_jpeg():
    """The simulator renders 160x120; the robot sends 640x480 JPEG. Same scene -> nearly same input."""
    pre = Preprocessor()
    from_sim = pre.from_rgb(road_frame(160, 120))
    from_robot = pre.from_jpeg(jpeg(road_frame(640, 480)))
    assert np.abs(from_sim.astype(int) - from_robot.astype(int)).mean() < 8.0


@pytest.mark.parametrize(
    "payload, message",
    [(b"", "empty"), (b"this is not a jpeg at all", "not a decodable JPEG"), (jpeg(road_frame(320, 320)), "expected 640x480")],
)
def test_bad_payloads_raise_clear_errors(payload, message):
    with pytest.raises(PreprocessError, match=message):
        Preprocessor().from_jpeg(payload)


def test_wrong_aspect_rgb_frame_is_rejected():
    with pytest.raises(PreprocessError, match="expected 640x480 or the same aspect"):
        Preprocessor().from_rgb(np.zeros((100, 100, 3), np.uint8))


def test_config_round_trips_and_mismatch_names_the_field():
    cfg = PreprocessConfig(crop_top=0.3, camera=CameraModel.from_yaml(CONFIG_DIR / "duckiebot_default_intrinsics.yaml"))
    again = PreprocessConfig.from_dict(cfg.to_dict())
    assert again == cfg
    cfg.check_matches(again)
    with pytest.raises(ContractError, match="'crop_top' is 0.25"):
        cfg.check_matches(PreprocessConfig(), source="model.onnx")


def test_invalid_config_is_refused():
    with pytest.raises(PreprocessError, match="crop_top"):
        PreprocessConfig(crop_top=1.5)


def test_undistortion_changes_pixels_and_zero_distortion_is_identity():
    frame = road_frame()
    plain = Preprocessor(PreprocessConfig(reduced_decode=False)).from_rgb(frame)
    calibrated = CameraModel.from_yaml(CONFIG_DIR / "duckiebot_default_intrinsics.yaml")
    undistorted = Preprocessor(PreprocessConfig(camera=calibrated)).from_rgb(frame)
    assert np.abs(undistorted.astype(int) - plain.astype(int)).mean() > 3.0
    ideal = CameraModel(640, 480, calibrated.camera_matrix, (0.0, 0.0, 0.0, 0.0, 0.0))
    same = Preprocessor(PreprocessConfig(camera=ideal)).from_rgb(frame)
    assert np.abs(same.astype(int) - plain.astype(int)).mean() < 1.5


def test_missing_calibration_field_is_named(tmp_path):
    bad = tmp_path / "camera.yaml"
    bad.write_text("image_width: 640\nimage_height: 480\n")
    with pytest.raises(PreprocessError, match="camera.yaml: camera calibration lacks field 'camera_matrix'"):
        CameraModel.from_yaml(bad)


def test_rejections_are_typed_and_survive_a_process_pool():
    import pickle

    from redraw_perception import Reject
    from redraw_perception.preprocess import preprocess_many

    small = cv2.imencode(".jpg", np.zeros((120, 160, 3), np.uint8))[1].tobytes()
    empty, junk, wrong = (pickle.loads(pickle.dumps(r)) for r in preprocess_many(PreprocessConfig().to_dict(),
                                                                                   [b"", b"\xff\xd8junk", small]))
    assert (empty.reason, junk.reason, wrong.reason) == (Reject.EMPTY, Reject.UNDECODABLE, Reject.FRAME_SIZE)
    assert wrong.size == (160, 120) and wrong.expected == (640, 480) and "frame is about 160x120" in str(wrong)
