"""Lane-pose labels for real frames, aligned in time: from a localisation trajectory and a tile map (in metres),
or from a timestamped labels file; and the label-lag sweep that finds how far the labels' clock is off.

Conventions. Everything returned here is in the *simulator's* lane-pose convention (gym-duckietown
`get_lane_pos2`): d in metres, positive to the right of the right lane's centre; phi in radians, positive
turned right. Duckietown's lane filter and the localisation labels of duckietown-ethz/proj-i-ml use the
opposite signs (d > 0 left, phi > 0 turned left).

Time. A label "at lag L" for a frame stamped t is the pose at t + L on the labels' clock: a positive lag takes
the labels later. Labels that come from another clock (a watchtower localisation system, 15 Hz, interpolated
to the image stamps) need that: on the proj-i-ml lap a crude image feature follows the labels far better at
L ≈ 0.2-0.3 s than at 0 (docs: experiments/visual-gap/aligned/report.md). `lag_sweep` estimates L from the
frames themselves.

Map geometry (Duckietown tiles, the layout of duckietown-world's `gd1` map files): tile (col i, row r) of the
map's `tiles` list covers x in [i, i+1) * tile_size, y in [n_rows - 1 - r, n_rows - r) * tile_size (row 0 is
the top, the largest y). A straight tile carries two lanes, their centres a quarter tile either side of the
tile's axis; a curve is a quarter circle about the corner its two open sides share, the right lane at 3/4 of a
tile from that corner when turning left and at 1/4 when turning right. Intersections (3-way, 4-way) have no
single lane: NaN there.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import yaml

STRAIGHT, CURVE, OTHER = "straight", "curve", "other"
_SIDES = {"N": (0, 1), "S": (0, -1), "E": (1, 0), "W": (-1, 0)}  # unit steps in (x, y)


class LabelError(ValueError):
    """A trajectory, map or labels file cannot be used."""


def wrap(angle):
    return (np.asarray(angle) + np.pi) % (2 * np.pi) - np.pi


@dataclass
class TileMap:
    kinds: list[list[str]]  # kinds[row][col], e.g. "straight", "curve_left", "3way_left", "asphalt"
    orientations: list[list[str]]  # "N", "S", "E", "W" (or "")
    tile_size: float

    @classmethod
    def from_yaml(cls, path: str | Path) -> "TileMap":
        data = yaml.safe_load(Path(path).read_text())
        if not isinstance(data, dict) or "tiles" not in data:
            raise LabelError(f"{path}: no 'tiles' list (a duckietown-world map file is expected)")
        kinds = [[str(t).split("/")[0] for t in row] for row in data["tiles"]]
        orient = [[(str(t).split("/") + [""])[1] for t in row] for row in data["tiles"]]
        return cls(kinds, orient, float(data.get("tile_size", 0.585)))

    def cell(self, x: float, y: float) -> tuple[int, int] | None:
        """(row, col) of the tile under (x, y), None off the map."""
        col, j = int(math.floor(x / self.tile_size)), int(math.floor(y / self.tile_size))
        row = len(self.kinds) - 1 - j
        return (row, col) if 0 <= row < len(self.kinds) and 0 <= col < len(self.kinds[row]) else None

    def kind(self, row: int, col: int) -> str:
        if 0 <= row < len(self.kinds) and 0 <= col < len(self.kinds[row]):
            return self.kinds[row][col]
        return "asphalt"

    def _straight_axis(self, row: int, col: int) -> tuple[int, int]:
        return (0, 1) if self.orientations[row][col] in ("N", "S") else (1, 0)

    def open_sides(self, row: int, col: int) -> list[str]:
        """Sides of a tile whose neighbour is road that could join it (a straight neighbour only end-on)."""
        out = []
        for side, (dx, dy) in _SIDES.items():
            nrow, ncol = row - dy, col + dx
            kind = self.kind(nrow, ncol)
            if kind in ("asphalt", "grass", "floor", ""):
                continue
            if kind == "straight" and self._straight_axis(nrow, ncol) != (abs(dx), abs(dy)):
                continue
            out.append(side)
        return out

    def curve_centre(self, row: int, col: int) -> np.ndarray | None:
        sides = self.open_sides(row, col)
        vertical = [s for s in sides if s in "NS"]
        horizontal = [s for s in sides if s in "EW"]
        if len(vertical) != 1 or len(horizontal) != 1:
            return None
        j = len(self.kinds) - 1 - row
        x = (col + (1 if horizontal[0] == "E" else 0)) * self.tile_size
        y = (j + (1 if vertical[0] == "N" else 0)) * self.tile_size
        return np.array([x, y])

    def lane_pose(self, x: float, y: float, yaw: float) -> tuple[float, float, str]:
        """(d, phi, tile kind) of a robot at (x, y) heading `yaw` (rad, from +x towards +y), in the
        *simulator's* convention (d > 0 right of the right lane's centre, phi > 0 turned right), d in metres.
        NaN off the road and on intersections."""
        where = self.cell(x, y)
        if where is None:
            return math.nan, math.nan, OTHER
        row, col = where
        kind, ts = self.kinds[row][col], self.tile_size
        p = np.array([x, y])
        heading = np.array([math.cos(yaw), math.sin(yaw)])
        if kind == "straight":
            axis = np.array(self._straight_axis(row, col), float)
            direction = axis if heading @ axis >= 0 else -axis
            left = np.array([-direction[1], direction[0]])
            j = len(self.kinds) - 1 - row
            centre = np.array([(col + 0.5) * ts, (j + 0.5) * ts]) - 0.25 * ts * left  # right lane's centre line
            d_left = float((p - centre) @ left)
            phi_left = float(wrap(yaw - math.atan2(direction[1], direction[0])))
            return -d_left, -phi_left, STRAIGHT
        if kind.startswith("curve"):
            c = self.curve_centre(row, col)
            if c is None:
                return math.nan, math.nan, OTHER
            r_vec = p - c
            r, alpha = float(np.hypot(*r_vec)), math.atan2(r_vec[1], r_vec[0])
            ccw = heading @ np.array([-math.sin(alpha), math.cos(alpha)]) >= 0  # turning left
            if ccw:
                d_left, lane_dir = 0.75 * ts - r, alpha + math.pi / 2
            else:
                d_left, lane_dir = r - 0.25 * ts, alpha - math.pi / 2
            return -d_left, -float(wrap(yaw - lane_dir)), CURVE
        return math.nan, math.nan, OTHER


@dataclass
class Trajectory:
    """A localisation system's robot poses: time (s, the labels' clock), x, y (m), yaw (rad, unwrapped)."""

    t: np.ndarray
    x: np.ndarray
    y: np.ndarray
    yaw: np.ndarray

    @classmethod
    def from_yaml_files(cls, paths: list[str | Path]) -> "Trajectory":
        """duckietown-ethz/proj-i-ml trajectory files: `begin_time_stamp` and `trajectory_data` mapping a
        time offset to [x, y, z, R11, R12, R13, R21, ..., R33]; yaw = atan2(-R12, R11) (the files' rotation
        is world-in-robot; checked: it points along the direction of travel)."""
        rows = []
        for path in paths:
            data = yaml.safe_load(Path(path).read_text())
            try:
                begin = float(data["begin_time_stamp"])
                for offset, values in data["trajectory_data"].items():
                    v = [float(a) for a in values]
                    rows.append((begin + float(offset), v[0], v[1], math.atan2(-v[4], v[3])))
            except (KeyError, TypeError, ValueError, IndexError) as err:
                raise LabelError(f"{path}: not a trajectory file ({err})") from err
        if not rows:
            raise LabelError("no trajectory samples")
        rows.sort()
        a = np.array(rows)
        return cls(a[:, 0], a[:, 1], a[:, 2], np.unwrap(a[:, 3]))

    @classmethod
    def from_folder(cls, folder: str | Path) -> "Trajectory":
        paths = sorted(p for p in Path(folder).glob("*.yaml") if _is_trajectory(p))
        if not paths:
            raise LabelError(f"{folder}: no trajectory .yaml files (with begin_time_stamp and trajectory_data)")
        return cls.from_yaml_files(paths)

    def at(self, times: np.ndarray, max_gap: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
        """(N, 3) x, y, yaw linearly interpolated at `times`, and a mask of the times whose two bracketing
        samples are at most `max_gap` s apart (elsewhere: a gap in the localisation, NaN)."""
        return _interpolate(self.t, np.stack([self.x, self.y, self.yaw], 1), times, max_gap)


def _is_trajectory(path: Path) -> bool:
    with path.open() as f:
        return "begin_time_stamp" in f.read(400)


def _interpolate(t: np.ndarray, values: np.ndarray, times: np.ndarray, max_gap: float) -> tuple[np.ndarray, np.ndarray]:
    times = np.asarray(times, float)
    after = np.clip(np.searchsorted(t, times), 1, len(t) - 1)
    t0, t1 = t[after - 1], t[after]
    ok = (times >= t[0]) & (times <= t[-1]) & (t1 - t0 <= max_gap + 1e-6)
    w = np.clip((times - t0) / np.maximum(t1 - t0, 1e-9), 0, 1)[:, None]
    out = (1 - w) * values[after - 1] + w * values[after]
    out[~ok] = np.nan
    return out, ok


@dataclass
class LabelSource:
    """Lane pose as a function of time, in the simulator's convention; `pose_at(times)` -> (d, phi, straight)."""

    def pose_at(self, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - interface
        raise NotImplementedError


@dataclass
class TrajectoryLabels(LabelSource):
    trajectory: Trajectory
    tile_map: TileMap
    max_gap: float = 0.1
    lookahead: float = 0.3  # "straight" also needs the ground this far ahead on a straight tile (what the camera sees)

    def pose_at(self, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, 2) (d m, phi rad), simulator signs, NaN in trajectory gaps and on intersections; (N,) straight:
        the robot on a straight tile and the point `lookahead` m ahead of it too."""
        xyy, ok = self.trajectory.at(times, self.max_gap)
        pose = np.full((len(xyy), 2), np.nan)
        straight = np.zeros(len(xyy), bool)
        for i in np.flatnonzero(ok):
            x, y, yaw = xyy[i]
            d, phi, kind = self.tile_map.lane_pose(x, y, yaw)
            pose[i] = d, phi
            ahead = self.tile_map.cell(x + self.lookahead * math.cos(yaw), y + self.lookahead * math.sin(yaw))
            straight[i] = kind == STRAIGHT and ahead is not None and self.tile_map.kind(*ahead) == "straight"
        return pose, straight


@dataclass
class TableLabels(LabelSource):
    """Timestamped labels (e.g. a CSV of ImageNumber, timeStamp, d, phi, Tile), already mapped to the
    simulator's signs and metres; a label between rows is interpolated, rows more than `max_gap` apart are
    a gap. `straight` per row (True where no tile column is given)."""

    t: np.ndarray
    pose: np.ndarray
    straight: np.ndarray
    max_gap: float = 0.2

    def pose_at(self, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pose, ok = _interpolate(self.t, self.pose, times, self.max_gap)
        # a heading jump (tile change, localisation flip) between the two rows: no trustworthy label
        after = np.clip(np.searchsorted(self.t, times), 1, len(self.t) - 1)
        jump = np.abs(wrap(self.pose[after, 1] - self.pose[after - 1, 1])) > 0.5
        pose[jump] = np.nan
        nearest = np.where(np.abs(self.t[after] - times) < np.abs(self.t[after - 1] - times), after, after - 1)
        return pose, self.straight[nearest] & ok & ~jump


def read_label_table(path: str | Path, columns: tuple[str, str, str, str] = ("ImageNumber", "timeStamp",
                     "centerDistance", "relativeHeading"), signs: tuple[float, float] = (-1.0, -1.0),
                     d_scale: float = 1.0, max_gap: float = 0.2) -> tuple[TableLabels, dict[str, float]]:
    """A labels CSV -> (labels over time, frame time by image name). `d_scale` turns its d into metres,
    `signs` its signs into the simulator's."""
    path = Path(path)
    with path.open(newline="") as f:
        reader = csv.DictReader(f, skipinitialspace=True)
        fields = [n.strip() for n in reader.fieldnames or []]
        missing = [c for c in columns if c not in fields and c != columns[1]]
        if missing:
            raise LabelError(f"{path}: columns {missing} not found; the file has {fields}")
        rows = []
        for line, row in enumerate(reader, start=2):
            row = {k.strip(): (v or "").strip() for k, v in row.items() if k}
            t = row[columns[1]] if columns[1] in row else stamp_from_name(row[columns[0]])
            if t is None:
                raise LabelError(f"{path}:{line}: no '{columns[1]}' column and no _<sec>_<nsec> stamp in the image name: "
                                 "aligning labels needs each frame's time")
            try:
                rows.append((float(t), row[columns[0]], signs[0] * d_scale * float(row[columns[2]]),
                             signs[1] * float(row[columns[3]]), row.get("Tile", "straight") == "straight"))
            except ValueError as err:
                raise LabelError(f"{path}:{line}: expected numbers in {columns[1:]}: {err}") from err
    if len(rows) < 2:
        raise LabelError(f"{path}: fewer than two labelled rows")
    rows.sort(key=lambda r: r[0])
    t = np.array([r[0] for r in rows])
    table = TableLabels(t, np.array([(r[2], r[3]) for r in rows]), np.array([r[4] for r in rows]), max_gap)
    return table, {r[1]: r[0] for r in rows}


_STAMP = re.compile(r"_(\d{9,})_(\d{1,9})$")


def stamp_from_name(name: str) -> float | None:
    """Frame time from a name like `autobot04_1574103166_39143085.jpg` (seconds, nanoseconds); None if none."""
    m = _STAMP.search(Path(name).stem)
    return int(m.group(1)) + int(m.group(2)) * 1e-9 if m else None


# ---- the label-lag sweep -------------------------------------------------------------------------------------

# Two estimates of the lag, both from the frames alone:
# - *rotation* (used): the camera's turn between consecutive frames (phase correlation of the upper half of
#   the image, where the scene is far and a turn moves everything sideways alike) against the turn rate the
#   labels say: the trajectory's yaw rate, or a labels file's d(phi)/dt on straight tiles (where the lane does
#   not turn, the heading's rate is the yaw rate). It is a clock offset and nothing else: the image's turn
#   happens when the robot turns.
# - *paint features* (printed beside it; the first estimate): least squares from crude lane-paint
#   features to the labels' d. It is biased towards positive lags: the camera looks 0.2-0.6 m ahead, so the
#   image also predicts where the robot will be (d(t + L) ~ d(t) + v L sin(phi)), and a later label can
#   fit better without any clock offset.


def image_turn(gray_prev: np.ndarray, gray: np.ndarray, top: float = 0.5) -> float:
    """Horizontal shift (pixels, positive: the scene moved right, i.e. the camera turned left) between two
    grayscale frames, from the phase correlation of their upper `top` fraction."""
    rows = max(8, int(round(gray.shape[0] * top)))
    a, b = gray_prev[:rows].astype(np.float64), gray[:rows].astype(np.float64)
    window = cv2.createHanningWindow((a.shape[1], a.shape[0]), cv2.CV_64F)
    (dx, _), _ = cv2.phaseCorrelate(a, b, window)
    return float(dx)


def turn_rate_of_frames(frame_t: np.ndarray, shifts: np.ndarray, max_shift: float = 8.0) -> tuple[np.ndarray, np.ndarray]:
    """(mid-times, image turn rate in pixels/s) of consecutive frame pairs; pairs whose shift exceeds
    `max_shift` pixels (a failed correlation, a frame drop) or more than 0.2 s apart are NaN."""
    dt = np.diff(frame_t)
    rate = np.asarray(shifts, float) / np.maximum(dt, 1e-6)
    rate[(np.abs(shifts) > max_shift) | (dt > 0.2) | (dt <= 0)] = np.nan
    return (frame_t[1:] + frame_t[:-1]) / 2, rate


def trajectory_turn_rate(trajectory: "Trajectory") -> tuple[np.ndarray, np.ndarray]:
    """(times, yaw rate rad/s, left positive) of a trajectory."""
    return trajectory.t, np.gradient(trajectory.yaw, trajectory.t)


def label_turn_rate(labels: "LabelSource", times: np.ndarray, step: float = 0.2) -> np.ndarray:
    """The labels' turn rate at `times` (rad/s, left positive): -d(phi)/dt of the simulator-signed heading over
    `step` s, on straight tiles only (NaN elsewhere). Over one 15 Hz label step the difference of interpolated
    labels is mostly interpolation noise (proj-i-ml lap: a lone spike in the curve); 0.2 s gives a smooth one."""
    before, s0 = labels.pose_at(times - step / 2)
    after, s1 = labels.pose_at(times + step / 2)
    rate = -(after[:, 1] - before[:, 1]) / step
    rate[~(s0 & s1)] = np.nan
    return rate


def rotation_lag_sweep(pair_t: np.ndarray, image_rate: np.ndarray, reference, lags: np.ndarray) -> dict:
    """Correlation of the image's turn rate with a reference turn rate taken `lag` s later, per lag.
    `reference(times) -> rate` (NaN where unknown). Returns {"lags", "r", "pairs", "best_lag"}."""
    lags = np.asarray(lags, float)
    r, pairs = [], []
    for lag in lags:
        ref = np.asarray(reference(pair_t + lag), float)
        ok = np.isfinite(ref) & np.isfinite(image_rate)
        r.append(float(np.corrcoef(image_rate[ok], ref[ok])[0, 1]) if ok.sum() > 8 and ref[ok].std() > 0 else math.nan)
        pairs.append(int(ok.sum()))
    best = int(np.nanargmax(r)) if np.isfinite(r).any() else int(np.argmin(np.abs(lags)))
    return {"lags": [round(float(v), 4) for v in lags], "r": r, "pairs": pairs, "best_lag": float(lags[best])}


def trajectory_reference(trajectory: "Trajectory", max_gap: float = 0.1):
    t, rate = trajectory_turn_rate(trajectory)
    return lambda times: _interpolate(t, rate[:, None], times, max_gap)[0][:, 0]




def paint_features(masks: np.ndarray, bands: int = 4) -> np.ndarray:
    """Crude lane features of lane-mask frames (N, S, S, 3; yellow, white channels): the mean column of yellow
    and of white paint in `bands` horizontal bands of the lower half, scaled to [-1, 1]; a band without paint
    takes the feature's mean, and an indicator says so. No learning, no simulator: a yardstick for timing."""
    n, size = masks.shape[:2]
    rows = np.array_split(np.arange(size // 2, size), bands)
    cols = (np.arange(masks.shape[2]) - (masks.shape[2] - 1) / 2) / (masks.shape[2] / 2)
    feats = np.full((n, 2 * bands), np.nan)
    for b, r in enumerate(rows):
        for c in range(2):
            paint = masks[:, r][..., c] > 0  # (N, rows, cols)
            count = paint.sum((1, 2))
            mean = (paint * cols).sum((1, 2)) / np.maximum(count, 1)
            feats[:, 2 * b + c] = np.where(count >= 3, mean, np.nan)
    missing = np.isnan(feats)
    fill = np.nanmean(np.where(missing.all(0), 0.0, feats), 0)
    return np.concatenate([np.where(missing, fill, feats), missing.astype(float)], 1)


def crossfit_correlation(x: np.ndarray, y: np.ndarray, rows: np.ndarray, frame_t: np.ndarray | None = None,
                         block: float = 1.0, lam: float = 0.01) -> float:
    """Least squares from features to y over `rows`, two folds, each fitted on one and scored on the other; the
    correlation of the out-of-fold predictions with y. Folds alternate in blocks of `block` s of `frame_t` (so
    both see every part of the lap; halves of a lap see different tiles, and a per-tile label offset then
    decides the figure); without `frame_t`, the first and second half of the rows."""
    idx = np.flatnonzero(rows)
    if len(idx) < 8:
        return math.nan
    if frame_t is None:
        fold = np.arange(len(idx)) >= len(idx) // 2
    else:
        fold = (np.floor((frame_t[idx] - frame_t[idx].min()) / block) % 2).astype(bool)
    if fold.all() or not fold.any():
        return math.nan
    z = (x - x[idx].mean(0)) / (x[idx].std(0) + 1e-6)
    design = np.concatenate([z, np.ones((len(x), 1))], 1)
    pred = np.empty(len(idx))
    for k in (False, True):
        fit, score = idx[fold == k], idx[fold != k]
        a = design[fit]
        w = np.linalg.solve(a.T @ a + lam * len(fit) * np.eye(a.shape[1]), a.T @ y[fit])
        pred[fold != k] = design[score] @ w
    return float(np.corrcoef(pred, y[idx])[0, 1]) if pred.std() > 0 and y[idx].std() > 0 else math.nan


def usable_labels(pose: np.ndarray, straight: np.ndarray, max_heading: float = 1.0, max_offset: float = 0.2,
                  straight_only: bool = False) -> np.ndarray:
    """Rows whose label can be trusted: finite (no trajectory gap, not an intersection), |phi| <= max_heading,
    |d| <= max_offset (beyond it the robot is not in its lane or the localisation is off the map), and on a
    straight tile if `straight_only`."""
    ok = np.isfinite(pose).all(1)
    ok[ok] &= (np.abs(pose[ok, 1]) <= max_heading) & (np.abs(pose[ok, 0]) <= max_offset)
    return ok & straight if straight_only else ok


def lag_sweep(features: np.ndarray, frame_t: np.ndarray, labels: LabelSource, lags: np.ndarray,
              max_heading: float = 1.0, max_offset: float = 0.2, straight_only: bool = True, block: float = 1.0) -> dict:
    """Correlation of crude image features with the labels taken at each candidate lag (cross-fitted, see
    `crossfit_correlation`), each over the frames whose label at that lag is usable (`usable_labels`: the
    same rule the figures at the chosen lag use). Returns {"lags", "r_d", "r_phi", "frames" (per lag),
    "best_lag" (argmax of r_d)}."""
    lags = np.asarray(lags, float)
    r_d, r_phi, frames = [], [], []
    for lag in lags:
        pose, straight = labels.pose_at(frame_t + lag)
        ok = usable_labels(pose, straight, max_heading, max_offset, straight_only)
        y = np.nan_to_num(pose)
        r_d.append(crossfit_correlation(features, y[:, 0], ok, frame_t, block))
        r_phi.append(crossfit_correlation(features, y[:, 1], ok, frame_t, block))
        frames.append(int(ok.sum()))
    best = int(np.nanargmax(r_d)) if np.isfinite(r_d).any() else int(np.argmin(np.abs(lags)))
    return {"lags": [round(float(v), 4) for v in lags], "r_d": r_d, "r_phi": r_phi, "frames": frames,
            "best_lag": float(lags[best])}


def format_lag_curves(rotation: dict | None, paint: dict | None, used: float, how: str) -> str:
    """Both lag curves side by side, and the lag used."""
    lags = (rotation or paint or {"lags": []})["lags"]
    lines = ["label lag (labels taken `lag` s after each frame):",
             "| lag s | rotation r | paint r d | paint r phi | frames (paint) |", "|---|---|---|---|---|"]
    for i, lag in enumerate(lags):
        rot = f"{rotation['r'][i]:+.2f}" if rotation else "-"
        pd = f"{paint['r_d'][i]:+.2f}" if paint else "-"
        pp = f"{paint['r_phi'][i]:+.2f}" if paint else "-"
        n = paint["frames"][i] if paint else "-"
        marks = [m for m, sweep in (("rotation", rotation), ("paint", paint)) if sweep and sweep["best_lag"] == lag]
        lines.append(f"| {lag:+.2f} | {rot} | {pd} | {pp} | {n} |" + (f" <- best ({', '.join(marks)})" if marks else ""))
    lines.append(f"lag used: {used:+.2f} s ({how})")
    return "\n".join(lines)
