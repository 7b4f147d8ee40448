"""The logger node through real rclpy, and its bags read back with rosbags and rclpy."""

import json
import time
from pathlib import Path

import pytest
import yaml
from duckietown_msgs.msg import WheelsCmdStamped
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

VEH = "duckiebot"
CAMERA = f"/{VEH}/image/compressed"
CMD = f"/{VEH}/policy/cmd"
MS = 1_000_000


def logger(ros: RosHarness, out: Path, *params: Parameter) -> LoggerNode:
    """A logger node in the vehicle namespace, recording into `out`."""
    return ros.add(LoggerNode, namespace=VEH, parameter_overrides=[Parameter("out_dir", value=str(out)), *params])


def stamped(msg, stamp):
    msg.header.stamp.sec, msg.header.stamp.nanosec = stamp // 1_000_000_000, stamp % 1_000_000_000
    return msg


def read_bags(out: Path, wheels: list | None = None):
    frames, commands, markers = [], [], []
    for bag in sorted(p for p in out.iterdir() if p.is_dir()):
        with Reader(bag) as reader:
            for conn, _, data in reader.messages():
                if conn.topic == CAMERA:
                    frames.append(deserialize_message(bytes(data), CompressedImage))
                elif conn.topic == CMD:
                    commands.append(deserialize_message(bytes(data), TwistStamped))
                elif conn.msgtype == "duckietown_msgs/msg/WheelsCmdStamped":
                    wheels.append(deserialize_message(bytes(data), WheelsCmdStamped))
                else:
                    markers.append(json.loads(typestore().deserialize_cdr(bytes(data), conn.msgtype).data))
    return frames, commands, markers


def wait_until(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def call(ros: RosHarness, service: str):
    client = ros.node.create_client(Trigger, service)
    assert client.wait_for_service(timeout_sec=5.0), f"no service {service}"
    future = client.call_async(Trigger.Request())
    wait_until(future.done)
    return future.result()


def drive(ros: RosHarness, stamps, publish_command) -> None:
    """Publish a frame per stamp at 10 Hz, each followed by its command (stamped 10 ms later)."""
    frame_jpeg = jpeg(road_frame())
    for stamp in stamps:
        ros.publish(CompressedImage, CAMERA, stamped(CompressedImage(format="jpeg", data=frame_jpeg), stamp),
                    qos=qos_profile_sensor_data)
        publish_command(stamp + 10 * MS)
        time.sleep(0.1)


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
        node = logger(ros, out, Parameter("command_source", value="twist"))
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

    def twist(stamp):
        ros.publish(TwistStamped, CMD, stamped(TwistStamped(), stamp), qos=10)

    with RosHarness() as ros:
        node = logger(ros, out, Parameter("command_source", value="twist"), Parameter("autostart", value=False))
        ros.wait_for_subscribers(CAMERA)
        ros.wait_for_subscribers(CMD)
        drive(ros, [1000 * MS + i * 100 * MS for i in range(3)], twist)  # before start: not recorded
        assert node.recorder.stats.frames == 0
        assert call(ros, f"/{VEH}/redraw_logger/start").success and node.recorder.recording
        drive(ros, [5000 * MS + i * 100 * MS for i in range(5)], twist)
        wait_until(lambda: node.recorder.stats.paired == 5)
        assert call(ros, f"/{VEH}/redraw_logger/stop").success and not node.recorder.recording
        drive(ros, [9000 * MS + i * 100 * MS for i in range(4)], twist)  # after stop: not recorded
        time.sleep(0.2)
        assert node.recorder.stats.frames == 5
        ros.remove(node)
    frames, commands, markers = read_bags(out)
    assert len(frames) == len(commands) == 5
    assert all(5000 * MS <= f.header.stamp.sec * 10**9 + f.header.stamp.nanosec < 6000 * MS for f in frames)
    assert [m["event"] for m in markers] == ["start", "end"]


def test_duckietown_wheel_commands_are_recorded_with_the_calibration(tmp_path):
    """Joystick driving through Duckietown's stack: the executed wheel commands become (v, omega)."""
    from duckietown_msgs.msg import WheelsCmdStamped as Wheels
    from redraw_policy.kinematics import KinematicsConfig, twist_to_wheels

    calibration = tmp_path / "kinematics.yaml"
    calibration.write_text("gain: 1.2\ntrim: -0.05\n")
    cfg = KinematicsConfig(gain=1.2, trim=-0.05)
    out = tmp_path / "bags"
    sent = {}

    def wheels(stamp):
        v, omega = 0.2 + stamp % (7 * MS) / (70 * MS), 0.5
        msg = stamped(Wheels(), stamp)
        msg.vel_left, msg.vel_right = twist_to_wheels(v, omega, cfg)
        sent[stamp] = (v, omega)
        ros.publish(Wheels, f"/{VEH}/wheels_cmd_executed", msg, qos=10)

    with RosHarness() as ros:
        node = logger(ros, out, Parameter("calibration_file", value=str(calibration)))  # default: wheels_executed
        ros.wait_for_subscribers(CAMERA)
        ros.wait_for_subscribers(f"/{VEH}/wheels_cmd_executed")
        drive(ros, [2000 * MS + i * 100 * MS for i in range(6)], wheels)
        wait_until(lambda: node.recorder.stats.paired == 6)
        ros.remove(node)
    recorded_wheels = []
    frames, commands, _ = read_bags(out, recorded_wheels)
    assert len(frames) == len(commands) == len(recorded_wheels) == 6
    for cmd in commands:
        v, omega = sent[cmd.header.stamp.sec * 10**9 + cmd.header.stamp.nanosec]
        assert (cmd.twist.linear.x, cmd.twist.angular.z) == pytest.approx((v, omega), abs=1e-5)


def test_car_cmd_commands_are_recorded(tmp_path):
    from duckietown_msgs.msg import Twist2DStamped

    out = tmp_path / "bags"

    def car_cmd(stamp):
        msg = stamped(Twist2DStamped(), stamp)
        msg.v, msg.omega = 0.25, -1.0
        ros.publish(Twist2DStamped, f"/{VEH}/car_cmd", msg, qos=10)

    with RosHarness() as ros:
        node = logger(ros, out, Parameter("command_source", value="car_cmd"))
        ros.wait_for_subscribers(CAMERA)
        ros.wait_for_subscribers(f"/{VEH}/car_cmd")
        drive(ros, [3000 * MS + i * 100 * MS for i in range(4)], car_cmd)
        wait_until(lambda: node.recorder.stats.paired == 4)
        ros.remove(node)
    _, commands, _ = read_bags(out)
    assert [(c.twist.linear.x, c.twist.angular.z) for c in commands] == [(0.25, -1.0)] * 4


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
