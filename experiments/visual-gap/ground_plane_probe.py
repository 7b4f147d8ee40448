"""Does a bird's-eye view cross the gap? The supervised upper bound (supervised_probe.py) on frames warped to
the ground plane, so camera height, pitch, field of view and lens no longer differ between simulator and robot.

    .venv/bin/python experiments/visual-gap/ground_plane_probe.py --frames <dir> --labels <csv> \
        --intrinsics <camera_intrinsic.yaml> --homography <camera_extrinsic.yaml> [--strip bev.png]

Simulator: each raw render is warped with the homography of the simulator's own camera at that moment
(height, pitch and vertical field of view, randomised per episode by gym-duckietown's domain
randomisation; pinhole, square pixels). Robot: each frame is rectified with the intrinsics' projection
matrix, then warped with the extrinsic homography (rectified pixel -> ground metres, x forward, y left;
Duckietown's ground_projection convention, dt-core `image_processing/ground_projection_geometry.py`).
Both land on the same grid: x 0.15-0.50 m ahead of the axle, y -0.22..0.22 m. Observations: the warped
RGB, and lane masks (redraw_perception.lane_masks) computed on the full frame, then warped.

Prints, as supervised_probe.py, correlation of predicted and labelled d, phi on held-out simulator episodes
and on the real frames. An experiment, not a pipeline stage: nothing here is used by the model yet.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import cv2
import numpy as np
import torch
import yaml

from redraw_perception.lane_masks import lane_masks
from redraw_trainer.measure.visual_gap import _read_labels, correlation, heldout_episodes

GRID = 64
X_RANGE = (0.15, 0.50)  # metres ahead of the wheel axle
Y_RANGE = (0.22, -0.22)  # metres to the left, from the grid's left column to its right
CAMERA_AHEAD_OF_AXLE = 0.066  # gym-duckietown CAMERA_FORWARD_DIST


def grid_to_ground() -> np.ndarray:
    """3x3 affine map from grid pixel (col, row, 1) to ground (x, y, 1); row 0 is the far edge."""
    sx = (X_RANGE[0] - X_RANGE[1]) / (GRID - 1)
    sy = (Y_RANGE[1] - Y_RANGE[0]) / (GRID - 1)
    return np.array([[0.0, sx, X_RANGE[1]], [sy, 0.0, Y_RANGE[0]], [0.0, 0.0, 1.0]])


def simulator_ground_to_pixel(width: int, height: int, fov_y_deg: float, pitch_deg: float, cam_height: float) -> np.ndarray:
    """3x3 map ground (x, y, 1) -> render pixel (u, v, w) for a pinhole camera pitched down by `pitch_deg`."""
    f = (height / 2) / math.tan(math.radians(fov_y_deg) / 2)
    cx, cy = width / 2, height / 2
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
    return warp(lane_masks(rgb) if observation == "lane_masks" else rgb, ground_to_pixel)


def simulator_frames(observation: str, count: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bird's-eye frames from the source simulator (visual_gap's lane-PD drive), lane pose, episode index."""
    from redraw_trainer.measure import visual_gap
    def view(env, obs) -> np.ndarray:
        sim, frame = env.unwrapped.sim, env.unwrapped.last_frame
        camera = (float(np.ravel(v)[0]) for v in (sim.cam_fov_y, sim.cam_angle[0], sim.cam_height))
        return observe(frame, simulator_ground_to_pixel(frame.shape[1], frame.shape[0], *camera), observation)

    frames, episode = visual_gap.simulator_frames("rgb", 64, count, seed, view=view)
    return frames.images, frames.pose, episode


