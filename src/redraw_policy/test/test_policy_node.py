"""The policy node through real rclpy: frames in, Duckietown wheel commands out; stale, NaN and shutdown stop the wheels."""

import os
import signal
import subprocess
import sys
import time

import pytest
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from duckietown_msgs.msg import Twist2DStamped, WheelsCmdStamped
from geometry_msgs.msg import TwistStamped
from rclpy.parameter import Parameter
from sensor_msgs.msg import CompressedImage
from std_msgs.msg import Float32

from redraw_policy.kinematics import KinematicsConfig, action_to_twist, twist_to_wheels
from redraw_policy.node_policy import CAMERA_QOS, PolicyNode
from redraw_testing import RosHarness
from redraw_testing.onnx_models import make_onnx_meter_policy, make_onnx_policy
from redraw_testing.scenes import jpeg, road_frame

VEH = "duckiebot"
# Topic names a stock Duckiebot's ROS 2 stack uses (camera driver and wheels driver, in the vehicle namespace)
CAMERA = f"/{VEH}/image/compressed"
WHEELS = f"/{VEH}/wheels_cmd"
CAR_CMD = f"/{VEH}/lane_controller/car_cmd"
CMD = f"/{VEH}/policy/cmd"
FRAME = jpeg(road_frame())
MODEL_KINEMATICS = {"v_max": 0.5, "omega_max": 4.0}  # what make_onnx_policy stores


def frame(sec: int, nanosec: int = 0) -> CompressedImage:
    msg = CompressedImage(format="jpeg", data=FRAME)
    msg.header.stamp.sec, msg.header.stamp.nanosec = sec, nanosec
    return msg


def start(ros: RosHarness, model_path, namespace: str = VEH, params=(), topic: str = WHEELS, msg_type=WheelsCmdStamped):
    """A policy node in `namespace` and an inbox on its command output."""
    overrides = [Parameter("model_path", value=str(model_path)), *params]
    node = ros.add(PolicyNode, namespace=namespace, parameter_overrides=overrides)
    commands = ros.subscribe(msg_type, topic, qos=10)
    ros.wait_for_subscribers(f"/{namespace}/image/compressed")
    ros.wait_for_publishers(topic)
    return node, commands


def is_stamp(sec, nanosec=0):
    return lambda m: m.header.stamp.sec == sec and m.header.stamp.nanosec == nanosec


def send(ros: RosHarness, commands, sec: int, nanosec: int = 0, attempts: int = 10, camera: str = CAMERA):
    """Publish a frame and return the command stamped with it; camera QoS is best effort, so resend if lost."""
    for _ in range(attempts):
        ros.publish(CompressedImage, camera, frame(sec, nanosec), qos=CAMERA_QOS)
        try:
            return commands.wait_for(is_stamp(sec, nanosec), timeout=0.5)
        except TimeoutError:
            continue
    raise TimeoutError(f"no command stamped {sec}.{nanosec} after {attempts} frames")


def expected_wheels(action, **calibration) -> tuple[float, float]:
    cfg = KinematicsConfig(**{**MODEL_KINEMATICS, **calibration})
    return twist_to_wheels(*action_to_twist(action, cfg), cfg)


def test_frame_in_wheel_command_out_on_the_duckietown_topic(tmp_path):
    with RosHarness() as ros:
        _, wheels = start(ros, make_onnx_policy(tmp_path / "p.onnx", scale=(0, 0), bias=(0.6, 0.2)))
        cmd = send(ros, wheels, 42, 7)
        assert isinstance(cmd, WheelsCmdStamped)
        assert (cmd.vel_left, cmd.vel_right) == pytest.approx(expected_wheels([0.6, 0.2]), abs=1e-6)
        assert cmd.vel_right > cmd.vel_left > 0.0  # forward and turning left


def test_car_cmd_path_publishes_twist2d_for_duckietowns_switch(tmp_path):
    with RosHarness() as ros:
        _, car = start(ros, make_onnx_policy(tmp_path / "p.onnx", scale=(0, 0), bias=(0.6, 0.2)),
                       params=[Parameter("command_path", value="car_cmd")], topic=CAR_CMD, msg_type=Twist2DStamped)
        twist = ros.subscribe(TwistStamped, CMD)
        cmd = send(ros, car, 3)
        assert (cmd.v, cmd.omega) == pytest.approx((0.3, 0.8), abs=1e-6)  # 0.6 * v_max, 0.2 * omega_max
        assert twist.wait_for(is_stamp(3)).twist.linear.x == pytest.approx(0.3)


