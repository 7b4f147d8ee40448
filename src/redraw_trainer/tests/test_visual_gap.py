"""`redraw visual-gap` on camera frames the test makes: probe, reconstruction, markings and a strip."""

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from rosbags.rosbag1 import Writer as Writer1
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_types_from_msg, get_typestore

from redraw_logger import messages
from redraw_perception import PreprocessConfig
from redraw_testing.scenes import road_frame
from redraw_trainer.cli import main
from redraw_trainer.measure.visual_gap import VisualGapError, lane_probe, read_bag_frames, read_real_frames

MODEL = Path(__file__).resolve().parents[3] / "models" / "source_small.pt"


@pytest.fixture(scope="module")
def frames(tmp_path_factory) -> tuple[Path, Path]:
    """Twelve 640x480 road frames, the lane shifted sideways; labels say by how much (Duckietown signs)."""
    folder = tmp_path_factory.mktemp("frames")
    labels = folder / "pose.csv"
    with labels.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["ImageNumber", "timeStamp", "centerDistance", "relativeHeading", "Tile"])
        for i, shift in enumerate(np.linspace(-0.15, 0.15, 12)):
            name = f"frame_{i:02d}.jpg"
            cv2.imwrite(str(folder / name), cv2.cvtColor(road_frame(shift=shift), cv2.COLOR_RGB2BGR))
            writer.writerow([name, i * 0.1, 0.2 * shift, 0.0, "straight"])
    return folder, labels


def test_frames_are_read_with_the_models_preprocessing_and_labels_in_simulator_signs(frames):
    folder, labels = frames
    real = read_real_frames(folder, PreprocessConfig(observation="lane_masks"), labels)
    assert real.images.shape == (12, 64, 64, 3) and set(np.unique(real.images)) <= {0, 255}
    assert real.rgb.shape == (12, 64, 64, 3) and len(np.unique(real.rgb)) > 2
    np.testing.assert_allclose(real.pose[:, 0], -0.2 * np.linspace(-0.15, 0.15, 12), atol=1e-9)


def test_bad_labels_name_the_file_and_the_missing_column(frames, tmp_path):
    folder, _ = frames
    wrong = tmp_path / "pose.csv"
    wrong.write_text("image,d,phi\nframe_00.jpg,0,0\n")
    with pytest.raises(VisualGapError, match=r"pose.csv: columns \['ImageNumber'"):
        read_real_frames(folder, PreprocessConfig(), wrong)
    with pytest.raises(VisualGapError, match="no .* images"):
        read_real_frames(tmp_path, PreprocessConfig())


def test_probe_recovers_a_linear_lane_pose_and_reports_held_out_and_real_correlations():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 20))
    y = np.stack([x[:, 0] + 0.1 * rng.normal(size=400), x[:, 1] - x[:, 2]], 1)
    probe = lane_probe(x[:300], y[:300], x[300:], y[300:], -x[300:], y[300:])
    assert probe["d"]["sim_heldout"] > 0.95 and probe["phi"]["sim_heldout"] > 0.95
    assert probe["d"]["real"] < -0.95  # flipped features: the sign shows a convention mismatch


