"""Per-frame decode + preprocess time for a 640x480 JPEG: full decode vs reduced decode, and the lane-mask
observation on top of the reduced decode.

    .venv/bin/python benchmarks/preprocess.py [--frames 2000] [--smoke]
"""

from __future__ import annotations

import argparse
import time

import cv2
import numpy as np

from redraw_perception import PreprocessConfig, Preprocessor
from redraw_testing.scenes import jpeg, road_frame


def time_per_frame(pre: Preprocessor, payloads: list[bytes]) -> np.ndarray:
    for data in payloads[:20]:
        pre.from_jpeg(data)  # warm-up
    times = np.empty(len(payloads))
    for i, data in enumerate(payloads):
        start = time.perf_counter()
        pre.from_jpeg(data)
        times[i] = time.perf_counter() - start
    return times * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few iterations: check it runs (CI), figures not meaningful")
    args = parser.parse_args()
    if args.smoke:
        args.frames = 40
    cv2.setNumThreads(1)
    payloads = [jpeg(road_frame(shift=0.1 * np.sin(i / 10.0)), quality=85) for i in range(50)]
    payloads = [payloads[i % len(payloads)] for i in range(args.frames)]
    full = time_per_frame(Preprocessor(PreprocessConfig(reduced_decode=False)), payloads)
    reduced_pre = Preprocessor(PreprocessConfig(reduced_decode=True))
    reduced = time_per_frame(reduced_pre, payloads)
    masks = time_per_frame(Preprocessor(PreprocessConfig(reduced_decode=True, observation="lane_masks")), payloads)
    print(f"640x480 JPEG -> 64x64 RGB, {args.frames} frames, 1 OpenCV thread")
    print(f"{'path':<26}{'p50 ms':>10}{'p99 ms':>10}")
    for name, t in (("full decode + resize", full), (f"reduced decode (1/{reduced_pre.decode_factor})", reduced),
                    ("reduced + lane masks", masks)):
        print(f"{name:<26}{np.percentile(t, 50):>10.3f}{np.percentile(t, 99):>10.3f}")
    print(f"speed-up (p50 full / p50 reduced): {np.percentile(full, 50) / np.percentile(reduced, 50):.2f}x")


if __name__ == "__main__":
    main()