def test_calibration_file_gain_and_trim_are_applied_and_launch_values_override(tmp_path):
    calibration = tmp_path / "kinematics" / f"{VEH}.yaml"
    calibration.parent.mkdir()
    calibration.write_text("gain: 1.5\ntrim: 0.1\nbaseline: 0.1\nradius: 0.0318\nk: 27.0\nlimit: 1.0\nv_max: 1.0\n")
    model = make_onnx_policy(tmp_path / "p.onnx", scale=(0, 0), bias=(0.5, 0.0))
    with RosHarness() as ros:
        _, wheels = start(ros, model, params=[Parameter("calibration_file", value=str(calibration))])
        cmd = send(ros, wheels, 1)
        assert (cmd.vel_left, cmd.vel_right) == pytest.approx(expected_wheels([0.5, 0.0], gain=1.5, trim=0.1), abs=1e-6)
        assert cmd.vel_right > cmd.vel_left  # trim > 0: the right wheel runs faster
    with RosHarness() as ros:  # an integer gain from the command line is accepted and wins over the file
        node, wheels = start(ros, model, params=[Parameter("calibration_file", value=str(calibration)), Parameter("gain", value=2)])
        cmd = send(ros, wheels, 2)
        assert (cmd.vel_left, cmd.vel_right) == pytest.approx(expected_wheels([0.5, 0.0], gain=2.0, trim=0.1), abs=1e-6)
        # 'calibration' at run time goes back to the file's value, not to the launch override
        assert node.set_parameters([Parameter("gain", value="calibration")])[0].successful
        cmd = send(ros, wheels, 3)
        assert (cmd.vel_left, cmd.vel_right) == pytest.approx(expected_wheels([0.5, 0.0], gain=1.5, trim=0.1), abs=1e-6)


def test_gain_and_trim_change_at_run_time_and_the_rest_is_read_only(tmp_path):
    with RosHarness() as ros:
        node, wheels = start(ros, make_onnx_policy(tmp_path / "p.onnx", scale=(0, 0), bias=(0.5, 0.0)))
        before = send(ros, wheels, 1)
        assert before.vel_left == pytest.approx(before.vel_right)
        assert node.set_parameters([Parameter("trim", value=0.2)])[0].successful
        after = send(ros, wheels, 2)
        assert (after.vel_left, after.vel_right) == pytest.approx(expected_wheels([0.5, 0.0], trim=0.2), abs=1e-6)
        assert not node.set_parameters([Parameter("gain", value="fast")])[0].successful
        refused = node.set_parameters([Parameter("stale_timeout", value=9.0)])[0]
        assert not refused.successful and "read-only" in refused.reason


def test_two_namespaced_robots_on_one_domain_do_not_cross_talk(tmp_path):
    with RosHarness() as ros:
        _, wheels_a = start(ros, make_onnx_policy(tmp_path / "a.onnx", scale=(0, 0), bias=(0.2, 0.0)), namespace="robot_a",
                            topic="/robot_a/wheels_cmd")
        _, wheels_b = start(ros, make_onnx_policy(tmp_path / "b.onnx", scale=(0, 0), bias=(0.8, 0.0)), namespace="robot_b",
                            topic="/robot_b/wheels_cmd")
        a = send(ros, wheels_a, 7, camera="/robot_a/image/compressed")
        b = send(ros, wheels_b, 8, camera="/robot_b/image/compressed")
        assert a.vel_left == pytest.approx(expected_wheels([0.2, 0.0])[0], abs=1e-6)
        assert b.vel_left == pytest.approx(expected_wheels([0.8, 0.0])[0], abs=1e-6)
        time.sleep(0.2)
        assert not any(is_stamp(8)(m) for m in wheels_a.messages), "robot_a acted on robot_b's frame"
        assert not any(is_stamp(7)(m) for m in wheels_b.messages), "robot_b acted on robot_a's frame"
        names = ros.node.get_node_names_and_namespaces()
        assert ("policy", "/robot_a") in names and ("policy", "/robot_b") in names


def test_diagnostics_report_per_stage_latency(tmp_path):
    with RosHarness() as ros:
        _, wheels = start(ros, make_onnx_policy(tmp_path / "p.onnx"))
        diagnostics = ros.subscribe(DiagnosticArray, "/diagnostics")
        for sec in range(1, 6):
            send(ros, wheels, sec)
        report = diagnostics.wait_for(lambda m: any(kv.key == "frames" and int(kv.value) >= 5 for kv in m.status[0].values),
                                      timeout=3.0)
        values = {kv.key: kv.value for kv in report.status[0].values}
        for key in ("p50_ms", "p99_ms", "preprocess_p50_ms", "preprocess_p99_ms", "inference_p50_ms", "inference_p99_ms"):
            assert float(values[key]) > 0.0, key
        assert float(values["p99_ms"]) >= float(values["preprocess_p99_ms"])