def real_frames(folder: str, labels: str, intrinsics: str, homography: str, observation: str,
                scale: float = 1.0) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Labelled real frames, rectified and warped; `scale` multiplies the homography's ground coordinates
    (a camera-height error: the default extrinsics are not this robot's)."""
    calib = yaml.safe_load(Path(intrinsics).read_text())
    k = np.array(calib["camera_matrix"]["data"], float).reshape(3, 3)
    d = np.array(calib["distortion_coefficients"]["data"], float)
    p = np.array(calib["projection_matrix"]["data"], float).reshape(3, 4)[:, :3]
    w, h = calib["image_width"], calib["image_height"]
    maps = cv2.initUndistortRectifyMap(k, d, np.eye(3), p, (w, h), cv2.CV_32FC1)
    pixel_to_ground = np.array(yaml.safe_load(Path(homography).read_text())["homography"], float).reshape(3, 3)
    g2p = np.linalg.inv(np.diag([scale, scale, 1.0]) @ pixel_to_ground)
    pose_by_name = _read_labels(Path(labels), ("ImageNumber", "centerDistance", "relativeHeading"), (-1.0, -1.0))
    names = sorted(n for n in pose_by_name if (Path(folder) / n).exists())
    images = []
    for name in names:
        bgr = cv2.resize(cv2.imread(str(Path(folder) / name)), (w, h))
        rgb = cv2.cvtColor(cv2.remap(bgr, *maps, cv2.INTER_LINEAR), cv2.COLOR_BGR2RGB)
        images.append(observe(rgb, g2p, observation))
    return np.stack(images), np.array([pose_by_name[n] for n in names]), names


def line_features(masks: np.ndarray) -> np.ndarray:
    """Per bird's-eye mask frame: (yellow angle, yellow lateral cell at the near edge, white angle, white
    lateral cell), from a straight-line fit to each colour's pixels; NaN where a line has < 15 pixels."""
    aspect = abs(Y_RANGE[1] - Y_RANGE[0]) / (X_RANGE[1] - X_RANGE[0])
    out = np.full((len(masks), 4), np.nan)
    for i, m in enumerate(masks):
        for k, channel in enumerate((0, 1)):
            rows, cols = np.nonzero(m[:, :, channel] > 128)
            if len(cols) >= 15:
                slope, offset = np.polyfit(rows, cols, 1)
                out[i, 2 * k: 2 * k + 2] = np.arctan(slope * aspect), slope * (GRID - 1) + offset
    return out


def geometric_check(masks: np.ndarray, pose: np.ndarray, rows: np.ndarray) -> dict[str, float]:
    """Correlation of fitted line angles with phi and line positions with d over `rows`: no learning, so a
    low figure on real frames says the geometry or the labels, not the model, are off."""
    f = line_features(masks)
    pairs = {"yellow_angle~phi": (0, 1), "white_angle~phi": (2, 1), "yellow_position~d": (1, 0), "white_position~d": (3, 0)}
    out = {}
    for name, (k, label) in pairs.items():
        ok = rows & ~np.isnan(f[:, k])
        out[name] = round(correlation(f[ok, k], pose[ok, label]), 3)
    return out


def main() -> None:
    import json

    from supervised_probe import clean_rows, train_probe

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", required=True)
    parser.add_argument("--labels", required=True)
    parser.add_argument("--intrinsics", required=True)
    parser.add_argument("--homography", required=True)
    parser.add_argument("--real-scale", default="1.0",
                        help="comma-separated factors on the real homography's ground coordinates (a camera-height "
                             "correction: lane width in the simulator / on the robot)")
    parser.add_argument("--sim-frames", type=int, default=3000)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--strip", default=None, help="write 8 simulator and 8 real bird's-eye frames here")
    parser.add_argument("--json", default=None, help="write the figures here")
    args = parser.parse_args()
    results = []
    for observation in ("rgb", "lane_masks"):
        sim_x, sim_pose, episode = simulator_frames(observation, args.sim_frames, seed=0)
        held = heldout_episodes(episode)
        for scale in (float(v) for v in args.real_scale.split(",")):
            torch.manual_seed(0)
            real_x, real_pose, names = real_frames(args.frames, args.labels, args.intrinsics, args.homography,
                                                   observation, scale)
            clean = clean_rows(args.labels, names, real_pose)
            if args.strip:
                rows = [np.concatenate(list(sim_x[:: max(1, len(sim_x) // 8)][:8]), 1),
                        np.concatenate(list(real_x[:: max(1, len(real_x) // 8)][:8]), 1)]
                cv2.imwrite(args.strip.replace(".png", f"_{observation}_x{scale:g}.png"),
                            cv2.cvtColor(np.concatenate(rows, 0), cv2.COLOR_RGB2BGR))
            x = lambda images: torch.as_tensor(images, dtype=torch.float32).permute(0, 3, 1, 2) / 255.0
            target = sim_pose[~held].std(0)
            train_x, train_y = x(sim_x[~held]), torch.as_tensor(sim_pose[~held] / target, dtype=torch.float32)
            net = train_probe(train_x, train_y, args.epochs)
            with torch.no_grad():
                sim_pred = net(x(sim_x[held])).numpy() * target
                real_pred = net(x(real_x)).numpy() * target
            row = {"observation": observation, "real_scale": scale}
            for k, name in enumerate(("d", "phi")):
                row[f"{name}_sim_heldout"] = round(correlation(sim_pred[:, k], sim_pose[held][:, k]), 3)
                row[f"{name}_real"] = round(correlation(real_pred[:, k], real_pose[:, k]), 3)
                row[f"{name}_real_straight"] = round(correlation(real_pred[clean, k], real_pose[clean, k]), 3)
            print(f"bird's-eye x{scale:g} {observation:<10} d: sim held-out {row['d_sim_heldout']:.2f}, real "
                  f"{row['d_real']:+.2f} (straight {row['d_real_straight']:+.2f}) | phi: sim held-out "
                  f"{row['phi_sim_heldout']:.2f}, real {row['phi_real']:+.2f} (straight {row['phi_real_straight']:+.2f})",
                  flush=True)
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
