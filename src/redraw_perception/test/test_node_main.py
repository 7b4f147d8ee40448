"""run_node's executor: the EventsExecutor where rclpy has it, the SingleThreadedExecutor on request."""

from __future__ import annotations

import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from std_msgs.msg import String

from redraw_perception.node_main import make_executor
from redraw_testing.rclpy_harness import isolated_domain_id


def _round_trip(executor, context: Context) -> str:
    node = Node("echo", context=context)
    got: list[str] = []
    node.create_subscription(String, "t", lambda m: got.append(m.data), 10)
    pub = node.create_publisher(String, "t", 10)
    executor.add_node(node)
    try:
        for _ in range(50):
            pub.publish(String(data="hello"))
            executor.spin_once(timeout_sec=0.1)
            if got:
                break
    finally:
        executor.remove_node(node)
        node.destroy_node()
    return got[0] if got else ""


def test_events_executor_by_default_and_single_on_request(monkeypatch) -> None:
    context = Context()
    rclpy.init(context=context, domain_id=isolated_domain_id())
    try:
        monkeypatch.delenv("REDRAW_EXECUTOR", raising=False)
        events = make_executor(context)
        assert type(events).__name__ == "EventsExecutor"  # rclpy 7.1 (Jazzy) has it
        assert _round_trip(events, context) == "hello"
        events.shutdown()
        monkeypatch.setenv("REDRAW_EXECUTOR", "single")
        single = make_executor(context)
        assert isinstance(single, SingleThreadedExecutor)
        assert _round_trip(single, context) == "hello"
        single.shutdown()
    finally:
        rclpy.try_shutdown(context=context)
