"""The model-input node through real rclpy: CompressedImage in, 64x64 rgb8 Image out, stamp kept."""

import numpy as np
import pytest
from rcl_interfaces.msg import Log
from sensor_msgs.msg import CompressedImage, Image

from redraw_perception import Preprocessor
from redraw_perception.node_model_input import ModelInputNode
from redraw_testing import RosHarness

from redraw_testing.scenes import jpeg, road_frame

CAMERA = "/duckiebot/image/compressed"
OUTPUT = "/duckiebot/model_input/image"


def compressed(data: bytes, sec: int, nanosec: int = 0) -> CompressedImage:
    msg = CompressedImage(format="jpeg", data=data)
    msg.header.stamp.sec, msg.header.stamp.nanosec = sec, nanosec
    msg.header.frame_id = "camera"
    return msg


@pytest.fixture
def ros():
    with RosHarness() as harness:
        node = harness.add(ModelInputNode, namespace="duckiebot")
        images = harness.subscribe(Image, OUTPUT)
        logs = harness.subscribe(Log, "/rosout")
        harness.wait_for_subscribers(CAMERA)
        harness.wait_for_publishers(OUTPUT)
        yield harness, node, images, logs


def test_frame_in_model_input_out_with_same_stamp(ros):
    harness, _, images, _ = ros
    frame = road_frame()
    data = jpeg(frame)
    harness.publish(CompressedImage, CAMERA, compressed(data, 12, 345))
    img = images.wait_for(timeout=5.0)
    assert (img.width, img.height, img.encoding, img.step) == (64, 64, "rgb8", 192)
    assert (img.header.stamp.sec, img.header.stamp.nanosec, img.header.frame_id) == (12, 345, "camera")
    pixels = np.frombuffer(bytes(img.data), np.uint8).reshape(64, 64, 3)
    np.testing.assert_array_equal(pixels, Preprocessor().from_jpeg(data))


@pytest.mark.parametrize(
    "payload, logged",
    [
        (b"GIF89a not a jpeg", "not a decodable JPEG"),
        (b"", "payload is empty"),
        (jpeg(road_frame(320, 320)), "expected 640x480"),
    ],
    ids=["non-jpeg", "empty", "wrong-size"],
)
def test_bad_frame_is_logged_and_the_next_good_frame_served(ros, payload, logged):
    harness, node, images, logs = ros
    harness.publish(CompressedImage, CAMERA, compressed(payload, 1))
    error = logs.wait_for(lambda m: m.level == Log.ERROR and logged in m.msg, timeout=5.0)
    assert "stamped 1.000000000" in error.msg
    assert node.frames_rejected == 1
    harness.publish(CompressedImage, CAMERA, compressed(jpeg(road_frame()), 2))
    img = images.wait_for(lambda m: m.header.stamp.sec == 2, timeout=5.0)
    assert img.width == 64 and node.frames_ok == 1