def test_diagnostic_levels_say_what_is_wrong(tmp_path):
    """ERROR without a model or frames, OK while frames flow, WARN after an unusable model output."""
    def level(diagnostics, after: float, timeout: float = 4.0) -> DiagnosticStatus:
        return diagnostics.wait_for(lambda m: diagnostics.received_at[diagnostics.messages.index(m)] > after,
                                    timeout=timeout).status[0]

    with RosHarness() as ros:
        ros.add(PolicyNode, namespace="nomodel")
        diagnostics = ros.subscribe(DiagnosticArray, "/diagnostics")
        status = level(diagnostics, time.monotonic())
        assert status.level == DiagnosticStatus.ERROR and "no model" in status.message
    with RosHarness() as ros:
        _, wheels = start(ros, make_onnx_policy(tmp_path / "p.onnx"))
        diagnostics = ros.subscribe(DiagnosticArray, "/diagnostics")
        stop = time.monotonic() + 2.5  # frames at 20 Hz across at least one diagnostics tick
        sec = 100
        while time.monotonic() < stop:
            send(ros, wheels, sec)
            sec += 1
            time.sleep(0.05)
        statuses = [m.status[0] for m, t in zip(diagnostics.messages, diagnostics.received_at) if t < stop - 0.2]
        assert any(s.level == DiagnosticStatus.OK and s.message == "driving" for s in statuses)
        status = level(diagnostics, time.monotonic() + 0.5)  # frames have stopped: stale
        assert status.level == DiagnosticStatus.ERROR and "stale" in status.message
    with RosHarness() as ros:
        _, wheels = start(ros, make_onnx_policy(tmp_path / "nan.onnx", nan=True))
        diagnostics = ros.subscribe(DiagnosticArray, "/diagnostics")
        for sec in range(1, 40):  # frames keep coming (not stale), every output is NaN
            send(ros, wheels, sec)
            time.sleep(0.05)
            if any(m.status[0].level == DiagnosticStatus.WARN for m in diagnostics.messages):
                break
        status = diagnostics.wait_for(lambda m: m.status[0].level == DiagnosticStatus.WARN, timeout=0.1).status[0]
        assert "not a finite" in status.message


