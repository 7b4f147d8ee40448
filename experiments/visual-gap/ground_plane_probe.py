"""Does a bird's-eye view cross the gap? The supervised upper bound (supervised_probe.py) on frames warped to
the ground plane, so camera height, pitch, field of view and lens no longer differ between simulator and robot.
(report.md here, "Ground plane (bird's-eye)".)

Simulator: each raw render is warped with the homography of the simulator's own camera at that moment
(height, pitch and vertical field of view, randomised per episode by gym-duckietown's domain
randomisation; pinhole, square pixels). Robot: each frame is rectified with the intrinsics' projection
matrix, then warped with the extrinsic homography (rectified pixel -> ground metres, x forward, y left;
Duckietown's ground_projection convention, dt-core `image_processing/ground_projection_geometry.py`).
Both land on the same grid: x 0.15-0.50 m ahead of the axle, y -0.22..0.22 m. Observations: the warped
RGB, and lane masks (redraw_perception.lane_masks) computed on the full frame, then warped.

Prints, as supervised_probe.py, correlation of predicted and labelled d, phi on held-out simulator episodes
and on the real frames (and their straight tiles), for the default homography and one scaled by 1.16 (a
camera-height correction); for lane masks also straight-line fits with no learning. An experiment, not a
pipeline stage: nothing here is used by the model yet. The committed ground_plane_probe.log and
ground_plane.json, from the repository root (<lap> = proj-i-ml's training/cnn/testdata/test_dataset/autobot04_r2,
<dt-core> = duckietown/dt-core's calibration files):

    .venv/bin/python experiments/visual-gap/ground_plane_probe.py --frames <lap>/images --labels <lap>/output_pose.csv \
        --intrinsics <dt-core>/.../camera_intrinsic/default.yaml \
        --homography <dt-core>/.../camera_extrinsic/default.yaml \
        --real-scale 1,1.16 --json experiments/visual-gap/ground_plane.json

(--real-scale and --json default to those values.) ground_plane_probe_first.log is an earlier run that did not
reset the torch seed per variant.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
import yaml

from redraw_perception.lane_masks import lane_masks
from redraw_trainer.measure import visual_gap
from redraw_trainer.measure.visual_gap import correlation, heldout_episodes, read_labels
from supervised_probe import clean_rows, fit_and_predict

OBSERVATIONS = ("rgb", "lane_masks")
LABEL_COLUMNS = ("ImageNumber", "centerDistance", "relativeHeading")
LABEL_SIGNS = (-1.0, -1.0)  # the labels' Duckietown signs onto the simulator's
SIM_IMAGE_SIZE = 64  # the simulator's observation size (its raw render is what gets warped)
GRID = 64
X_RANGE = (0.15, 0.50)  # metres ahead of the wheel axle
Y_RANGE = (0.22, -0.22)  # metres to the left, from the grid's left column to its right
CAMERA_AHEAD_OF_AXLE = 0.066  # gym-duckietown CAMERA_FORWARD_DIST
MIN_LINE_PIXELS = 15


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", required=True, help="folder of the real frames")
    parser.add_argument("--labels", required=True,
                        help="labels CSV (ImageNumber, centerDistance, relativeHeading, Tile)")
    parser.add_argument("--intrinsics", required=True,
                        help="camera intrinsics YAML (camera_matrix, projection_matrix, ...)")
    parser.add_argument("--homography", required=True,
                        help="camera extrinsics YAML: rectified pixel -> ground homography")
    parser.add_argument("--real-scale", default="1,1.16",
                        help="comma-separated factors on the real homography's ground coordinates (a camera-height "
                             "correction: lane width in the simulator / on the robot)")
    parser.add_argument("--sim-frames", type=int, default=3000, help="simulator frames (a fifth held out by episode)")
    parser.add_argument("--epochs", type=int, default=40, help="training epochs of the CNN")
    parser.add_argument("--strip", default=None, help="write 8 simulator and 8 real bird's-eye frames here (PNG)")
    parser.add_argument("--json", default=str(Path(__file__).parent / "ground_plane.json"),
                        help="write the figures here")
    return parser.parse_args()


def grid_to_ground() -> np.ndarray:
    """3x3 affine map from grid pixel (col, row, 1) to ground (x, y, 1); row 0 is the far edge."""
    sx = (X_RANGE[0] - X_RANGE[1]) / (GRID - 1)
    sy = (Y_RANGE[1] - Y_RANGE[0]) / (GRID - 1)
    return np.array([[0.0, sx, X_RANGE[1]], [sy, 0.0, Y_RANGE[0]], [0.0, 0.0, 1.0]])


def simulator_ground_to_pixel(width: int, height: int, fov_y_deg: float, pitch_deg: float,
                              cam_height: float) -> np.ndarray:
    """3x3 map ground (x, y, 1) -> render pixel (u, v, w) for a pinhole camera pitched down by `pitch_deg`."""
    f = (height / 2) / math.tan(math.radians(fov_y_deg) / 2)
    cx = width / 2
    cy = height / 2
    a = math.radians(pitch_deg)
    # camera frame (right, down, forward) of the ground point (x, y, 0), camera at (CAMERA_AHEAD, 0, h)
    x0 = CAMERA_AHEAD_OF_AXLE
    # rows act on (x, y, 1): right . (x - x0, y, -h) = -y; down . (...) = -(x - x0) sin a + h cos a;
    # forward . (...) = (x - x0) cos a + h sin a
    right = np.array([0.0, -1.0, 0.0])
    down = np.array([-math.sin(a), 0.0, math.sin(a) * x0 + cam_height * math.cos(a)])
    fwd = np.array([math.cos(a), 0.0, -math.cos(a) * x0 + cam_height * math.sin(a)])
    return np.stack([f * right + cx * fwd, f * down + cy * fwd, fwd])


def warp(image: np.ndarray, ground_to_pixel: np.ndarray) -> np.ndarray:
    """The grid's view of `image`: each grid cell samples the pixel its ground point projects to."""
    m = ground_to_pixel @ grid_to_ground()
    return cv2.warpPerspective(image, m, (GRID, GRID), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                               borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def observe(rgb: np.ndarray, ground_to_pixel: np.ndarray, observation: str) -> np.ndarray:
    """The bird's-eye observation of an RGB frame: the warped frame, or its lane masks warped."""
    if observation == "lane_masks":
        return warp(lane_masks(rgb), ground_to_pixel)
    return warp(rgb, ground_to_pixel)


def simulator_frames(observation: str, count: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bird's-eye frames from the source simulator (visual_gap's lane-PD drive), lane pose, episode index."""

    def view(env, obs) -> np.ndarray:
        sim = env.unwrapped.sim
        frame = env.unwrapped.last_frame
        fov_y = float(np.ravel(sim.cam_fov_y)[0])
        pitch = float(np.ravel(sim.cam_angle[0])[0])
        height = float(np.ravel(sim.cam_height)[0])
        ground_to_pixel = simulator_ground_to_pixel(frame.shape[1], frame.shape[0], fov_y, pitch, height)
        return observe(frame, ground_to_pixel, observation)

    frames, episode = visual_gap.simulator_frames("rgb", SIM_IMAGE_SIZE, count, seed, view=view)
    return frames.images, frames.pose, episode


def real_frames(folder: str, labels: str, intrinsics: str, homography: str, observation: str,
                scale: float = 1.0) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Labelled real frames, rectified and warped; `scale` multiplies the homography's ground coordinates
    (a camera-height error: the default extrinsics are not this robot's)."""
    calib = yaml.safe_load(Path(intrinsics).read_text())
    k = np.array(calib["camera_matrix"]["data"], float).reshape(3, 3)
    d = np.array(calib["distortion_coefficients"]["data"], float)
    p = np.array(calib["projection_matrix"]["data"], float).reshape(3, 4)[:, :3]
    width = calib["image_width"]
    height = calib["image_height"]
    map_x, map_y = cv2.initUndistortRectifyMap(k, d, np.eye(3), p, (width, height), cv2.CV_32FC1)
    pixel_to_ground = np.array(yaml.safe_load(Path(homography).read_text())["homography"], float).reshape(3, 3)
    ground_to_pixel = np.linalg.inv(np.diag([scale, scale, 1.0]) @ pixel_to_ground)
    pose_by_name = read_labels(Path(labels), LABEL_COLUMNS, LABEL_SIGNS)
    names = sorted(n for n in pose_by_name if (Path(folder) / n).exists())
    images = []
    for name in names:
        bgr = cv2.resize(cv2.imread(str(Path(folder) / name)), (width, height))
        rectified = cv2.remap(bgr, map_x, map_y, cv2.INTER_LINEAR)
        images.append(observe(cv2.cvtColor(rectified, cv2.COLOR_BGR2RGB), ground_to_pixel, observation))
    return np.stack(images), np.array([pose_by_name[n] for n in names]), names


def line_features(masks: np.ndarray) -> np.ndarray:
    """Per bird's-eye mask frame: (yellow angle, yellow lateral cell at the near edge, white angle, white
    lateral cell), from a straight-line fit to each colour's pixels; NaN where a line has < 15 pixels."""
    aspect = abs(Y_RANGE[1] - Y_RANGE[0]) / (X_RANGE[1] - X_RANGE[0])
    out = np.full((len(masks), 4), np.nan)
    for i, mask in enumerate(masks):
        for channel in (0, 1):
            rows, cols = np.nonzero(mask[:, :, channel] > 128)
            if len(cols) >= MIN_LINE_PIXELS:
                slope, offset = np.polyfit(rows, cols, 1)
                out[i, 2 * channel] = np.arctan(slope * aspect)
                out[i, 2 * channel + 1] = slope * (GRID - 1) + offset
    return out


def geometric_check(masks: np.ndarray, pose: np.ndarray, rows: np.ndarray) -> dict[str, float]:
    """Correlation of fitted line angles with phi and line positions with d over `rows`: no learning, so a
    low figure on real frames says the geometry or the labels, not the model, are off."""
    features = line_features(masks)
    pairs = {
        "yellow_angle~phi": (0, 1),
        "white_angle~phi": (2, 1),
        "yellow_position~d": (1, 0),
        "white_position~d": (3, 0),
    }
    out = {}
    for name, (feature, label) in pairs.items():
        ok = rows & ~np.isnan(features[:, feature])
        out[name] = round(correlation(features[ok, feature], pose[ok, label]), 3)
    return out


def write_strip(path: str, sim_x: np.ndarray, real_x: np.ndarray) -> None:
    """8 simulator frames above 8 real frames, evenly spaced through each set."""
    rows = [np.concatenate(list(sim_x[:: max(1, len(sim_x) // 8)][:8]), 1),
            np.concatenate(list(real_x[:: max(1, len(real_x) // 8)][:8]), 1)]
    cv2.imwrite(path, cv2.cvtColor(np.concatenate(rows, 0), cv2.COLOR_RGB2BGR))


def correlations(observation: str, scale: float, sim_pred: np.ndarray, sim_pose: np.ndarray, held: np.ndarray,
                 real_pred: np.ndarray, real_pose: np.ndarray, clean: np.ndarray) -> dict[str, Any]:
    """One variant's figures: d and phi on held-out simulator episodes, all real frames, straight tiles."""
    row = {"observation": observation, "real_scale": scale}
    for k, name in enumerate(("d", "phi")):
        row[f"{name}_sim_heldout"] = round(correlation(sim_pred[:, k], sim_pose[held][:, k]), 3)
        row[f"{name}_real"] = round(correlation(real_pred[:, k], real_pose[:, k]), 3)
        row[f"{name}_real_straight"] = round(correlation(real_pred[clean, k], real_pose[clean, k]), 3)
    return row


def print_row(row: dict[str, Any]) -> None:
    print(f"bird's-eye x{row['real_scale']:g} {row['observation']:<10} d: sim held-out {row['d_sim_heldout']:.2f}, "
          f"real {row['d_real']:+.2f} (straight {row['d_real_straight']:+.2f}) | phi: sim held-out "
          f"{row['phi_sim_heldout']:.2f}, real {row['phi_real']:+.2f} (straight {row['phi_real_straight']:+.2f})",
          flush=True)


def main() -> None:
    args = parse_args()
    scales = [float(v) for v in args.real_scale.split(",")]
    results = []
    for observation in OBSERVATIONS:
        sim_x, sim_pose, episode = simulator_frames(observation, args.sim_frames, seed=0)
        held = heldout_episodes(episode)
        for scale in scales:
            torch.manual_seed(0)
            real_x, real_pose, names = real_frames(args.frames, args.labels, args.intrinsics, args.homography,
                                                   observation, scale)
            clean = clean_rows(args.labels, names, real_pose)
            if args.strip:
                write_strip(args.strip.replace(".png", f"_{observation}_x{scale:g}.png"), sim_x, real_x)
            sim_pred, real_pred = fit_and_predict(sim_x, sim_pose, held, real_x, args.epochs)
            row = correlations(observation, scale, sim_pred, sim_pose, held, real_pred, real_pose, clean)
            print_row(row)
            if observation == "lane_masks":
                row["geometric_sim_heldout"] = geometric_check(sim_x, sim_pose, held)
                row["geometric_real_straight"] = geometric_check(real_x, real_pose, clean)
                print(f"  line fits, no learning: sim held-out {row['geometric_sim_heldout']}", flush=True)
                print(f"  line fits, no learning: real straight tiles {row['geometric_real_straight']}", flush=True)
            results.append(row)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