def test_visual_gap_command_prints_figures_and_writes_results_and_strip(frames, tmp_path, capsys):
    folder, labels = frames
    out = tmp_path / "vg"
    assert main(["visual-gap", "--frames", str(folder), "--labels", str(labels), "--model", str(MODEL),
                 "--sim-frames", "60", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "probe corr., real" in printed and "reconstruction error per pixel" in printed
    result = json.loads((out / "results.json").read_text())
    assert result["real_frames"] == 12 and result["labelled_real_frames"] == 12
    assert result["markings_found"]["either"] == 1.0  # every made frame has paint the masks must find
    assert 0.0 < result["reconstruction_error"]["real"] < 1.0
    assert np.isfinite(result["probe"]["d"]["sim_heldout"])
    assert (out / "strip.png").stat().st_size > 10_000


def test_visual_gap_command_prints_the_lag_curve_and_aligned_figures(frames, tmp_path, capsys):
    folder, labels = frames
    out = tmp_path / "vg"
    assert main(["visual-gap", "--frames", str(folder), "--labels", str(labels), "--model", str(MODEL),
                 "--sim-frames", "60", "--label-lag", "0.1", "--label-d-scale", "2", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| lag s | rotation r | paint r d |" in printed and "lag used: +0.10 s (given (--label-lag))" in printed
    assert "| classical lane filter |" not in printed  # no camera given: no lane filter row
    aligned = json.loads((out / "results.json").read_text())["aligned"]
    assert aligned["lag"] == 0.1 and len(aligned["paint_sweep"]["lags"]) == len(aligned["paint_sweep"]["r_d"])
    # labels 0.1 s later: frame i takes row i + 1's d (metres: x2), the last frame has none
    assert aligned["counts"] == {"frames": 12, "dropped_no_label": 1, "dropped_heading_over_1rad": 0,
                                 "dropped_offset_over_0.2m": 0, "used_all": 11, "used_straight": 11}
    assert set(aligned["figures"]["encoder probe (sim-fitted ridge)"]) == {"all", "straight"}


SHIFTS = np.linspace(-0.15, 0.15, 12)


def lane_filter_bag(out: Path, storage=StoragePlugin.SQLITE3, pose_every: int = 1, pose_delay_ms: int = 20) -> Path:
    """`ros2 bag record` of a camera at 10 Hz and the lane filter's LanePose (Duckietown signs), real CDR."""
    store = messages.typestore()
    writer = Writer(out, version=8, storage_plugin=storage)
    writer.open()
    cam = writer.add_connection("/bot/image/compressed", messages.COMPRESSED_IMAGE, typestore=store)
    pose = writer.add_connection("/bot/lane_filter_node/lane_pose", messages.LANE_POSE, typestore=store)
    for i, shift in enumerate(SHIFTS):
        t = 10**9 + i * 10**8
        jpeg = cv2.imencode(".jpg", cv2.cvtColor(road_frame(shift=shift), cv2.COLOR_RGB2BGR))[1].tobytes()
        writer.write(cam, t, messages.compressed_image(t, jpeg))
        if i % pose_every == 0:
            stamp = t + pose_delay_ms * 10**6
            writer.write(pose, stamp, messages.lane_pose(stamp, d=0.2 * shift, phi=0.05 * i))
    writer.close()
    return out


def test_a_bag_gives_frames_labelled_by_the_nearest_lane_pose_in_simulator_signs(tmp_path):
    bag = lane_filter_bag(tmp_path / "lap", pose_every=2)
    real = read_bag_frames(bag, PreprocessConfig())
    assert real.images.shape == (12, 64, 64, 3)
    # poses on even frames, 20 ms late: odd frames take their neighbour's (80 ms away), signs flipped
    expected_i = np.arange(12) - np.arange(12) % 2
    np.testing.assert_allclose(real.pose[:, 0], -0.2 * SHIFTS[expected_i], atol=1e-6)
    np.testing.assert_allclose(real.pose[:, 1], -0.05 * expected_i, atol=1e-6)
    far = read_bag_frames(bag, PreprocessConfig(), max_gap_s=0.05)  # odd frames now have no pose near enough
    assert np.isnan(far.pose[1::2]).all() and np.isfinite(far.pose[::2]).all()


def test_a_ros1_duckietown_log_is_read_with_its_own_older_lane_pose_definition(tmp_path):
    """Daffy-era logs carry a shorter LanePose (no references, no curvature); the bag's definition wins."""
    store = get_typestore(Stores.ROS1_NOETIC)
    old = "duckietown_msgs/msg/LanePose"
    store.register(get_types_from_msg("Header header\nfloat32 d\nfloat32 sigma_d\nfloat32 phi\nfloat32 sigma_phi\n"
                                      "int32 status\nbool in_lane\n", old))
    T = store.types
    header = lambda t: T["std_msgs/msg/Header"](seq=0, stamp=T["builtin_interfaces/msg/Time"](sec=t // 10**9, nanosec=t % 10**9), frame_id="")
    bag = tmp_path / "log.bag"
    with Writer1(bag) as writer:
        cam = writer.add_connection("/bot/camera_node/image/compressed", "sensor_msgs/msg/CompressedImage", typestore=store)
        pose = writer.add_connection("/bot/lane_filter_node/lane_pose", old, typestore=store)
        for i, shift in enumerate(SHIFTS):
            t = 10**9 + i * 10**8
            jpeg = np.frombuffer(cv2.imencode(".jpg", road_frame(shift=shift))[1].tobytes(), np.uint8)
            writer.write(cam, t, store.serialize_ros1(T["sensor_msgs/msg/CompressedImage"](header=header(t), format="jpeg", data=jpeg),
                                                      "sensor_msgs/msg/CompressedImage"))
            msg = T[old](header=header(t), d=0.2 * shift, sigma_d=0.0, phi=0.1, sigma_phi=0.0, status=0, in_lane=True)
            writer.write(pose, t, store.serialize_ros1(msg, old))
    real = read_bag_frames(bag, PreprocessConfig())
    np.testing.assert_allclose(real.pose[:, 0], -0.2 * SHIFTS, atol=1e-6)
    np.testing.assert_allclose(real.pose[:, 1], -0.1, atol=1e-6)


def test_bag_errors_name_the_file_and_the_topic(tmp_path):
    bag = lane_filter_bag(tmp_path / "lap", storage=StoragePlugin.MCAP, pose_delay_ms=10_000)  # poses from another drive
    with pytest.raises(VisualGapError, match=r"lap: no frame on /bot/image/compressed has a lane pose .* within 0.1 s"):
        read_bag_frames(bag, PreprocessConfig())
    with pytest.raises(ValueError, match=r"lap: no lane pose topic '/bot/lane_pose'"):
        read_bag_frames(bag, PreprocessConfig(), pose_topic="/bot/lane_pose")


def test_visual_gap_command_reads_a_bag(tmp_path, capsys):
    bag = lane_filter_bag(tmp_path / "lap")
    out = tmp_path / "vg"
    assert main(["visual-gap", "--bag", str(bag), "--model", str(MODEL), "--sim-frames", "60", "--out", str(out)]) == 0
    result = json.loads((out / "results.json").read_text())
    assert result["real_frames"] == 12 and result["labelled_real_frames"] == 12
    assert result["labels"] is None and result["frames"].endswith("lap")
    capsys.readouterr()
    assert main(["visual-gap", "--model", str(MODEL)]) == 2
    assert "exactly one of --frames DIR or --bag BAG" in capsys.readouterr().err
