"""Node: camera frames in, TwistStamped (and optionally Duckietown wheel) commands out, safely."""

from __future__ import annotations

import signal

import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import TwistStamped
from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy.duration import Duration
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions
from rclpy.qos import QoSHistoryPolicy, QoSProfile, QoSReliabilityPolicy
from sensor_msgs.msg import CompressedImage

from redraw_perception import ContractError
from redraw_policy.controller import ControllerConfig, PolicyController
from redraw_policy.runtime import Command, zero_command

CAMERA_QOS = QoSProfile(depth=1, history=QoSHistoryPolicy.KEEP_LAST, reliability=QoSReliabilityPolicy.BEST_EFFORT)


def _period(rate_hz: float) -> float:
    return 1.0 / rate_hz if rate_hz > 0 else 0.0


class PolicyNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("policy", **kwargs)

        def param(name, default, description):
            return self.declare_parameter(name, default, ParameterDescriptor(description=description)).value

        veh = param("veh", "duckiebot", "vehicle name, used in default topic names")
        camera_topic = param("camera_topic", f"/{veh}/camera_node/image/compressed", "camera CompressedImage input")
        cmd_topic = param("cmd_topic", f"/{veh}/policy/cmd", "TwistStamped output (v m/s, omega rad/s)")
        wheels = param("publish_wheels", False, "also publish duckietown_msgs/WheelsCmdStamped")
        wheels_topic = param("wheels_topic", f"/{veh}/wheels_driver_node/wheels_cmd", "wheel command output")
        config = ControllerConfig(
            threads=param("threads", 1, "onnxruntime intra-op threads"),
            stale_timeout_s=param("stale_timeout", 0.25, "seconds without a frame before the wheels stop"),
            gain=param("gain", 1.0, "wheel gain (robot calibration)"),
            trim=param("trim", 0.0, "wheel trim (robot calibration)"),
            min_period_s=_period(param("max_rate", 0.0, "maximum command rate in Hz; 0: act on every frame")),
        )
        model_path = param("model_path", "", "ONNX policy from `redraw export`; change it to swap models live")
        self.controller = PolicyController(config)
        if model_path:
            self._load(model_path)
        self.cmd_pub = self.create_publisher(TwistStamped, cmd_topic, 1)
        self.wheels_pub = self._wheels_publisher(wheels_topic) if wheels else None
        self.diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 1)
        self.create_subscription(CompressedImage, camera_topic, self._on_frame, CAMERA_QOS)
        self.create_timer(0.05, self._on_tick)
        self.create_timer(1.0, self._on_slow_tick)
        self.add_on_set_parameters_callback(self._on_parameters)

    def _wheels_publisher(self, topic: str):
        try:
            from duckietown_msgs.msg import WheelsCmdStamped
        except ImportError:
            self.get_logger().error("publish_wheels is set but duckietown_msgs is not installed; TwistStamped only")
            return None
        self._wheels_type = WheelsCmdStamped
        return self.create_publisher(WheelsCmdStamped, topic, 1)

    def _load(self, path: str) -> bool:
        try:
            self.controller.load_model(path)
        except ContractError as err:
            self.get_logger().error(f"model refused, wheels stay stopped: {err}")
            return False
        self.get_logger().info(f"policy model loaded: {path}")
        return True

    def _on_parameters(self, params) -> SetParametersResult:
        for p in params:
            if p.name == "model_path" and p.value and not self._load(p.value):
                return SetParametersResult(successful=False, reason=f"cannot load {p.value}")
        return SetParametersResult(successful=True)

    def _on_frame(self, msg: CompressedImage) -> None:
        command = self.controller.on_frame(msg.data, self._now())
        if command is not None:
            self._publish(command, msg.header.stamp)

    def _on_tick(self) -> None:
        command = self.controller.on_tick(self._now())
        if command is not None:
            self._publish(command, self.get_clock().now().to_msg())

    def _on_slow_tick(self) -> None:
        if self.controller.model_file_changed():
            self._load(self.controller.config.model_path)
        stats = self.controller.latency_stats()
        values = {**stats, "frames": self.controller.frames, "zero_commands": self.controller.zero_commands}
        status = DiagnosticStatus(level=DiagnosticStatus.OK, name="redraw_policy", message="latency",
                                  values=[KeyValue(key=k, value=f"{v:.3f}" if isinstance(v, float) else str(v)) for k, v in values.items()])
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self.diag_pub.publish(array)

    def _publish(self, command: Command, stamp) -> None:
        if command.error:
            self.get_logger().error(command.error, throttle_duration_sec=1.0)
        msg = TwistStamped()
        msg.header.stamp = stamp
        msg.twist.linear.x, msg.twist.angular.z = command.v, command.omega
        self.cmd_pub.publish(msg)
        if self.wheels_pub is not None:
            wheels = self._wheels_type()
            wheels.header.stamp = stamp
            wheels.vel_left, wheels.vel_right = command.wheels
            self.wheels_pub.publish(wheels)

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def stop(self) -> None:
        """Publish a zero command (shutdown, SIGINT)."""
        self._publish(zero_command(), self.get_clock().now().to_msg())
        # the process may exit next: make sure subscribers have the zero command first
        self.cmd_pub.wait_for_all_acked(Duration(seconds=0.5))
        if self.wheels_pub is not None:
            self.wheels_pub.wait_for_all_acked(Duration(seconds=0.5))

    def destroy_node(self) -> None:
        if self.context.ok():
            self.stop()
        super().destroy_node()


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def main(args: list[str] | None = None) -> None:
    # Handle SIGINT/SIGTERM ourselves: rclpy's handler would shut the context down before the zero command.
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    node = PolicyNode()
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, rclpy.executors.ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
