"""Node: record paired camera frames and executed commands as chunked rosbag2 episodes.

Run it in the vehicle's namespace (the launch files do). The command it pairs with each frame comes
from one source, chosen by `command_source`:
  wheels_executed  Duckietown's `wheels_cmd_executed` (WheelsCmdStamped): whatever drove the wheels,
                   joystick or policy; turned back into (v, omega) with the robot's calibration;
  car_cmd          Duckietown's `car_cmd` (Twist2DStamped), the car_cmd switch's output;
  twist            a TwistStamped (e.g. the policy node's `policy/cmd`, or any other controller).
"""

from __future__ import annotations

from geometry_msgs.msg import TwistStamped
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CompressedImage
from std_srvs.srv import Trigger

from redraw_logger.bag_writer import Topics
from redraw_logger.messages import stamp_ns
from redraw_logger.pairing import PairingConfig
from redraw_logger.recorder import EpisodeRecorder
from redraw_perception.node_main import run_node
from redraw_policy.kinematics import CalibrationError, KinematicsConfig, calibration_path, load_calibration, wheels_to_twist

COMMAND_SOURCES = ("wheels_executed", "car_cmd", "twist")


class LoggerNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("redraw_logger", **kwargs)

        def param(name, default, description, number=False):
            return self.declare_parameter(name, default, ParameterDescriptor(description=description, dynamic_typing=number)).value

        veh = self.get_namespace().strip("/") or "duckiebot"
        camera = param("camera_topic", "image/compressed", "camera CompressedImage")
        self.source = param("command_source", "wheels_executed", f"where executed commands come from: {', '.join(COMMAND_SOURCES)}")
        if self.source not in COMMAND_SOURCES:
            raise ValueError(f"parameter 'command_source' is {self.source!r}, expected one of {COMMAND_SOURCES}")
        command = {
            "twist": param("cmd_topic", "policy/cmd", "TwistStamped commands (command_source=twist)"),
            "car_cmd": param("car_cmd_topic", "car_cmd", "Twist2DStamped commands (command_source=car_cmd)"),
            "wheels_executed": param("wheels_executed_topic", "wheels_cmd_executed",
                                     "WheelsCmdStamped executed by the wheels driver (command_source=wheels_executed)"),
        }[self.source]
        calibration_file = param("calibration_file", calibration_path(veh), "Duckietown kinematics calibration YAML")
        self.kinematics = KinematicsConfig(**self._read_calibration(calibration_file))
        resolve = self.resolve_topic_name
        topics = Topics(camera=resolve(camera), command=resolve(param("bag_command_topic", "policy/cmd",
                        "topic the paired (v, omega) commands are written under in the bag")),
                        wheels=resolve(command), episode=resolve("redraw/episode"))
        self.recorder = EpisodeRecorder(
            param("out_dir", "bags", "directory for the bag chunks"),
            topics,
            PairingConfig(param("tolerance", 0.022, "max frame-command stamp difference, s", True),
                          param("min_step", 0.08, "min control period, s", True),
                          param("max_step", 0.12, "gap that starts a new episode, s", True)),
            max_bytes=int(param("split_mb", 256.0, "close a bag chunk at this size, MB", True) * 2**20),
            max_seconds=float(param("split_seconds", 300.0, "close a bag chunk after this long, s", True)),
            wheels=self.source == "wheels_executed",
            recording=param("autostart", True, "record from start-up (else wait for ~/start)"),
        )
        self.create_subscription(CompressedImage, camera, self._on_frame, qos_profile_sensor_data)
        self._subscribe_commands(command)
        self.create_service(Trigger, "~/start", self._on_start)
        self.create_service(Trigger, "~/stop", self._on_stop)
        self.get_logger().info(f"recording {topics.camera} with commands from {resolve(command)} ({self.source})")

    def _read_calibration(self, path: str) -> dict[str, float]:
        try:
            return load_calibration(path)
        except CalibrationError as err:
            if self.source == "wheels_executed":
                self.get_logger().warning(f"{err}; converting wheel commands with gain 1, trim 0")
            return {}

    def _subscribe_commands(self, topic: str) -> None:
        if self.source == "twist":
            self.create_subscription(TwistStamped, topic, self._on_twist, 10)
            return
        from duckietown_msgs.msg import Twist2DStamped, WheelsCmdStamped

        if self.source == "car_cmd":
            self.create_subscription(Twist2DStamped, topic, self._on_car_cmd, 10)
        else:
            self.create_subscription(WheelsCmdStamped, topic, self._on_wheels, 10)

    def _on_frame(self, msg: CompressedImage) -> None:
        self.recorder.on_frame(stamp_ns(msg.header), bytes(msg.data), msg.format, msg.header.frame_id)

    def _on_twist(self, msg: TwistStamped) -> None:
        self.recorder.on_command(stamp_ns(msg.header), msg.twist.linear.x, msg.twist.angular.z)

    def _on_car_cmd(self, msg) -> None:
        self.recorder.on_command(stamp_ns(msg.header), msg.v, msg.omega)

    def _on_wheels(self, msg) -> None:
        v, omega = wheels_to_twist(msg.vel_left, msg.vel_right, self.kinematics)
        self.recorder.on_command(stamp_ns(msg.header), v, omega, (msg.vel_left, msg.vel_right))

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
