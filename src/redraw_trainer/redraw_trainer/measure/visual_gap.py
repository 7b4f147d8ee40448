"""Does the simulator-trained encoder see the lane in real camera frames? Measure before trusting a model.

ReDRAW's residual corrects dynamics, not perception: it assumes the frozen encoder maps real frames to the
right latent states. This measures that assumption on a folder of real frames (the user's own robot, or a
public set):

- *probe*: a ridge regression from the encoder's posterior probabilities to the lane pose (lateral offset d,
  heading phi), fitted on source-simulator frames; its correlation on held-out simulator frames vs on the
  real frames (when a labels file gives their lane pose);
- *reconstruction*: mean absolute error per pixel (0..1) of the decoded posterior mode, simulator vs real;
- *markings*: the fraction of real frames in which the lane-mask code finds yellow or white paint;
- a strip: real frames, what the model is given (RGB or masks), what it reconstructs, and the lane masks.

Lane-pose conventions differ: the simulator's d > 0 is right of the lane centre and phi > 0 a heading turned
right (gym-duckietown `get_lane_pos2`); Duckietown's lane filter and the localisation labels of
duckietown-ethz/proj-i-ml use d > 0 left and phi > 0 turned left. `label_signs` maps labels onto the
simulator's convention (default -1, -1); the absolute correlations do not depend on it.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from redraw_perception import PreprocessConfig, Preprocessor, lane_masks
from redraw_perception.camera_model import CameraModel
from redraw_trainer.core.devices import module_device
from redraw_trainer.model.distributions import categorical_kl, mode_one_hot
from redraw_trainer.model.world_model import WorldModel

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
RIDGE_LAMBDAS = (1.0, 10.0, 100.0, 1000.0)


@dataclass
class Frames:
    images: np.ndarray  # (N, S, S, 3) uint8 model input
    rgb: np.ndarray | None  # (N, S, S, 3) uint8 the same frames as RGB (real frames, for the strip and masks)
    pose: np.ndarray | None  # (N, 2) lane pose (d, phi) in the simulator's convention, NaN where unlabelled
    names: list[str]


class VisualGapError(ValueError):
    """The frames folder or labels file cannot be used."""


def read_real_frames(folder: str | Path, preprocess: PreprocessConfig, labels: str | Path | None = None,
                     label_columns: tuple[str, str, str] = ("ImageNumber", "centerDistance", "relativeHeading"),
                     label_signs: tuple[float, float] = (-1.0, -1.0), camera_info: str | Path | None = None,
                     limit: int | None = None) -> Frames:
    """Every image in `folder` (sorted by name), preprocessed as the model's own pipeline does; lane pose
    from `labels` (CSV with an image-name column and d, phi columns) mapped to the simulator's signs."""
    folder = Path(folder)
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES) if folder.is_dir() else []
    if not paths:
        raise VisualGapError(f"{folder}: no {'/'.join(IMAGE_SUFFIXES)} images found")
    pose_by_name = read_labels(Path(labels), label_columns, label_signs) if labels else {}
    if labels:
        paths = [p for p in paths if p.name in pose_by_name]
        if not paths:
            raise VisualGapError(f"{labels}: no row names an image in {folder} (column '{label_columns[0]}')")
    paths = paths[:limit] if limit else paths
    bgrs = (_read_image(path) for path in paths)
    images, rgb = _preprocess_frames(bgrs, preprocess, camera_info)
    pose = np.array([pose_by_name[p.name] for p in paths]) if labels else None
    return Frames(images, rgb, pose, [p.name for p in paths])


def _read_image(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path))
    if bgr is None:
        raise VisualGapError(f"{path}: not a readable image")
    return bgr


def _preprocess_frames(bgrs, preprocess: PreprocessConfig, camera_info: str | Path | None) -> tuple[np.ndarray, np.ndarray]:
    """BGR frames of any size -> (model input, RGB at model size), each size with its own preprocessor."""
    camera = CameraModel.from_yaml(camera_info) if camera_info else None
    by_size: dict[tuple[int, int], tuple[Preprocessor, Preprocessor]] = {}
    images, rgb = [], []
    for bgr in bgrs:
        size = (bgr.shape[1], bgr.shape[0])
        if size not in by_size:
            config = replace(preprocess, frame_width=size[0], frame_height=size[1], camera=camera)
            by_size[size] = Preprocessor(config), Preprocessor(replace(config, observation="rgb"))
        model_input, as_rgb = by_size[size]
        images.append(model_input.from_bgr(bgr))
        rgb.append(as_rgb.from_bgr(bgr))
    return np.stack(images), np.stack(rgb)


