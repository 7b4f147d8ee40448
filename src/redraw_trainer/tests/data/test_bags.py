"""Bag -> training arrays: our logger's mcap bags, plain `ros2 bag record` bags, and damaged input."""

import time
from pathlib import Path

import numpy as np
import pytest
from rosbags.rosbag2 import StoragePlugin, Writer

from redraw_logger import messages
from redraw_logger.recorder import EpisodeRecorder
from redraw_perception import PreprocessConfig, Preprocessor
from redraw_policy.kinematics import KinematicsConfig, twist_to_wheels
from redraw_testing.scenes import jpeg, road_frame
from redraw_trainer.data.bags import BagError, default_cache_dir, read_bag

MS = 1_000_000
KIN = KinematicsConfig(v_max=0.5, omega_max=4.0)
CAMERA = "/duckiebot/image/compressed"  # the logger's default: the Duckietown ROS 2 camera topic


def frames(n):
    return [jpeg(road_frame(shift=0.004 * i)) for i in range(n)]


def logger_bag(out: Path, steps: int = 30, gap_at: int | None = None, corrupt_at: int | None = None) -> Path:
    recorder = EpisodeRecorder(out)
    t = 5_000 * MS
    for i, data in enumerate(frames(steps)):
        if i == gap_at:
            t += 1_000 * MS
        recorder.on_frame(t, b"\x00garbage" if i == corrupt_at else data)
        recorder.on_command(t + 3 * MS, 0.25, 0.4 * (i % 3 - 1))
        t += 100 * MS
    recorder.close()
    return out


def plain_bag(out: Path, storage=StoragePlugin.SQLITE3, wheels=False, backwards_at=None, camera=True, extra_type=None):
    """What `ros2 bag record` of a 30 Hz camera and a 10 Hz command topic gives."""
    store = messages.typestore()
    writer = Writer(out, version=8, storage_plugin=storage)
    writer.open()
    cam = writer.add_connection(CAMERA, messages.COMPRESSED_IMAGE, typestore=store) if camera else None
    cmd_type = messages.WHEELS_CMD if wheels else messages.TWIST_STAMPED
    cmd = writer.add_connection("/duckiebot/cmd", cmd_type, typestore=store)
    if extra_type:
        from rosbags.typesys import Stores, get_types_from_msg, get_typestore

        odd_store = get_typestore(Stores.ROS2_JAZZY)
        odd_store.register(get_types_from_msg(extra_type[1], extra_type[0]))
        writer.add_connection("/odd", extra_type[0], typestore=odd_store)
    data = frames(4)
    t = 7_000 * MS
    for i in range(60):
        stamp = t + i * 33 * MS + (i % 2) * MS
        if cam:
            writer.write(cam, stamp, messages.compressed_image(stamp, data[i % 4]))
        if i % 3 == 0:
            cstamp = stamp + 4 * MS
            if backwards_at is not None and i == backwards_at:
                cstamp -= 500 * MS
            payload = messages.wheels_cmd(cstamp, *twist_to_wheels(0.2, 1.0, KIN)) if wheels else messages.twist_stamped(cstamp, 0.2, 1.0)
            writer.write(cmd, stamp + 5 * MS, payload)
    writer.close()
    return out


def test_logger_bag_becomes_sequences_with_episodes_and_actions(tmp_path):
    data, report = read_bag(logger_bag(tmp_path / "bag", gap_at=20), kinematics=KIN, workers=2)
    assert len(data) == 30 and data.num_episodes == 2
    assert data.is_first.nonzero()[0].tolist() == [0, 20]
    np.testing.assert_allclose(data.action[1], [0.5, -0.1], atol=1e-6)  # (0.25 m/s, -0.4 rad/s) / (0.5, 4.0)
    assert data.action[0].tolist() == [0.0, 0.0] and data.image.shape == (30, 64, 64, 3)
    assert data.meta["preprocess"] == PreprocessConfig().to_dict()
    np.testing.assert_array_equal(data.image[0], Preprocessor().from_jpeg(frames(1)[0]))
    assert report.pairing["paired"] == 30 and report.camera_topic == CAMERA


