"""Frames/s from a rosbag2 (mcap) to model-ready arrays, against plain full-size cv2.imdecode.

    .venv/bin/python benchmarks/bag_read.py [--frames 2000] [--workers 2] [--smoke]

Both paths see the same 640x480 JPEG frames in the same run; the bag path includes reading, CDR
decoding, stamp pairing, reduced JPEG decode and preprocessing (in worker processes).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from redraw_logger.recorder import EpisodeRecorder
from redraw_testing.scenes import jpeg, road_frame
from redraw_trainer.data.bags import read_bag


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few iterations: check it runs (CI), figures not meaningful")
    args = parser.parse_args()
    if args.smoke:
        args.frames = 60
    cv2.setNumThreads(1)
    payloads = [jpeg(road_frame(shift=0.1 * np.sin(i / 10)), quality=85) for i in range(100)]
    frames = [payloads[i % len(payloads)] for i in range(args.frames)]
    root = Path(tempfile.mkdtemp())
    recorder = EpisodeRecorder(root / "bag")
    for i, data in enumerate(frames):
        recorder.on_frame(i * 100_000_000, data)
        recorder.on_command(i * 100_000_000, 0.2, 0.1)
    recorder.close()

    start = time.perf_counter()
    for data in frames:
        cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    imdecode_fps = len(frames) / (time.perf_counter() - start)

    start = time.perf_counter()
    dataset, _ = read_bag(root / "bag", workers=args.workers, cache_dir=root / "cache")
    bag_fps = len(dataset) / (time.perf_counter() - start)
    start = time.perf_counter()
    read_bag(root / "bag", workers=args.workers, cache_dir=root / "cache")
    cached_fps = len(dataset) / (time.perf_counter() - start)
    shutil.rmtree(root)
    print(f"{args.frames} frames of 640x480 JPEG, bag reader with {args.workers} worker process(es)")
    print(f"{'path':<40}{'frames/s':>12}")
    print(f"{'plain cv2.imdecode (full size, 1 thread)':<40}{imdecode_fps:>12.0f}")
    print(f"{'bag -> model-ready arrays':<40}{bag_fps:>12.0f}")
    print(f"{'bag -> arrays, second read (cache)':<40}{cached_fps:>12.0f}")
    print(f"ratio bag / imdecode: {bag_fps / imdecode_fps:.2f}x")


if __name__ == "__main__":
    main()