def read_bag_frames(bag: str | Path, preprocess: PreprocessConfig, camera_topic: str | None = None,
                    pose_topic: str | None = None, label_signs: tuple[float, float] = (-1.0, -1.0),
                    camera_info: str | Path | None = None, max_gap_s: float = 0.1, limit: int | None = None) -> Frames:
    """Camera frames of a bag (rosbag2 or ROS 1), each labelled with the lane pose the robot's lane filter
    published nearest in time (within `max_gap_s`, else unlabelled), mapped to the simulator's signs.

    Record one on a calibrated robot with Duckietown's lane following running, e.g.
    `ros2 bag record /<veh>/image/compressed /<veh>/lane_filter_node/lane_pose`. Without a LanePose topic
    (and none named) the frames come unlabelled.
    """
    from redraw_logger import messages
    from redraw_trainer.data.bags import (CAMERA_TYPES, BagError, BagReport, count_messages, message_stamp, pick_topic,
                                         read_raw)

    path = Path(bag)
    report = BagReport(str(path))
    raw, deserialize = read_raw(path, report)
    count_messages(raw, report)
    camera = pick_topic(report, camera_topic, CAMERA_TYPES, "camera", path, "--camera-topic")
    has_pose = any(info["type"] == messages.LANE_POSE and info["count"] for info in report.topics.values())
    pose_topic = (pick_topic(report, pose_topic, (messages.LANE_POSE,), "lane pose", path, "--pose-topic")
                  if pose_topic or has_pose else None)
    poses = []
    for m in (m for m in raw if pose_topic and m.topic == pose_topic):
        msg = deserialize(m.data, m.msgtype)
        poses.append((message_stamp(msg, m.log_time), label_signs[0] * float(msg.d), label_signs[1] * float(msg.phi)))
    poses.sort()
    pose_t = np.array([p[0] for p in poses], np.int64)
    bgrs, names, labels = [], [], []
    for m in (m for m in raw if m.topic == camera):
        msg = deserialize(m.data, m.msgtype)
        bgr = cv2.imdecode(np.asarray(msg.data, np.uint8), cv2.IMREAD_COLOR)
        t = message_stamp(msg, m.log_time)
        if bgr is None:
            raise VisualGapError(f"{path}: a frame on {camera} at {t} ns does not decode (format '{msg.format}')")
        label = (np.nan, np.nan)
        if len(pose_t):
            after = int(np.searchsorted(pose_t, t))
            i = min((j for j in (after - 1, after) if 0 <= j < len(pose_t)), key=lambda j: abs(int(pose_t[j]) - t))
            if abs(pose_t[i] - t) <= max_gap_s * 1e9:
                label = poses[i][1:]
        bgrs.append(bgr), names.append(f"{t}"), labels.append(label)
        if limit and len(bgrs) >= limit:
            break
    if not bgrs:
        raise BagError(f"{path}: no frames on {camera}")
    if pose_topic and not np.isfinite(np.array(labels)).any():
        raise VisualGapError(f"{path}: no frame on {camera} has a lane pose on {pose_topic} within {max_gap_s} s")
    images, rgb = _preprocess_frames(bgrs, preprocess, camera_info)
    return Frames(images, rgb, np.array(labels, float) if pose_topic else None, names)


def read_labels(path: Path, columns: tuple[str, str, str], signs: tuple[float, float]) -> dict[str, tuple[float, float]]:
    """Image name -> lane pose (d, phi) from a labels CSV: `columns` names the image, d and phi columns,
    `signs` multiplies d and phi (onto the simulator's convention)."""
    with path.open(newline="") as f:
        reader = csv.DictReader(f, skipinitialspace=True)
        fields = [name.strip() for name in reader.fieldnames or []]
        missing = [c for c in columns if c not in fields]
        if missing:
            raise VisualGapError(f"{path}: columns {missing} not found; the file has {fields}")
        out = {}
        for line, row in enumerate(reader, start=2):
            row = {k.strip(): v for k, v in row.items() if k}
            try:
                out[row[columns[0]].strip()] = (signs[0] * float(row[columns[1]]), signs[1] * float(row[columns[2]]))
            except (TypeError, ValueError) as err:
                raise VisualGapError(f"{path}:{line}: expected numbers in {columns[1:]}: {err}") from err
    return out