def test_second_read_comes_from_the_cache(tmp_path):
    bag = logger_bag(tmp_path / "bag")
    first, _ = read_bag(bag, kinematics=KIN, workers=1)
    start = time.perf_counter()
    second, _ = read_bag(bag, kinematics=KIN, workers=1)
    assert time.perf_counter() - start < 0.5
    np.testing.assert_array_equal(first.image, second.image)
    assert list(default_cache_dir().glob("*.npz"))  # in the user's cache (a per-test folder here) ...
    assert not (bag / "redraw-cache").exists()  # ... never inside the bag


@pytest.mark.parametrize("storage", [StoragePlugin.SQLITE3, StoragePlugin.MCAP])
def test_plain_ros2_bag_record_pairs_by_stamp(tmp_path, storage):
    data, report = read_bag(plain_bag(tmp_path / "plain", storage), kinematics=KIN, workers=1)
    assert report.pairing["paired"] == 20 and report.pairing["unpaired_frames"] == 40
    assert len(data) == 20 and data.num_episodes == 1
    np.testing.assert_allclose(data.action[1:], [[0.4, 0.25]] * 19, atol=1e-6)


def test_wheel_command_bags_are_converted_to_actions(tmp_path):
    data, report = read_bag(plain_bag(tmp_path / "wheels", wheels=True), kinematics=KIN, workers=1)
    assert report.command_topic == "/duckiebot/cmd"
    np.testing.assert_allclose(data.action[1:], [[0.4, 0.25]] * 19, atol=1e-5)


def test_truncated_mcap_keeps_everything_before_the_damage(tmp_path):
    bag = logger_bag(tmp_path / "bag", steps=40)
    (mcap,) = (bag / "redraw_0000").glob("*.mcap")
    size = mcap.stat().st_size
    with open(mcap, "r+b") as handle:
        handle.truncate(int(size * 0.6))
    data, report = read_bag(bag, kinematics=KIN, workers=1)
    assert 5 < len(data) < 40
    assert any("redraw_0000.mcap: truncated after" in w and "kept the first part" in w for w in report.warnings)


def test_bag_without_camera_topic_names_file_and_topics(tmp_path):
    bag = plain_bag(tmp_path / "nocam", camera=False)
    with pytest.raises(BagError, match=r"nocam: no camera topic of type sensor_msgs/msg/CompressedImage.*/duckiebot/cmd"):
        read_bag(bag, workers=1)


def test_requested_topic_of_unknown_type_is_refused(tmp_path):
    bag = plain_bag(tmp_path / "odd", extra_type=("foo_msgs/msg/Bar", "float64 x\n"))
    with pytest.raises(BagError, match="topic '/odd' has type foo_msgs/msg/Bar, expected one of"):
        read_bag(bag, camera_topic="/odd", workers=1)


def test_stamps_going_backwards_are_reported_and_dropped(tmp_path):
    data, report = read_bag(plain_bag(tmp_path / "back", backwards_at=30), kinematics=KIN, workers=1)
    assert any("header.stamp goes backwards" in w and "back" in w for w in report.warnings)
    assert len(data) == 19


def test_corrupt_jpeg_is_skipped_and_counted(tmp_path):
    data, report = read_bag(logger_bag(tmp_path / "bag", corrupt_at=10), kinematics=KIN, workers=1)
    assert report.corrupt_frames == 1 and len(data) == 29
    assert data.is_first.nonzero()[0].tolist() == [0, 10]  # the frame after the hole starts an episode


def test_missing_directory_is_named(tmp_path):
    with pytest.raises(BagError, match="nowhere: no such file or directory"):
        read_bag(tmp_path / "nowhere", workers=1)
