"""Two Duckiebots on one DDS domain: each robot's stack (policy + logger, in its own namespace) hears only
its own camera and drives only its own wheels."""

import time

from duckietown_msgs.msg import WheelsCmdStamped
from rclpy.parameter import Parameter
from sensor_msgs.msg import CompressedImage

from redraw_logger.node_logger import LoggerNode
from redraw_policy.node_policy import CAMERA_QOS, PolicyNode
from redraw_testing import RosHarness
from redraw_testing.onnx_models import make_onnx_policy
from redraw_testing.scenes import jpeg, road_frame


def test_two_namespaced_stacks_do_not_cross_talk(tmp_path):
    model = make_onnx_policy(tmp_path / "p.onnx", scale=(0, 0), bias=(0.5, 0.1))
    frame = jpeg(road_frame())
    with RosHarness() as ros:
        loggers, wheels = {}, {}
        for robot in ("robot_a", "robot_b"):
            ros.add(PolicyNode, namespace=robot, parameter_overrides=[Parameter("model_path", value=str(model))])
            loggers[robot] = ros.add(LoggerNode, namespace=robot, parameter_overrides=[
                Parameter("out_dir", value=str(tmp_path / robot)), Parameter("command_source", value="twist")])
            wheels[robot] = ros.subscribe(WheelsCmdStamped, f"/{robot}/wheels_cmd")
            ros.wait_for_subscribers(f"/{robot}/image/compressed", count=2)  # policy and logger
            ros.wait_for_subscribers(f"/{robot}/policy/cmd")  # the logger hears its own policy
        for i in range(12):  # robot_a's camera only, about 10 Hz, stamped with the clock as a camera does
            msg = CompressedImage(format="jpeg", data=frame)
            stamp = time.time_ns()
            msg.header.stamp.sec, msg.header.stamp.nanosec = stamp // 10**9, stamp % 10**9
            for _ in range(20):  # best effort: resend until answered
                ros.publish(CompressedImage, "/robot_a/image/compressed", msg, qos=CAMERA_QOS)
                try:
                    wheels["robot_a"].wait_for(lambda m: m.header.stamp == msg.header.stamp and m.vel_left > 0, timeout=0.5)
                    break
                except TimeoutError:
                    continue
            else:
                raise AssertionError(f"robot_a never answered frame {i}")
            time.sleep(max(0.0, 0.1 - (time.time_ns() - stamp) / 1e9))
        time.sleep(0.3)
        assert not [m for m in wheels["robot_b"].messages if m.vel_left != 0 or m.vel_right != 0], "robot_b moved"
        assert loggers["robot_a"].recorder.stats.paired >= 6  # its own frames with its own policy's commands
        # robot_b's logger saw no frame (only its own policy's stale-camera zero commands): nothing recorded
        assert loggers["robot_b"].recorder.stats.frames == 0 and loggers["robot_b"].recorder.stats.paired == 0
        names = ros.node.get_node_names_and_namespaces()
        for robot in ("robot_a", "robot_b"):
            assert ("policy", f"/{robot}") in names and ("redraw_logger", f"/{robot}") in names
