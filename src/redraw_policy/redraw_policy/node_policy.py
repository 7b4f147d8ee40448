"""Node: camera frames in, Duckietown wheel or car commands (and a TwistStamped) out, safely.

Run it in the vehicle's namespace (the launch files do): every topic name below is relative, so
`/<veh>/image/compressed` in, `/<veh>/wheels_cmd` (or `/<veh>/lane_controller/car_cmd`) out, as the
Duckietown ROS 2 stack names them (see README, "What the robot nodes speak").
"""

from __future__ import annotations

import math

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import TwistStamped
from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy.duration import Duration
from rclpy.node import Node
from rclpy.qos import QoSHistoryPolicy, QoSProfile, QoSReliabilityPolicy
from sensor_msgs.msg import CompressedImage
from std_msgs.msg import Float32

from redraw_perception import ContractError
from redraw_perception.node_main import run_node
from redraw_policy.controller import ControllerConfig, PolicyController
from redraw_policy.kinematics import CalibrationError, KinematicsConfig, calibration_path, load_calibration
from redraw_policy.runtime import DriveCommand, zero_command

CAMERA_QOS = QoSProfile(depth=1, history=QoSHistoryPolicy.KEEP_LAST, reliability=QoSReliabilityPolicy.BEST_EFFORT)
COMMAND_PATHS = ("wheels", "car_cmd", "twist")
LEVELS = {"OK": DiagnosticStatus.OK, "WARN": DiagnosticStatus.WARN, "ERROR": DiagnosticStatus.ERROR}
LIVE_PARAMETERS = ("model_path", "gain", "trim")  # the others are read when the node starts


def _period(rate_hz: float) -> float:
    return 1.0 / rate_hz if rate_hz > 0 else 0.0


def _number(name: str, value) -> float | None:
    """A numeric parameter value as float; '' or 'calibration' means unset (take the calibration file's)."""
    if value is None or value in ("", "calibration"):
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"parameter '{name}' is {value!r}, expected a finite number")
    return float(value)


class PolicyNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("policy", **kwargs)

        self._declared: set[str] = set()

        def param(name, default, description, number=False):
            """Declare a parameter; `number`: 1 and 1.0 both accepted (checked by `_number`)."""
            self._declared.add(name)
            return self.declare_parameter(name, default, ParameterDescriptor(description=description, dynamic_typing=number)).value

        veh = self.get_namespace().strip("/") or "duckiebot"
        camera_topic = param("camera_topic", "image/compressed", "camera CompressedImage input (Duckietown ROS 2 camera driver)")
        self.command_path = param("command_path", "wheels", "wheels: WheelsCmdStamped to the wheels driver; car_cmd: "
                                  "Twist2DStamped through Duckietown's car_cmd switch; twist: TwistStamped only")
        if self.command_path not in COMMAND_PATHS:
            raise ValueError(f"parameter 'command_path' is {self.command_path!r}, expected one of {COMMAND_PATHS}")
        wheels_topic = param("wheels_topic", "wheels_cmd", "WheelsCmdStamped output (command_path=wheels)")
        car_cmd_topic = param("car_cmd_topic", "lane_controller/car_cmd", "Twist2DStamped output (command_path=car_cmd)")
        cmd_topic = param("cmd_topic", "policy/cmd", "TwistStamped output, always published (v m/s, omega rad/s)")
        calibration_file = param("calibration_file", calibration_path(veh),
                                 "Duckietown kinematics calibration YAML (gain, trim, ...); missing file: defaults")
        self.file_calibration = self._read_calibration(calibration_file)
        calibration = dict(self.file_calibration)
        for key in ("gain", "trim"):
            override = _number(key, param(key, "calibration", f"wheel {key}; 'calibration': from calibration_file; settable at run time", number=True))
            if override is not None:
                calibration[key] = override
        config = ControllerConfig(
            threads=param("threads", 1, "onnxruntime intra-op threads"),
            stale_timeout_s=_number("stale_timeout", param("stale_timeout", 0.25, "seconds without a frame before the wheels stop", number=True)),
            calibration=calibration,
            min_period_s=_period(_number("max_rate", param("max_rate", 0.0, "maximum command rate in Hz; 0: act on every frame", number=True))),
            reality_gap=param("reality_gap", True, "run the reality-gap meter when the model carries its prior: "
                              "publish KL(posterior || prior) per metered frame, its moving average in diagnostics"),
            gap_window=param("reality_gap_window", 50, "metered frames (10 Hz) in the reality gap's moving average"),
        )
        model_path = param("model_path", "", "ONNX policy from `redraw export`; change it to swap models live")
        self.controller = PolicyController(config)
        if model_path:
            self._load(model_path)
        self.cmd_pub = self.create_publisher(TwistStamped, cmd_topic, 1)
        self.out_pub, self._out_type = self._command_publisher(wheels_topic, car_cmd_topic)
        self.diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 1)
        gap_topic = param("reality_gap_topic", "redraw/reality_gap", "std_msgs/Float32 out: the meter's reading per metered frame")
        self.gap_pub = self.create_publisher(Float32, gap_topic, 10)
        self.create_subscription(CompressedImage, camera_topic, self._on_frame, CAMERA_QOS)
        self.create_timer(0.05, self._on_tick)
        self.create_timer(1.0, self._on_slow_tick)
        self.add_on_set_parameters_callback(self._on_parameters)
        self.get_logger().info(f"commands via {self.command_path}; calibration {calibration} ({calibration_file})")

    def _read_calibration(self, path: str) -> dict[str, float]:
        try:
            return load_calibration(path)
        except CalibrationError as err:
            self.get_logger().warning(f"{err}; using the model's kinematics (gain 1, trim 0)")
            return {}

    def _command_publisher(self, wheels_topic: str, car_cmd_topic: str):
        if self.command_path == "wheels":
            from duckietown_msgs.msg import WheelsCmdStamped
            return self.create_publisher(WheelsCmdStamped, wheels_topic, 1), WheelsCmdStamped
        if self.command_path == "car_cmd":
            from duckietown_msgs.msg import Twist2DStamped
            return self.create_publisher(Twist2DStamped, car_cmd_topic, 1), Twist2DStamped
        return None, None

    def _load(self, path: str) -> bool:
        try:
            self.controller.load_model(path)
        except ContractError as err:
            self.get_logger().error(f"model refused, wheels stay stopped: {err}")
            return False
        self.get_logger().info(f"policy model loaded: {path}; {self.controller.meter_description()}")
        return True

    def _on_parameters(self, params) -> SetParametersResult:
        for p in params:
            if p.name == "model_path" and p.value and not self._load(p.value):
                return SetParametersResult(successful=False, reason=f"cannot load {p.value}")
            if p.name in ("gain", "trim"):
                try:
                    value = _number(p.name, p.value)
                except ValueError as err:
                    return SetParametersResult(successful=False, reason=str(err))
                if value is None:  # back to the calibration file's value (or the kinematics default)
                    value = self.file_calibration.get(p.name, getattr(KinematicsConfig(), p.name))
                self.controller.set_calibration(**{p.name: value})
                self.get_logger().info(f"{p.name} set to {value}")
            elif p.name in self._declared and p.name not in LIVE_PARAMETERS:
                return SetParametersResult(successful=False, reason=f"'{p.name}' is read-only; restart the node to change it")
        return SetParametersResult(successful=True)

    def _on_frame(self, msg: CompressedImage) -> None:
        stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        command = self.controller.on_frame(msg.data, self._now(), stamp)
        if command is not None:
            self._publish(command, msg.header.stamp)
            if command.reality_gap is not None:
                self.gap_pub.publish(Float32(data=float(command.reality_gap)))

    def _on_tick(self) -> None:
        command = self.controller.on_tick(self._now())
        if command is not None:
            self._publish(command, self.get_clock().now().to_msg())

    def _on_slow_tick(self) -> None:
        if self.controller.model_file_changed():
            self._load(self.controller.config.model_path)
        level, message = self.controller.status(self._now())
        values = {**self.controller.latency_stats(), **self.controller.gap_stats(), "frames": self.controller.frames,
                  "zero_commands": self.controller.zero_commands, "command_path": self.command_path}
        status = DiagnosticStatus(level=LEVELS[level], name=f"{self.get_fully_qualified_name()}", message=message,
                                  values=[KeyValue(key=k, value=f"{v:.3f}" if isinstance(v, float) else str(v)) for k, v in values.items()])
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self.diag_pub.publish(array)

    def _publish(self, command: DriveCommand, stamp) -> None:
        if command.error:
            self.get_logger().error(command.error, throttle_duration_sec=1.0)
        msg = TwistStamped()
        msg.header.stamp = stamp
        msg.twist.linear.x, msg.twist.angular.z = command.v, command.omega
        self.cmd_pub.publish(msg)
        if self.out_pub is not None:
            out = self._out_type()
            out.header.stamp = stamp
            if self.command_path == "wheels":
                out.vel_left, out.vel_right = command.wheels
            else:
                out.v, out.omega = command.v, command.omega
            self.out_pub.publish(out)

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def stop(self) -> None:
        """Publish a zero command (shutdown, SIGINT) and wait until subscribers have it."""
        self._publish(zero_command(), self.get_clock().now().to_msg())
        for pub in (self.cmd_pub, self.out_pub):
            if pub is not None:
                pub.wait_for_all_acked(Duration(seconds=0.5))

    def destroy_node(self) -> None:
        if self.context.ok():
            self.stop()
        super().destroy_node()


def main(args: list[str] | None = None) -> None:
    run_node(PolicyNode, args)
