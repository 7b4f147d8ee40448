"""Run a node until SIGINT or SIGTERM, then let it stop safely before the process exits.

rclpy's own signal handler shuts the context down before a node can publish its last message, and a
KeyboardInterrupt raised asynchronously can land anywhere inside the executor (under CPU load it hung
the policy node for over 10 s). Here the handler only sets a flag; the spin loop polls it between
short waits, so the node's `destroy_node` (zero command, bag close) always runs on a live context.

The executor is rclpy's EventsExecutor (its C++ event queue) where this rclpy has it (Jazzy 7.1 does), else
the SingleThreadedExecutor; `REDRAW_EXECUTOR=single` forces the latter. Measured here (benchmarks/README.md,
"camera -> wheels"): one CompressedImage publish -> callback at 30 Hz with the policy node's 20 Hz timer
beside it, p50/p90 0.33-0.40/0.41-0.44 ms against 0.47/0.57-0.61 ms for `spin_once(timeout_sec=0.1)` on the
SingleThreadedExecutor, whose every wait also creates and destroys a timeout timer.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable

import rclpy
from rclpy.context import Context
from rclpy.executors import Executor, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

POLL_S = 0.1  # longest wait between two checks of the stop flag


def make_executor(context: Context | None = None) -> Executor:
    """EventsExecutor when available and not turned off with REDRAW_EXECUTOR=single, else SingleThreadedExecutor."""
    if os.environ.get("REDRAW_EXECUTOR", "events") != "single":
        try:
            from rclpy.experimental import EventsExecutor
        except ImportError:  # an rclpy without it
            pass
        else:
            return EventsExecutor(context=context)
    return SingleThreadedExecutor(context=context)


def run_node(make_node: Callable[[], Node], args: list[str] | None = None) -> None:
    """Init rclpy, build the node, spin it until a signal or shutdown, destroy it, shut rclpy down."""
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda signum, frame: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    node = make_node()
    executor = make_executor()
    executor.add_node(node)
    try:
        while not stop.is_set() and rclpy.ok():
            executor.spin_once(timeout_sec=POLL_S)
    finally:
        executor.remove_node(node)
        node.destroy_node()
        executor.shutdown(timeout_sec=0.5)
        rclpy.try_shutdown()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