def simulator_frames(observation: str, image_size: int, count: int, seed: int,
                     view: Callable[[Any, np.ndarray], np.ndarray] | None = None) -> tuple[Frames, np.ndarray]:
    """`count` source-simulator frames under a noisy lane PD (every other step), with lane pose and the
    episode index (for an episode-wise split). `view(env, obs)`, if given, makes each kept frame instead of
    the observation (e.g. from the raw render and the camera's pose)."""
    from redraw_trainer.envs.duckietown import lane_pid_policy
    from redraw_trainer.envs.factory import make_env

    env = make_env("duckietown", seed=seed, image_size=image_size, observation=observation)
    rng = np.random.default_rng(seed)
    images, pose, episode = [], [], []
    ep = 0
    while len(images) < count:
        obs, info = env.reset(seed=seed + ep)
        policy = lane_pid_policy(noise=0.4, rng=rng)
        for t in range(100):
            lane = info.get("lane")
            if lane is not None and t % 2 == 0 and len(images) < count:
                images.append(view(env, obs) if view else obs)
                pose.append((lane["dist"], lane["angle_rad"]))
                episode.append(ep)
            obs, _, terminated, truncated, info = env.step(policy(obs, info))
            if terminated or truncated:
                break
        ep += 1
    env.close()
    return Frames(np.stack(images), None, np.array(pose), []), np.array(episode)


def heldout_episodes(episode: np.ndarray) -> np.ndarray:
    """Rows of the last episodes (about a fifth of the rows), never fitted; one long episode: its last fifth."""
    held = episode >= episode[int(0.8 * len(episode))]
    return np.arange(len(episode)) >= int(0.8 * len(episode)) if held.all() else held


@torch.no_grad()
def posteriors(model: WorldModel, images: np.ndarray, batch: int = 256) -> torch.Tensor:
    """(N, S, S, 3) uint8 -> (N, G, K) posterior log-probs, in batches. Labelled frames come without the commands
    that drove them, so a model that reads a command history reads "standing still" for every frame."""
    out = []
    for i in range(0, len(images), batch):
        image = torch.as_tensor(images[i:i + batch]).to(module_device(model))
        out.append(model.posterior(image, model.standing_history(image)))
    return torch.cat(out)


def probe_features(post: torch.Tensor) -> np.ndarray:
    """(N, G*K) posterior probabilities: what the probe reads."""
    return post.exp().flatten(1).numpy()


@torch.no_grad()
def reconstructions(model: WorldModel, post: torch.Tensor, batch: int = 256) -> np.ndarray:
    """The decoded posterior mode of each frame, (N, S, S, 3) uint8."""
    return torch.cat([model.decode(mode_one_hot(post[i:i + batch])) for i in range(0, len(post), batch)]).numpy()


def fit_ridge(x: np.ndarray, y: np.ndarray, lam: float):
    """Ridge regression on standardised features; returns predict(x)."""
    mean, std = x.mean(0), x.std(0) + 1e-6
    a = (x - mean) / std
    w = np.linalg.solve(a.T @ a + lam * np.eye(a.shape[1]), a.T @ (y - y.mean(0)))
    return lambda q: ((q - mean) / std) @ w + y.mean(0)


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    return float(np.corrcoef(a[ok], b[ok])[0, 1]) if ok.sum() > 2 and a[ok].std() > 0 and b[ok].std() > 0 else float("nan")


def lane_probe(train_x: np.ndarray, train_y: np.ndarray, held_x: np.ndarray, held_y: np.ndarray,
               real_x: np.ndarray | None = None, real_y: np.ndarray | None = None,
               predictions: dict[str, np.ndarray] | None = None) -> dict[str, dict[str, float]]:
    """Per lane-pose variable: correlation on held-out simulator frames (lambda chosen there) and on real ones.
    `predictions`, if given, receives the probe's prediction for every real frame under the variable's name."""
    out = {}
    for k, name in enumerate(("d", "phi")):
        best = None
        for lam in RIDGE_LAMBDAS:
            predict = fit_ridge(train_x, train_y[:, k], lam)
            score = correlation(predict(held_x), held_y[:, k])
            if best is None or score > best[0]:
                best = (score, lam, predict)
        row = {"sim_heldout": best[0], "lambda": best[1]}
        if predictions is not None and real_x is not None:
            predictions[name] = best[2](real_x)
        if real_x is not None and real_y is not None:
            row["real"] = correlation(best[2](real_x), real_y[:, k])
        out[name] = row
    return out


