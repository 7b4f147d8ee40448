"""Node: record paired camera frames and executed commands as chunked rosbag2 episodes."""

from __future__ import annotations

from geometry_msgs.msg import TwistStamped
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CompressedImage
from std_srvs.srv import Trigger

from redraw_logger.bag_writer import Topics
from redraw_perception.node_main import run_node
from redraw_logger.messages import stamp_ns
from redraw_logger.pairing import PairingConfig
from redraw_logger.recorder import EpisodeRecorder


class LoggerNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("redraw_logger", **kwargs)

        def param(name, default, description):
            return self.declare_parameter(name, default, ParameterDescriptor(description=description)).value

        veh = param("veh", "duckiebot", "vehicle name, used in default topic names")
        defaults = Topics.for_vehicle(veh)
        topics = Topics(
            camera=param("camera_topic", defaults.camera, "camera CompressedImage"),
            command=param("cmd_topic", defaults.command, "executed TwistStamped command"),
            wheels=param("wheels_topic", defaults.wheels, "executed WheelsCmdStamped (if record_wheels)"),
        )
        self.recorder = EpisodeRecorder(
            param("out_dir", "bags", "directory for the bag chunks"),
            topics,
            PairingConfig(param("tolerance", 0.022, "max frame-command stamp difference, s"),
                          param("min_step", 0.08, "min control period, s"), param("max_step", 0.12, "gap that starts a new episode, s")),
            max_bytes=int(param("split_mb", 256.0, "close a bag chunk at this size, MB") * 2**20),
            max_seconds=param("split_seconds", 300.0, "close a bag chunk after this long, s"),
            recording=param("autostart", True, "record from start-up (else wait for ~/start)"),
        )
        self.create_subscription(CompressedImage, topics.camera, self._on_frame, qos_profile_sensor_data)
        self.create_subscription(TwistStamped, topics.command, self._on_command, 10)
        self.create_service(Trigger, "~/start", self._on_start)
        self.create_service(Trigger, "~/stop", self._on_stop)

    def _on_frame(self, msg: CompressedImage) -> None:
        self.recorder.on_frame(stamp_ns(msg.header), bytes(msg.data), msg.format, msg.header.frame_id)

    def _on_command(self, msg: TwistStamped) -> None:
        self.recorder.on_command(stamp_ns(msg.header), msg.twist.linear.x, msg.twist.angular.z)

    def _on_start(self, request, response):
        self.recorder.start()
        response.success, response.message = True, "recording"
        return response

    def _on_stop(self, request, response):
        self.recorder.stop()
        response.success, response.message = True, f"stopped; {self.recorder.stats.summary()}"
        return response

    def destroy_node(self) -> None:
        self.recorder.close()
        self.get_logger().info(f"bags closed: {self.recorder.stats.summary()}")
        super().destroy_node()


def main(args: list[str] | None = None) -> None:
    run_node(LoggerNode, args)
