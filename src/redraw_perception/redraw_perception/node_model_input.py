"""Node: camera CompressedImage in, the model's 64x64 rgb8 input out (for debugging what the policy sees)."""

from __future__ import annotations

import numpy as np
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from redraw_perception.errors import PreprocessError
from redraw_perception.node_main import run_node
from redraw_perception.preprocess import Preprocessor
from redraw_perception.ros_params import declare_preprocess_parameters


def rgb_to_image_msg(rgb: np.ndarray, header: Header) -> Image:
    """Wrap an HxWx3 uint8 RGB array as sensor_msgs/Image (rgb8) with the given header."""
    height, width = rgb.shape[:2]
    return Image(header=header, height=height, width=width, encoding="rgb8", is_bigendian=0,
                 step=width * 3, data=rgb.tobytes())


class ModelInputNode(Node):
    """Publishes `~/image`: each camera frame after the shared preprocessing, stamp preserved."""

    def __init__(self, **kwargs) -> None:
        super().__init__("model_input", **kwargs)
        topic = self.declare_parameter(
            "camera_topic", "image/compressed",
            ParameterDescriptor(description="sensor_msgs/CompressedImage input (relative: in the vehicle namespace)"),
        ).value
        self.preprocessor = Preprocessor(declare_preprocess_parameters(self))
        self.frames_ok = 0
        self.frames_rejected = 0
        self._publisher = self.create_publisher(Image, "~/image", 1)
        self.create_subscription(CompressedImage, topic, self._on_frame, qos_profile_sensor_data)

    def _on_frame(self, msg: CompressedImage) -> None:
        try:
            rgb = self.preprocessor.from_jpeg(msg.data)
        except PreprocessError as err:
            self.frames_rejected += 1
            stamp = f"{msg.header.stamp.sec}.{msg.header.stamp.nanosec:09d}"
            self.get_logger().error(f"camera frame stamped {stamp} rejected: {err}")
            return
        self.frames_ok += 1
        self._publisher.publish(rgb_to_image_msg(rgb, msg.header))


def main(args: list[str] | None = None) -> None:
    run_node(ModelInputNode, args)