def marking_coverage(masks: np.ndarray, min_pixels: int = 8) -> dict[str, float]:
    """Fraction of frames whose lane masks (N, S, S, 3) hold yellow, white, either, paint (>= min_pixels)."""
    counts = (masks > 0).reshape(len(masks), -1, 3).sum(1)
    yellow, white = counts[:, 0] >= min_pixels, counts[:, 1] >= min_pixels
    return {"yellow": float(yellow.mean()), "white": float(white.mean()), "either": float((yellow | white).mean()),
            "frames_without_markings": int((~(yellow | white)).sum())}


def visual_gap(model: WorldModel, preprocess: PreprocessConfig, real: Frames, sim_frames: int = 3000,
               seed: int = 0, predictions: dict[str, np.ndarray] | None = None) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """All figures for one model and one folder of real frames, plus the strip's rows. `predictions`, if
    given, receives the probe's lane pose for every real frame ("d", "phi")."""
    sim, episode = simulator_frames(preprocess.observation, model.cfg.image_size, sim_frames, seed)
    held = heldout_episodes(episode)
    sim_post, real_post = posteriors(model, sim.images), posteriors(model, real.images)
    sim_x, real_x = probe_features(sim_post), probe_features(real_post)
    probe = lane_probe(sim_x[~held], sim.pose[~held], sim_x[held], sim.pose[held],
                       real_x if real.pose is not None or predictions is not None else None, real.pose, predictions)
    sim_recon = reconstructions(model, sim_post[torch.from_numpy(held)])
    real_recon = reconstructions(model, real_post)
    masks = np.stack([lane_masks(frame) for frame in real.rgb])
    error = lambda a, b: float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean() / 255.0)
    result = {
        "observation": preprocess.observation, "real_frames": len(real.images),
        "labelled_real_frames": 0 if real.pose is None else int(np.isfinite(real.pose).all(1).sum()),
        "sim_frames": {"fit": int((~held).sum()), "heldout": int(held.sum())},
        "probe": probe,
        "reconstruction_error": {"sim_heldout": error(sim_recon, sim.images[held]), "real": error(real_recon, real.images)},
        "markings_found": marking_coverage(masks),
    }
    pick = np.linspace(0, len(real.images) - 1, min(10, len(real.images))).round().astype(int)
    rows = {"real frame": real.rgb[pick], "model input": real.images[pick], "reconstruction": real_recon[pick],
            "lane masks": masks[pick]}
    if preprocess.observation == "lane_masks":
        del rows["lane masks"]  # the model input is the masks
    result["strip_frames"] = [real.names[i] for i in pick]
    return result, rows


def format_visual_gap(result: dict[str, Any]) -> str:
    lines = [f"observation: {result['observation']}; real frames: {result['real_frames']} "
             f"({result['labelled_real_frames']} labelled); simulator frames: fit {result['sim_frames']['fit']}, "
             f"held out {result['sim_frames']['heldout']}",
             "", "| lane pose | probe corr., sim held-out | probe corr., real | abs. real |", "|---|---|---|---|"]
    for name, row in result["probe"].items():
        real = row.get("real", float("nan"))
        lines.append(f"| {name} | {row['sim_heldout']:.2f} | {real:+.2f} | {abs(real):.2f} |")
    rec, marks = result["reconstruction_error"], result["markings_found"]
    lines += ["", f"reconstruction error per pixel: simulator {rec['sim_heldout']:.3f}, real {rec['real']:.3f}",
              f"lane markings found: yellow in {marks['yellow']:.0%} of real frames, white in {marks['white']:.0%}, "
              f"either in {marks['either']:.0%} ({marks['frames_without_markings']} frames without)"]
    if "aligned" in result:
        from redraw_trainer.measure.lane_labels import format_lag_curves

        aligned = result["aligned"]
        lines += ["", format_lag_curves(aligned["rotation_sweep"], aligned["paint_sweep"], aligned["lag"],
                                        aligned["lag_chosen_by"]), "", format_aligned(aligned)]
    return "\n".join(lines)


