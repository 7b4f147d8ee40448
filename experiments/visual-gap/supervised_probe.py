"""Upper bound for an observation's transfer: a small CNN trained *with labels* on simulator frames to read the
lane pose, tested on real frames. If even this does not transfer, no world model on that observation will.
(report.md here, "Does the observation transfer? An upper bound".)

Prints, for "rgb" and "lane_masks", the correlation of predicted and labelled d and phi on held-out
simulator episodes and on the real frames (labels mapped to the simulator's signs, see
redraw_trainer.measure.visual_gap), then on the real frames of straight tiles with |phi| < 0.8. The
report's table rows, from the repository root (<lap> = proj-i-ml's
training/cnn/testdata/test_dataset/autobot04_r2):

    .venv/bin/python experiments/visual-gap/supervised_probe.py --frames <lap>/images --labels <lap>/output_pose.csv
    # frames undistorted with the default DB21 intrinsics:
    .venv/bin/python experiments/visual-gap/supervised_probe.py --frames <lap>/images --labels <lap>/output_pose.csv \\
        --camera-info src/redraw_perception/config/duckiebot_default_intrinsics.yaml
    # simulator camera's pitch (deg) and height (m) also randomised per episode:
    .venv/bin/python experiments/visual-gap/supervised_probe.py --frames <lap>/images --labels <lap>/output_pose.csv \\
        --camera-jitter 8,0.03

supervised_probe.log holds the three runs' figures, each line prefixed with its variant (recorded before the
straight-tile lines were printed); supervised_probe_clean.log is the first command's full output.
"""

from __future__ import annotations

import argparse
import csv

import numpy as np
import torch
from torch import nn

from redraw_perception import PreprocessConfig
from redraw_trainer.envs import factory
from redraw_trainer.measure.visual_gap import correlation, heldout_episodes, read_real_frames, simulator_frames

OBSERVATIONS = ("rgb", "lane_masks")
IMAGE_SIZE = 64
BATCH = 64
MAX_CLEAN_HEADING = 0.8  # rad


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", required=True, help="folder of the real frames")
    parser.add_argument("--labels", required=True,
                        help="labels CSV (ImageNumber, centerDistance, relativeHeading, Tile)")
    parser.add_argument("--camera-info", default=None, help="camera intrinsics YAML: undistort the real frames with it")
    parser.add_argument("--sim-frames", type=int, default=3000, help="simulator frames (a fifth held out by episode)")
    parser.add_argument("--epochs", type=int, default=40, help="training epochs of the CNN")
    parser.add_argument("--camera-jitter", default=None, help="PITCH_DEG,HEIGHT_M: randomise the simulator camera")
    return parser.parse_args()


def jitter_camera(pitch_deg: float, height_m: float, seed: int = 123) -> None:
    """Every simulator made from now on draws a camera pitch and height offset at each reset (uniform)."""
    rng = np.random.default_rng(seed)
    make_env = factory.make_env

    def make_jittered(*args, **kwargs):
        env = make_env(*args, **kwargs)

        def adjust(sim) -> None:
            sim.cam_angle = [sim.cam_angle[0] + rng.uniform(-pitch_deg, pitch_deg), sim.cam_angle[1], sim.cam_angle[2]]
            sim.cam_height = sim.cam_height + rng.uniform(-height_m, height_m)

        env.unwrapped.camera_adjusters.append(adjust)
        return env

    factory.make_env = make_jittered


def cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 16, 4, 2, 1),
        nn.ReLU(),
        nn.Conv2d(16, 32, 4, 2, 1),
        nn.ReLU(),
        nn.Conv2d(32, 32, 4, 2, 1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(4),
        nn.Flatten(),
        nn.Linear(512, 64),
        nn.ReLU(),
        nn.Linear(64, 2),
    )


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """(N, S, S, 3) uint8 frames -> (N, 3, S, S) float in 0..1."""
    return torch.as_tensor(images, dtype=torch.float32).permute(0, 3, 1, 2) / 255.0


def train_probe(x: torch.Tensor, y: torch.Tensor, epochs: int) -> nn.Module:
    """`cnn()` regressed onto standardised lane pose y (N, 2) from frames x (N, 3, S, S), minibatches of 64."""
    net = cnn()
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    for _ in range(epochs):
        for idx in torch.randperm(len(x)).split(BATCH):
            loss = ((net(x[idx]) - y[idx]) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    return net


def fit_and_predict(sim_images: np.ndarray, sim_pose: np.ndarray, held: np.ndarray, real_images: np.ndarray,
                    epochs: int) -> tuple[np.ndarray, np.ndarray]:
    """Train the probe on the simulator's training episodes (pose standardised); its lane pose predictions
    (d, phi) on the held-out simulator frames and on the real frames."""
    scale = sim_pose[~held].std(0)
    train_x = to_tensor(sim_images[~held])
    train_y = torch.as_tensor(sim_pose[~held] / scale, dtype=torch.float32)
    net = train_probe(train_x, train_y, epochs)
    with torch.no_grad():
        sim_pred = net(to_tensor(sim_images[held])).numpy() * scale
        real_pred = net(to_tensor(real_images)).numpy() * scale
    return sim_pred, real_pred


def clean_rows(labels: str, names: list[str], pose: np.ndarray) -> np.ndarray:
    """Frames on straight tiles with a plausible heading: where the lap's labels are kinematically consistent
    (the rate of change of d follows sin(phi) at r = 0.91 there, report.md)."""
    with open(labels, newline="") as f:
        rows = csv.DictReader(f, skipinitialspace=True)
        tile = {row["ImageNumber"].strip(): row.get("Tile", "").strip() for row in rows}
    straight = np.array([tile.get(n) == "straight" for n in names])
    return straight & (np.abs(pose[:, 1]) < MAX_CLEAN_HEADING)


def main() -> None:
    args = parse_args()
    if args.camera_jitter:
        pitch_deg, height_m = (float(v) for v in args.camera_jitter.split(","))
        jitter_camera(pitch_deg, height_m)
    torch.manual_seed(0)
    for observation in OBSERVATIONS:
        sim, episode = simulator_frames(observation, IMAGE_SIZE, args.sim_frames, seed=0)
        real = read_real_frames(args.frames, PreprocessConfig(observation=observation), args.labels,
                                camera_info=args.camera_info)
        held = heldout_episodes(episode)
        sim_pred, real_pred = fit_and_predict(sim.images, sim.pose, held, real.images, args.epochs)

        cells = []
        for k, name in enumerate(("d", "phi")):
            sim_r = correlation(sim_pred[:, k], sim.pose[held][:, k])
            real_r = correlation(real_pred[:, k], real.pose[:, k])
            cells.append(f"{name}: sim held-out {sim_r:.2f}, real {real_r:+.2f}")
        print(f"{observation:<10} " + " | ".join(cells), flush=True)

        clean = clean_rows(args.labels, real.names, real.pose)
        cells = []
        for k, name in enumerate(("d", "phi")):
            cells.append(f"{name}: real {correlation(real_pred[clean, k], real.pose[clean, k]):+.2f}")
        print(f"{'':<10} straight tiles, |phi| < 0.8 ({clean.sum()} frames): " + " | ".join(cells), flush=True)


if __name__ == "__main__":
    main()
