"""Upper bound for an observation's transfer: a small CNN trained *with labels* on simulator frames to read the
lane pose, tested on real frames. If even this does not transfer, no world model on that observation will.

    .venv/bin/python experiments/visual-gap/supervised_probe.py --frames <dir> --labels <csv> [--camera-info <yaml>]
        [--camera-jitter 8,0.03]   # also randomise the simulator camera's pitch (deg) and height (m) per episode

Prints, for "rgb" and "lane_masks", the correlation of predicted and labelled d and phi on held-out
simulator episodes and on the real frames (labels mapped to the simulator's signs, see visual_gap.py).
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from torch import nn

from redraw_perception import PreprocessConfig
from redraw_trainer.envs import factory
from redraw_trainer.measure.visual_gap import correlation, heldout_episodes, read_real_frames, simulator_frames


def jitter_camera(pitch_deg: float, height_m: float, seed: int = 123) -> None:
    """Every simulator made from now on draws a camera pitch and height offset at each reset (uniform)."""
    rng, make_env = np.random.default_rng(seed), factory.make_env

    def make_jittered(*args, **kwargs):
        env = make_env(*args, **kwargs)

        def adjust(sim) -> None:
            sim.cam_angle = [sim.cam_angle[0] + rng.uniform(-pitch_deg, pitch_deg), sim.cam_angle[1], sim.cam_angle[2]]
            sim.cam_height = sim.cam_height + rng.uniform(-height_m, height_m)

        env.unwrapped.camera_adjusters.append(adjust)
        return env

    factory.make_env = make_jittered


def cnn() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 16, 4, 2, 1), nn.ReLU(), nn.Conv2d(16, 32, 4, 2, 1), nn.ReLU(),
                         nn.Conv2d(32, 32, 4, 2, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(4), nn.Flatten(),
                         nn.Linear(512, 64), nn.ReLU(), nn.Linear(64, 2))


def train_probe(x: torch.Tensor, y: torch.Tensor, epochs: int) -> nn.Module:
    """`cnn()` regressed onto standardised lane pose y (N, 2) from frames x (N, 3, S, S), minibatches of 64."""
    net = cnn()
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    for _ in range(epochs):
        for idx in torch.randperm(len(x)).split(64):
            loss = ((net(x[idx]) - y[idx]) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    return net


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", required=True)
    parser.add_argument("--labels", required=True)
    parser.add_argument("--camera-info", default=None)
    parser.add_argument("--sim-frames", type=int, default=3000)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--camera-jitter", default=None, help="PITCH_DEG,HEIGHT_M: randomise the simulator camera")
    args = parser.parse_args()
    if args.camera_jitter:
        jitter_camera(*(float(v) for v in args.camera_jitter.split(",")))
    torch.manual_seed(0)
    for observation in ("rgb", "lane_masks"):
        sim, episode = simulator_frames(observation, 64, args.sim_frames, seed=0)
        real = read_real_frames(args.frames, PreprocessConfig(observation=observation), args.labels,
                                camera_info=args.camera_info)
        held = heldout_episodes(episode)
        x = lambda images: torch.as_tensor(images, dtype=torch.float32).permute(0, 3, 1, 2) / 255.0
        scale = sim.pose[~held].std(0)
        train_x, train_y = x(sim.images[~held]), torch.as_tensor(sim.pose[~held] / scale, dtype=torch.float32)
        net = train_probe(train_x, train_y, args.epochs)
        with torch.no_grad():
            sim_pred = net(x(sim.images[held])).numpy() * scale
            real_pred = net(x(real.images)).numpy() * scale
        cells = [f"{name}: sim held-out {correlation(sim_pred[:, k], sim.pose[held][:, k]):.2f}, "
                 f"real {correlation(real_pred[:, k], real.pose[:, k]):+.2f}" for k, name in enumerate(("d", "phi"))]
        print(f"{observation:<10} " + " | ".join(cells), flush=True)
        clean = clean_rows(args.labels, real.names, real.pose)
        cells = [f"{name}: real {correlation(real_pred[clean, k], real.pose[clean, k]):+.2f}"
                 for k, name in enumerate(("d", "phi"))]
        print(f"{'':<10} straight tiles, |phi| < 0.8 ({clean.sum()} frames): " + " | ".join(cells), flush=True)


def clean_rows(labels: str, names: list[str], pose: np.ndarray) -> np.ndarray:
    """Frames on straight tiles with a plausible heading: where the lap's labels are kinematically consistent
    (the rate of change of d follows sin(phi) at r = 0.91 there, report.md)."""
    import csv

    with open(labels, newline="") as f:
        tile = {row["ImageNumber"].strip(): row.get("Tile", "").strip() for row in csv.DictReader(f, skipinitialspace=True)}
    return np.array([tile.get(n) == "straight" for n in names]) & (np.abs(pose[:, 1]) < 0.8)


if __name__ == "__main__":
    main()