def camera_path_check(model, preprocess, frames: int = 200, seed: int = 0) -> dict[str, float]:
    """Does the camera path matter to the encoder? Source-sim renders preprocessed directly (as pretraining
    saw them) vs through 640x480 JPEG and the robot's decode (as target and evaluation frames are):
    posterior KL between the two and argmax agreement, beside the KL between consecutive frames as scale."""
    from redraw_trainer.envs.behaviour import make_behaviour
    from redraw_trainer.envs.duckietown import camera_jpeg
    from redraw_trainer.envs.factory import make_env

    env = make_env("duckietown", seed=20_000 + seed)
    policy = make_behaviour("pid:noise=0.3", env, np.random.default_rng(seed))
    decode = Preprocessor(preprocess)
    direct, jpeg = [], []
    obs, info = env.reset(seed=20_000 + seed)
    for _ in range(frames):
        render = env.unwrapped.last_frame
        direct.append(decode.from_rgb(render))
        jpeg.append(decode.from_jpeg(camera_jpeg(render)))
        obs, _, terminated, truncated, info = env.step(policy(obs, info))
        if terminated or truncated:
            obs, info = env.reset()
    env.close()
    a, b = posteriors(model, np.stack(direct)), posteriors(model, np.stack(jpeg))
    pixel = np.abs(np.stack(direct).astype(np.float32) - np.stack(jpeg).astype(np.float32)).mean() / 255.0
    return {"frames": frames, "pixel_mae": round(float(pixel), 4),
            "posterior_kl_direct_vs_jpeg": round(float(categorical_kl(a, b).mean()), 3),
            "argmax_agreement": round(float((a.argmax(-1) == b.argmax(-1)).float().mean()), 3),
            "posterior_kl_consecutive_frames": round(float(categorical_kl(a[1:], a[:-1]).mean()), 3)}


# ---- aligned labels: the yardstick with the labels' clock, units and signs settled ---------------------------

LAG_GRID = tuple(np.round(np.arange(-0.4, 0.61, 0.05), 3))
MIN_PAINT_FRAMES = 50  # fewer usable frames than this: the paint-feature fit is not trusted to choose a lag
SUBSETS = ("all", "straight")


def frame_times(names: list[str], times_by_name: dict[str, float] | None = None) -> np.ndarray:
    """Each frame's time: its row in the labels file, else the stamp in its name (`..._<sec>_<nsec>.jpg`)."""
    from redraw_trainer.measure.lane_labels import stamp_from_name

    out = []
    for name in names:
        t = (times_by_name or {}).get(name)
        t = stamp_from_name(name) if t is None else t
        if t is None:
            raise VisualGapError(f"{name}: no time for this frame (not in the labels file, no _<sec>_<nsec> stamp in "
                                 "its name); a label lag needs one")
        out.append(t)
    return np.array(out, float)


