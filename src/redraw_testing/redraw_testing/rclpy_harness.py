"""Real rclpy publish/subscribe for tests, one isolated DDS domain per harness.

Each `RosHarness` owns its own rclpy Context initialised on a unique ROS_DOMAIN_ID with discovery
limited to this host, an executor spinning in a background thread, and a helper node for publishing
and awaiting messages. Leaving the `with` block destroys every node and shuts the context down.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import rclpy
from rclpy.context import Context
from rclpy.executors import MultiThreadedExecutor, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, qos_profile_sensor_data

_counter = itertools.count()
# FastDDS derives ports from the domain id; 0..101 and 215..232 are safe everywhere. Keep to 1..100.
_DOMAIN_SPAN = 100


def isolated_domain_id() -> int:
    """A domain id unlikely to be shared with another test process on this host."""
    return 1 + (os.getpid() * 7 + next(_counter)) % _DOMAIN_SPAN


class Inbox:
    """Messages received on one topic, with a blocking wait."""

    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.received_at: list[float] = []  # time.monotonic() when each message arrived
        self._cond = threading.Condition()

    def put(self, msg: Any) -> None:
        with self._cond:
            self.messages.append(msg)
            self.received_at.append(time.monotonic())
            self._cond.notify_all()

    def wait_for(self, predicate: Callable[[Any], bool] = lambda m: True, timeout: float = 5.0) -> Any:
        """Return the first message (old or new) satisfying `predicate`; raise TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for msg in self.messages:
                    if predicate(msg):
                        return msg
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no matching message within {timeout}s ({len(self.messages)} received)")
                self._cond.wait(remaining)

    def wait_count(self, count: int, timeout: float = 5.0) -> list[Any]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.messages) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"received {len(self.messages)} of {count} messages within {timeout}s")
                self._cond.wait(remaining)
            return list(self.messages)


class RosHarness:
    """Context manager: `with RosHarness() as ros: node = ros.add(MyNode); ros.publish(...)`."""

    def __init__(self, domain_id: int | None = None, threads: int = 2) -> None:
        self.domain_id = isolated_domain_id() if domain_id is None else domain_id
        self.threads = threads  # 1: a SingleThreadedExecutor (least latency per callback)
        self.context = Context()
        self._nodes: list[Node] = []
        self._publishers: dict[str, Any] = {}
        self._thread: threading.Thread | None = None

    def __enter__(self) -> "RosHarness":
        os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
        os.environ["ROS_DOMAIN_ID"] = str(self.domain_id)
        rclpy.init(context=self.context, domain_id=self.domain_id)
        if self.threads == 1:
            self.executor = SingleThreadedExecutor(context=self.context)
        else:
            self.executor = MultiThreadedExecutor(num_threads=self.threads, context=self.context)
        self.node = self.add(lambda **kw: Node(f"test_harness_{self.domain_id}", **kw))
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()
        return self

    def _spin(self) -> None:
        try:
            self.executor.spin()
        except Exception:  # the context was shut down under the executor
            pass

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    def add(self, factory: Callable[..., Node], **kwargs: Any) -> Node:
        """Create a node in this harness's context (`factory(context=..., **kwargs)`) and spin it."""
        node = factory(context=self.context, **kwargs)
        self._nodes.append(node)
        self.executor.add_node(node)
        return node

    def remove(self, node: Node) -> None:
        """Stop spinning `node` and destroy it (e.g. to test what a node does on shutdown)."""
        self.executor.remove_node(node)
        self._nodes.remove(node)
        node.destroy_node()

    def publisher(self, msg_type: type, topic: str, qos: QoSProfile | int = qos_profile_sensor_data) -> Any:
        if topic not in self._publishers:
            self._publishers[topic] = self.node.create_publisher(msg_type, topic, qos)
        return self._publishers[topic]

    def publish(self, msg_type: type, topic: str, msg: Any, qos: QoSProfile | int = qos_profile_sensor_data) -> None:
        self.publisher(msg_type, topic, qos).publish(msg)

    def subscribe(self, msg_type: type, topic: str, qos: QoSProfile | int = 10) -> Inbox:
        inbox = Inbox()
        self.node.create_subscription(msg_type, topic, inbox.put, qos)
        return inbox

    def wait_for_subscribers(self, topic: str, count: int = 1, timeout: float = 5.0) -> None:
        """Block until `topic` has `count` subscribers (so a first message is not lost to discovery)."""
        self._wait(lambda: self.node.count_subscribers(topic) >= count, timeout, f"{count} subscriber(s) on {topic}")

    def wait_for_publishers(self, topic: str, count: int = 1, timeout: float = 5.0) -> None:
        self._wait(lambda: self.node.count_publishers(topic) >= count, timeout, f"{count} publisher(s) on {topic}")

    @staticmethod
    def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
            time.sleep(0.01)

    def shutdown(self) -> None:
        for node in list(self._nodes):
            self.executor.remove_node(node)
            node.destroy_node()
        self._nodes.clear()
        self.executor.shutdown(timeout_sec=1.0)
        if self.context.ok():
            rclpy.shutdown(context=self.context)
        if self._thread is not None:
            self._thread.join(timeout=2.0)
