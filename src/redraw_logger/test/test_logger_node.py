"""The logger node through real rclpy, and its bags read back with rosbags and rclpy."""

import json
import time
from pathlib import Path

import yaml
from geometry_msgs.msg import TwistStamped
from rclpy.qos import qos_profile_sensor_data
from rclpy.serialization import deserialize_message
from rosbags.rosbag2 import Reader
from sensor_msgs.msg import CompressedImage
from std_srvs.srv import Trigger

from redraw_logger.messages import typestore
from redraw_logger.node_logger import LoggerNode
from redraw_testing import RosHarness
from redraw_testing.scenes import jpeg, road_frame
from rclpy.parameter import Parameter

CAMERA = "/duckiebot/camera_node/image/compressed"
CMD = "/duckiebot/policy/cmd"
MS = 1_000_000


def stamped(msg, stamp):
    msg.header.stamp.sec, msg.header.stamp.nanosec = stamp // 1_000_000_000, stamp % 1_000_000_000
    return msg


def read_bags(out: Path):
    frames, commands, markers = [], [], []
    for bag in sorted(p for p in out.iterdir() if p.is_dir()):
        with Reader(bag) as reader:
            for conn, _, data in reader.messages():
                if conn.topic == CAMERA:
                    frames.append(deserialize_message(bytes(data), CompressedImage))
                elif conn.topic == CMD:
                    commands.append(deserialize_message(bytes(data), TwistStamped))
                else:
                    markers.append(json.loads(typestore().deserialize_cdr(bytes(data), conn.msgtype).data))
    return frames, commands, markers


def test_logger_records_paired_steps_and_splits_episodes(tmp_path):
    out = tmp_path / "bags"
    schedule = []  # (frame stamp, command stamp or None)
    t = 10_000 * MS
    for i in range(24):
        if i == 12:
            t += 600 * MS  # a pause: the next step starts episode 2
        jitter = (i % 4 - 1.5) * 3 * MS  # controlled jitter, within the tolerance
        schedule.append((t, None if i in (5, 17) else int(t + 10 * MS + jitter)))  # 2 frames never get a command
        t += 100 * MS
    frame_jpeg = jpeg(road_frame())
    with RosHarness() as ros:
        node = ros.add(LoggerNode, parameter_overrides=[Parameter("out_dir", value=str(out))])
        ros.wait_for_subscribers(CAMERA)
        ros.wait_for_subscribers(CMD)
        for frame_stamp, cmd_stamp in schedule:
            ros.publish(CompressedImage, CAMERA, stamped(CompressedImage(format="jpeg", data=frame_jpeg), frame_stamp),
                        qos=qos_profile_sensor_data)
            if cmd_stamp is not None:
                cmd = stamped(TwistStamped(), cmd_stamp)
                cmd.twist.linear.x = 0.3
                ros.publish(TwistStamped, CMD, cmd, qos=10)
            time.sleep(0.1)  # 10 Hz
        deadline = time.monotonic() + 5
        while node.recorder.stats.commands < 22 and time.monotonic() < deadline:
            time.sleep(0.05)
        stats = node.recorder.stats
        ros.remove(node)  # closes the open bag chunk
    assert stats.frames == 24 and stats.commands == 22 and stats.unpaired_frames == 2
    frames, commands, markers = read_bags(out)
    paired = [f for f, c in schedule if c is not None]
    assert [f.header.stamp.sec * 10**9 + f.header.stamp.nanosec for f in frames] == paired
    assert all(bytes(f.data) == frame_jpeg for f in frames)
    assert len(commands) == 22 and all(c.twist.linear.x == 0.3 for c in commands)
    # a step without its command leaves a 0.2 s gap, and the pause 0.7 s: both start a new episode
    starts = [m for m in markers if m["event"] == "start"]
    assert [m["stamp_ns"] for m in starts] == [schedule[i][0] for i in (0, 6, 12, 18)]
    assert [m["episode"] for m in markers] == [0, 0, 1, 1, 2, 2, 3, 3]
    assert stats.episodes == 4


def test_start_and_stop_services_gate_recording(tmp_path):
    out = tmp_path / "bags"
    with RosHarness() as ros:
        node = ros.add(LoggerNode, parameter_overrides=[Parameter("out_dir", value=str(out)),
                                                        Parameter("autostart", value=False)])
        client = ros.node.create_client(Trigger, "/redraw_logger/start")
        assert client.wait_for_service(timeout_sec=5.0)
        ros.wait_for_subscribers(CAMERA)
        ros.publish(CompressedImage, CAMERA, stamped(CompressedImage(format="jpeg", data=b"x"), 1), qos=qos_profile_sensor_data)
        time.sleep(0.2)
        assert node.recorder.stats.frames == 0
        future = client.call_async(Trigger.Request())
        deadline = time.monotonic() + 5
        while not future.done() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert future.result().success and node.recorder.recording
        ros.remove(node)


def test_written_bags_are_version_8_mcap(tmp_path):
    from redraw_logger.recorder import EpisodeRecorder

    recorder = EpisodeRecorder(tmp_path / "bags")
    for i in range(3):
        recorder.on_frame(i * 100 * MS, b"\xff\xd8jpeg")
        recorder.on_command(i * 100 * MS, 0.1, 0.2)
    recorder.close()
    (bag,) = recorder.writer.closed
    meta = yaml.safe_load((bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert meta["version"] == 8 and meta["storage_identifier"] == "mcap"
    frames, commands, _ = read_bags(tmp_path / "bags")
    assert len(frames) == 3 and commands[2].twist.angular.z == 0.2 and commands[2].header.stamp.nanosec == 200 * MS
