"""Camera stamp -> command received, through real rclpy, for 640x480 JPEG frames at 30 Hz.

    .venv/bin/python benchmarks/policy_latency.py [--frames 1000] [--model policy.onnx]

Without --model, a `small`-preset encoder + actor (random weights: latency depends on the architecture,
not the weights) is exported with `redraw_trainer.export`. Publisher, policy node and receiver share one
process and one DDS domain on this host. Prints p50/p99 end to end and its breakdown.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from geometry_msgs.msg import TwistStamped
from rclpy.parameter import Parameter
from sensor_msgs.msg import CompressedImage

from redraw_policy.node_policy import CAMERA_QOS, PolicyNode
from redraw_testing import RosHarness
from redraw_testing.scenes import jpeg, road_frame


def export_small_policy(path: Path) -> Path:
    import torch

    from redraw_perception import PreprocessConfig
    from redraw_trainer.config import load_config
    from redraw_trainer.export import export_onnx
    from redraw_trainer.imagination import Actor, ActorCriticConfig
    from redraw_trainer.world_model import WorldModel

    torch.manual_seed(0)
    cfg = load_config(["small"])
    model = WorldModel(cfg.model).eval()
    actor = Actor(cfg.model.groups * cfg.model.classes, 2, ActorCriticConfig())
    export_onnx(model, actor, path, PreprocessConfig().to_dict(), {"v_max": 0.5, "omega_max": 4.0})
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--model", default=None)
    args = parser.parse_args()
    model = Path(args.model) if args.model else export_small_policy(Path(tempfile.mkdtemp()) / "small.onnx")
    payloads = [jpeg(road_frame(shift=0.05 * np.sin(i / 7)), quality=85) for i in range(30)]
    camera, cmd = "/duckiebot/camera_node/image/compressed", "/duckiebot/policy/cmd"
    latencies: dict[int, float] = {}
    sent: dict[int, float] = {}
    with RosHarness() as ros:
        node = ros.add(PolicyNode, parameter_overrides=[Parameter("model_path", value=str(model)),
                                                        Parameter("stale_timeout", value=10.0)])
        clock = node.get_clock()

        def on_command(msg: TwistStamped) -> None:
            key = msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec
            if key in sent:
                latencies[key] = (clock.now().nanoseconds - key) * 1e-6

        ros.node.create_subscription(TwistStamped, cmd, on_command, 10)
        ros.wait_for_subscribers(camera)
        publisher = ros.publisher(CompressedImage, camera, CAMERA_QOS)
        period = 1.0 / args.rate
        next_time = time.perf_counter()
        for i in range(args.frames + 50):
            msg = CompressedImage(format="jpeg", data=payloads[i % len(payloads)])
            now = clock.now()
            msg.header.stamp = now.to_msg()
            if i >= 50:  # the first 50 frames warm up
                sent[now.nanoseconds] = time.perf_counter()
            publisher.publish(msg)
            next_time += period
            time.sleep(max(0.0, next_time - time.perf_counter()))
        time.sleep(0.5)
        timings = list(node.controller.timings_ms)[50:]
    e2e = np.array(list(latencies.values()))
    pre = np.array([t["preprocess"] for t in timings])
    inf = np.array([t["inference"] for t in timings])
    transport = np.percentile(e2e, 50) - np.percentile(pre, 50) - np.percentile(inf, 50)
    print(f"policy node latency, {len(e2e)}/{args.frames} frames answered, 640x480 JPEG at {args.rate:.0f} Hz, model {model.name}")
    print(f"{'stage':<28}{'p50 ms':>10}{'p99 ms':>10}")
    print(f"{'decode + preprocess':<28}{np.percentile(pre, 50):>10.3f}{np.percentile(pre, 99):>10.3f}")
    print(f"{'onnxruntime inference':<28}{np.percentile(inf, 50):>10.3f}{np.percentile(inf, 99):>10.3f}")
    print(f"{'transport + executor (p50)':<28}{transport:>10.3f}{'':>10}")
    print(f"{'end to end (stamp->command)':<28}{np.percentile(e2e, 50):>10.3f}{np.percentile(e2e, 99):>10.3f}")
    print(f"target p99 <= 5 ms: {'met' if np.percentile(e2e, 99) <= 5.0 else 'NOT met'}")


if __name__ == "__main__":
    main()
