"""Added per-frame latency of the lane-marking segmentation net (`model.seg_net.SegNet`) in onnxruntime at one
thread, beside the hand-set HSV lane masks it would replace, on the 64x64 model input.

    .venv/bin/python benchmarks/seg_latency.py [--frames 2000] [--weights seg_net.pt] [--width 16] [--smoke]

Without --weights a SegNet of --width with random weights is exported (latency depends on the architecture,
not the weights). The ONNX file is checked against torch (max |logit difference|) before timing. --smoke: 50
frames, a quick check that the script runs.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from redraw_perception import PreprocessConfig, Preprocessor
from redraw_perception.lane_masks import lane_masks
from redraw_testing.scenes import jpeg, road_frame

from redraw_trainer.learn.segmentation import export_onnx, load_net
from redraw_trainer.model.seg_net import SegNet


def timed(fn, inputs: list, warmup: int = 20) -> np.ndarray:
    for x in inputs[:warmup]:
        fn(x)
    times = np.empty(len(inputs))
    for i, x in enumerate(inputs):
        start = time.perf_counter()
        fn(x)
        times[i] = time.perf_counter() - start
    return times * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--weights", default=None, help="a SegNet saved by learn.segmentation.save_net")
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    frames = 50 if args.smoke else args.frames
    import onnxruntime as ort

    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    net = load_net(args.weights)[0] if args.weights else SegNet(args.width).eval()
    pre = Preprocessor(PreprocessConfig())
    images = [pre.from_jpeg(jpeg(road_frame(shift=0.1 * np.sin(i / 10.0)), quality=85)) for i in range(50)]
    images = [images[i % len(images)] for i in range(frames)]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "seg.onnx"
        export_onnx(net, path)
        size_kb = path.stat().st_size / 1024
        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    batch = np.stack(images[:8])
    with torch.no_grad():
        parity = float(np.abs(session.run(None, {"image": batch})[0] - net(torch.as_tensor(batch)).numpy()).max())
    seg = timed(lambda x: session.run(None, {"image": x[None]})[0][0].argmax(0), images)
    hsv = timed(lane_masks, images)
    params = sum(p.numel() for p in net.parameters())
    print(f"SegNet width {net.width}: {params} parameters, ONNX {size_kb:.0f} kB; onnxruntime vs torch max |logit diff| "
          f"{parity:.2e}")
    print(f"64x64 model input -> class map, {frames} frames, 1 thread")
    print(f"{'path':<30}{'p50 ms':>10}{'p99 ms':>10}")
    for name, t in (("SegNet onnxruntime + argmax", seg), ("HSV lane masks (lane_masks)", hsv)):
        print(f"{name:<30}{np.percentile(t, 50):>10.3f}{np.percentile(t, 99):>10.3f}")


if __name__ == "__main__":
    main()