def frame_measures(paths: list[Path], lane_filter=None) -> tuple[np.ndarray, np.ndarray | None]:
    """One pass over the full-size frames: the image turn between consecutive frames (pixels, at 160x120), and
    the classical lane filter's (d, phi) per frame in the simulator's signs (None without a lane filter)."""
    from redraw_trainer.measure.lane_labels import image_turn

    shifts, estimates, prev = [], [], None
    for path in paths:
        bgr = _read_image(path)
        gray = cv2.cvtColor(cv2.resize(bgr, (160, 120), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY)
        if prev is not None:
            shifts.append(image_turn(prev, gray))
        prev = gray
        if lane_filter is not None:
            estimates.append(lane_filter(bgr))
    return np.array(shifts), (-np.array(estimates, float).reshape(-1, 2) if lane_filter is not None else None)


def choose_lag(frame_t: np.ndarray, shifts: np.ndarray, masks: np.ndarray, labels, label_lag: float | None,
               lags=LAG_GRID, trajectory=None) -> tuple[float, str, dict | None, dict | None]:
    """The label lag to use: `label_lag` if given, else the best of the rotation sweep (image turn rate vs the
    trajectory's yaw rate, or the labels' heading rate on straight tiles). Both sweeps are run either way, so
    their curves can be printed. Returns (lag, how it was chosen, rotation sweep, paint sweep)."""
    from redraw_trainer.measure.lane_labels import (lag_sweep, label_turn_rate, paint_features, rotation_lag_sweep,
                                            trajectory_reference, turn_rate_of_frames)

    pair_t, rate = turn_rate_of_frames(frame_t, shifts)
    if trajectory is not None:
        reference, what = trajectory_reference(trajectory), "trajectory yaw rate"
    else:
        reference, what = (lambda times: label_turn_rate(labels, times)), "labels' heading rate on straight tiles"
    rotation = rotation_lag_sweep(pair_t, rate, reference, lags) if len(rate) > 8 else None
    paint = lag_sweep(paint_features(masks), frame_t, labels, lags)
    if label_lag is not None:
        return float(label_lag), "given (--label-lag)", rotation, paint
    if rotation is not None and np.isfinite(rotation["r"]).any():
        return rotation["best_lag"], f"best of the rotation sweep: image turn rate vs {what}", rotation, paint
    if np.isfinite(paint["r_d"]).any() and min(paint["frames"]) >= MIN_PAINT_FRAMES:
        return paint["best_lag"], "best of the paint-feature sweep (no turn to align on)", rotation, paint
    return 0.0, "0: too few frames or no turn to estimate it from", rotation, paint


def label_counts(pose: np.ndarray, straight: np.ndarray, max_heading: float = 1.0, max_offset: float = 0.2) -> dict:
    """How many frames each rule drops (in order: no label, |phi|, |d|) and how many remain, all and straight."""
    finite = np.isfinite(pose).all(1)
    heading_ok = finite.copy()
    heading_ok[finite] = np.abs(pose[finite, 1]) <= max_heading
    offset_ok = heading_ok.copy()
    offset_ok[heading_ok] = np.abs(pose[heading_ok, 0]) <= max_offset
    return {"frames": len(pose), "dropped_no_label": int((~finite).sum()),
            "dropped_heading_over_1rad": int((finite & ~heading_ok).sum()),
            "dropped_offset_over_0.2m": int((heading_ok & ~offset_ok).sum()),
            "used_all": int(offset_ok.sum()), "used_straight": int((offset_ok & straight).sum())}


def aligned_figures(estimates: dict[str, np.ndarray | None], pose: np.ndarray, usable: np.ndarray,
                    straight: np.ndarray) -> dict[str, dict[str, dict[str, float]]]:
    """{estimator: {subset: {"d": r, "phi": r, "frames": n}}} over the usable frames, all and straight tiles;
    an estimator's NaN rows (e.g. the lane filter saw no line) are left out of its own figures and counted."""
    out = {}
    for name, est in estimates.items():
        if est is None:
            continue
        rows = {}
        for subset, mask in (("all", usable), ("straight", usable & straight)):
            ok = mask & np.isfinite(est).all(1)
            rows[subset] = {"d": correlation(est[ok, 0], pose[ok, 0]), "phi": correlation(est[ok, 1], pose[ok, 1]),
                            "frames": int(ok.sum()), "no_estimate": int((mask & ~np.isfinite(est).all(1)).sum())}
        out[name] = rows
    return out


def format_aligned(aligned: dict) -> str:
    names = list(aligned["figures"])
    lines = [f"lane pose on the real frames at label lag {aligned['lag']:+.2f} s (labels in metres, simulator signs; "
             f"{aligned['counts']['used_all']} frames used, {aligned['counts']['used_straight']} on straight tiles; "
             f"dropped: {aligned['counts']['dropped_no_label']} without a label (trajectory gap, off the map, "
             f"intersection), {aligned['counts']['dropped_heading_over_1rad']} with |phi| > 1 rad, "
             f"{aligned['counts']['dropped_offset_over_0.2m']} with |d| > 0.2 m)",
             "straight: the labels' straight flag (with --trajectories: the robot's tile and the road 0.3 m ahead of it are "
             "straight, i.e. the camera sees a straight lane; with --labels: the file's Tile column)",
             "", "| estimator | r d, all | r phi, all | r d, straight | r phi, straight |", "|---|---|---|---|---|"]
    for name in names:
        f = aligned["figures"][name]
        lines.append(f"| {name} | {f['all']['d']:+.2f} | {f['all']['phi']:+.2f} | {f['straight']['d']:+.2f} | "
                     f"{f['straight']['phi']:+.2f} |")
    return "\n".join(lines)


def read_label_source(labels: str | Path | None, trajectories: str | Path | None, tile_map: str | Path | None,
                      d_scale: float, signs: tuple[float, float]):
    """(label source, frame time by image name or None, trajectory or None) from the command's options."""
    from redraw_trainer.measure.lane_labels import TileMap, Trajectory, TrajectoryLabels, read_label_table

    table, times = read_label_table(labels, signs=signs, d_scale=d_scale) if labels else (None, None)
    if trajectories:
        if not tile_map:
            raise VisualGapError("--trajectories needs --map (the tile map the trajectory was recorded on)")
        trajectory = Trajectory.from_folder(trajectories)
        return TrajectoryLabels(trajectory, TileMap.from_yaml(tile_map)), times, trajectory
    if table is None:
        raise VisualGapError("aligned labels need --labels (a CSV with times) or --trajectories and --map")
    return table, times, None


def aligned_visual_gap(model: WorldModel, preprocess: PreprocessConfig, folder: str | Path, labels, times_by_name,
                       trajectory=None, label_lag: float | None = None, lane_filter=None, sim_frames: int = 3000,
                       seed: int = 0, camera_info: str | Path | None = None, limit: int | None = None,
                       lags=LAG_GRID) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """`visual_gap` with the labels aligned: every frame of `folder`, labelled from `labels` (a
    lane_labels.LabelSource) at the lag `choose_lag` finds (or `label_lag`), frames without a usable label
    dropped and counted; the probe's and the classical lane filter's correlations, all frames and straight."""
    from redraw_trainer.measure.lane_labels import usable_labels

    real = read_real_frames(folder, preprocess, camera_info=camera_info, limit=limit)
    if times_by_name:  # frames the labels file names, in time order; else every frame with a stamp
        keep = [i for i, n in enumerate(real.names) if n in times_by_name]
    else:
        keep = list(range(len(real.names)))
    t_all = frame_times([real.names[i] for i in keep], times_by_name)
    order = [keep[i] for i in np.argsort(t_all, kind="stable")]
    real = Frames(real.images[order], real.rgb[order], None, [real.names[i] for i in order])
    frame_t = np.sort(t_all)
    shifts, lane_est = frame_measures([Path(folder) / n for n in real.names], lane_filter)
    masks = np.stack([lane_masks(frame) for frame in real.rgb])
    lag, how, rotation, paint = choose_lag(frame_t, shifts, masks, labels, label_lag, lags, trajectory)
    pose, straight = labels.pose_at(frame_t + lag)
    usable = usable_labels(pose, straight)
    real.pose = np.where(usable[:, None], pose, np.nan)
    predictions: dict[str, np.ndarray] = {}
    result, rows = visual_gap(model, preprocess, real, sim_frames, seed, predictions)
    probe_est = np.stack([predictions["d"], predictions["phi"]], 1)
    result["aligned"] = {
        "lag": lag, "lag_chosen_by": how, "rotation_sweep": rotation, "paint_sweep": paint,
        "counts": label_counts(pose, straight),
        "figures": aligned_figures({"encoder probe (sim-fitted ridge)": probe_est, "classical lane filter": lane_est},
                                   real.pose, usable, straight),
    }
    if lane_est is not None:
        result["aligned"]["lane_filter_no_estimate"] = int((~np.isfinite(lane_est).all(1)).sum())
    return result, rows


def aligned_from_args(args, model: WorldModel, preprocess: PreprocessConfig) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """`redraw visual-gap --frames DIR --labels CSV | --trajectories DIR --map MAP`: `aligned_visual_gap` with the
    command's options."""
    from redraw_trainer.measure.lane_filter import GroundCamera, LaneFilter

    signs = tuple(float(v) for v in args.label_signs.split(","))
    labels, times, trajectory = read_label_source(args.labels, args.trajectories, args.map, args.label_d_scale, signs)
    lane_filter = None
    if args.lane_filter_intrinsics or args.lane_filter_homography:
        if not (args.lane_filter_intrinsics and args.lane_filter_homography):
            raise VisualGapError("the lane filter needs both --lane-filter-intrinsics and --lane-filter-homography")
        lane_filter = LaneFilter(GroundCamera.from_yaml(args.lane_filter_intrinsics, args.lane_filter_homography,
                                                        args.lane_filter_scale))
    lag = None if args.label_lag in (None, "auto") else float(args.label_lag)
    return aligned_visual_gap(model, preprocess, args.frames, labels, None if trajectory is not None else times,
                              trajectory, lag, lane_filter, args.sim_frames, args.seed, args.camera_info, args.limit)