def test_reality_gap_topic_carries_finite_readings_and_diagnostics_warn_above_the_threshold(tmp_path):
    """A file with the meter: one reading per frame stamped a control period after the last, on
    redraw/reality_gap; its moving average in diagnostics, WARN above the file's threshold."""
    import math

    expected = 4 * (0.7 * math.log(0.7 * 3) + 2 * 0.15 * math.log(0.15 * 3))  # the test file's posterior vs uniform
    with RosHarness() as ros:
        _, wheels = start(ros, make_onnx_meter_policy(tmp_path / "m.onnx", groups=4, classes=3, threshold=0.5))
        gaps = ros.subscribe(Float32, f"/{VEH}/redraw/reality_gap", qos=10)
        diagnostics = ros.subscribe(DiagnosticArray, "/diagnostics")
        ros.wait_for_publishers(f"/{VEH}/redraw/reality_gap")
        stop, k = time.monotonic() + 2.5, 0  # frames across at least one diagnostics tick (1 s)
        while time.monotonic() < stop:
            send(ros, wheels, 50 + k // 10, (k % 10) * 100_000_000)  # 10 Hz by their stamps, however fast they come
            k += 1
            time.sleep(0.05)
        readings = [m.data for m in gaps.wait_count(8, timeout=3.0)]
        assert all(math.isfinite(r) and r == pytest.approx(expected, rel=1e-4) for r in readings), readings
        reports = [m.status[0] for m, t in zip(diagnostics.messages, diagnostics.received_at)
                   if t < stop - 0.2 and any(kv.key == "reality_gap_avg" for kv in m.status[0].values)]
        assert reports, "no diagnostics with the reality gap while frames flowed"
        report = reports[-1]
        values = {kv.key: kv.value for kv in report.values}
        assert float(values["reality_gap_avg"]) == pytest.approx(expected, rel=1e-3)
        assert float(values["reality_gap_threshold"]) == 0.5
        assert report.level == DiagnosticStatus.WARN and "reality gap" in report.message


def test_no_reality_gap_readings_from_a_file_without_the_meter(tmp_path):
    with RosHarness() as ros:
        _, wheels = start(ros, make_onnx_policy(tmp_path / "p.onnx"))
        gaps = ros.subscribe(Float32, f"/{VEH}/redraw/reality_gap", qos=10)
        for k in range(4):
            send(ros, wheels, 60, k * 100_000_000)
        time.sleep(0.3)
        assert gaps.messages == []


def test_stale_camera_stops_the_wheels_after_the_timeout_not_before(tmp_path):
    """The watchdog (0.25 s) sends a zero command once frames stop: not earlier, and not much later."""
    with RosHarness() as ros:
        _, wheels = start(ros, make_onnx_policy(tmp_path / "p.onnx", scale=(0, 0), bias=(0.5, 0.0)))
        moving = send(ros, wheels, 5)
        last_frame_at = wheels.received_at[wheels.messages.index(moving)]
        zero = wheels.wait_for(lambda m: m.vel_left == 0.0 and m.vel_right == 0.0
                               and wheels.received_at[wheels.messages.index(m)] > last_frame_at, timeout=3.0)
        delay = wheels.received_at[wheels.messages.index(zero)] - last_frame_at
        # lower bound: the timeout minus the frame's own latency; upper: timeout + tick (0.05 s) + a loaded machine's slack
        assert 0.2 <= delay <= 1.5, f"zero command {delay:.3f} s after the last frame, expected about 0.25-0.30 s"


def test_nan_model_gives_zero_commands(tmp_path):
    with RosHarness() as ros:
        node, wheels = start(ros, make_onnx_policy(tmp_path / "nan.onnx", nan=True))
        cmd = send(ros, wheels, 9)
        assert cmd.vel_left == 0.0 and cmd.vel_right == 0.0
        assert node.controller.zero_commands >= 1


def test_shutdown_publishes_zero(tmp_path):
    with RosHarness() as ros:
        node, wheels = start(ros, make_onnx_policy(tmp_path / "p.onnx", bias=(0.5, 0.5)))
        send(ros, wheels, 11)
        before = len(wheels.messages)
        ros.remove(node)
        last = wheels.wait_for(lambda m: wheels.messages.index(m) >= before, timeout=3.0)
        assert last.vel_left == 0.0 and last.vel_right == 0.0


def test_model_swaps_at_run_time_through_the_parameter(tmp_path):
    with RosHarness() as ros:
        node, twist = start(ros, make_onnx_policy(tmp_path / "a.onnx", scale=(0, 0), bias=(0.2, 0.0)), topic=CMD,
                            msg_type=TwistStamped)
        assert send(ros, twist, 1).twist.linear.x == pytest.approx(0.1)
        result = node.set_parameters([Parameter("model_path", value=str(make_onnx_policy(tmp_path / "b.onnx", scale=(0, 0), bias=(0.8, 0.0))))])
        assert result[0].successful
        assert send(ros, twist, 2).twist.linear.x == pytest.approx(0.4)
        refused = node.set_parameters([Parameter("model_path", value=str(tmp_path / "missing.onnx"))])
        assert not refused[0].successful
        assert send(ros, twist, 3).twist.linear.x == pytest.approx(0.4)


@pytest.fixture
def busy_cores():
    """Two CPU-bound processes beside the test (this machine has two cores): a loaded robot or CI box."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    yield
    for proc in procs:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_the_node_process_publishes_zero_and_exits_on_signals_with_both_cores_busy(tmp_path, sig, busy_cores):
    model = make_onnx_policy(tmp_path / "p.onnx", bias=(0.5, 0.5))
    with RosHarness() as ros:
        wheels = ros.subscribe(WheelsCmdStamped, WHEELS, qos=10)
        env = {**os.environ, "ROS_DOMAIN_ID": str(ros.domain_id), "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}
        proc = subprocess.Popen([sys.executable, "-c", "from redraw_policy.node_policy import main; main()",
                                 "--ros-args", "-r", f"__ns:=/{VEH}", "-p", f"model_path:={model}"], env=env)
        try:
            ros.wait_for_subscribers(CAMERA, timeout=60.0)
            ros.wait_for_publishers(WHEELS, timeout=60.0)
            moving = None
            for _ in range(100):  # best effort across processes: resend until the node has answered
                ros.publish(CompressedImage, CAMERA, frame(21), qos=CAMERA_QOS)
                try:
                    moving = wheels.wait_for(is_stamp(21), timeout=0.2)
                    break
                except TimeoutError:
                    continue
            assert moving is not None, "the node never answered a frame"
            assert moving.vel_left > 0.0
            before = len(wheels.messages)
            signalled = time.monotonic()
            proc.send_signal(sig)
            assert proc.wait(timeout=30) == 0
            exit_s = time.monotonic() - signalled
            assert exit_s <= 2.0, f"the node took {exit_s:.2f} s to exit after {sig.name}"
            last = wheels.wait_for(lambda m: wheels.messages.index(m) >= before, timeout=3.0)
            assert last.vel_left == 0.0 and last.vel_right == 0.0
        finally:
            proc.kill()
