"""Aligned lane-pose labels: the lag estimates on labels shifted by a known amount, and the tile-map geometry."""

import math

import cv2
import numpy as np
import pytest

from redraw_trainer.measure.lane_labels import (TableLabels, TileMap, Trajectory, TrajectoryLabels, image_turn, lag_sweep,
                                        label_turn_rate, rotation_lag_sweep, stamp_from_name, trajectory_reference,
                                        turn_rate_of_frames, usable_labels)

SHIFT = 0.25  # s: the labels' clock runs this far ahead of the frames' (a label stamped t + SHIFT shows frame t)
LAGS = np.round(np.arange(-0.4, 0.61, 0.05), 3)


def smooth_signal(t: np.ndarray, seed: int, scale: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    f = rng.uniform(0.1, 0.6, 6)
    phase = rng.uniform(0, 2 * np.pi, 6)
    return scale * np.sin(2 * np.pi * f[None] * t[:, None] + phase[None]).sum(1) / 3


def test_rotation_sweep_finds_the_shift_of_a_trajectorys_clock():
    frame_t = np.arange(0, 60, 1 / 30)
    yaw = lambda t: smooth_signal(t, 0, 1.0)  # camera-clock yaw
    traj_t = np.arange(-1, 61, 1 / 15)
    trajectory = Trajectory(traj_t, np.zeros_like(traj_t), np.zeros_like(traj_t), yaw(traj_t - SHIFT))
    rng = np.random.default_rng(1)
    shifts = 40 * np.diff(yaw(frame_t)) + rng.normal(0, 0.3, len(frame_t) - 1)  # pixels per frame pair, noisy
    pair_t, rate = turn_rate_of_frames(frame_t, shifts, max_shift=100)
    sweep = rotation_lag_sweep(pair_t, rate, trajectory_reference(trajectory), LAGS)
    assert abs(sweep["best_lag"] - SHIFT) <= 0.05
    r = dict(zip(sweep["lags"], sweep["r"]))
    assert r[sweep["best_lag"]] > 0.9
    assert r[0.0] < r[sweep["best_lag"]] - 0.15  # with the shift ignored the agreement is visibly worse


def test_paint_sweep_and_label_turn_rate_find_the_shift_of_a_labels_file():
    frame_t = np.arange(0, 90, 1 / 30)
    d, phi = (lambda t: smooth_signal(t, 2, 0.05)), (lambda t: smooth_signal(t, 3, 0.3))
    label_t = np.arange(0, 90, 1 / 15)
    labels = TableLabels(label_t, np.stack([d(label_t - SHIFT), phi(label_t - SHIFT)], 1), np.ones(len(label_t), bool))
    rng = np.random.default_rng(4)
    features = np.stack([d(frame_t), phi(frame_t), rng.normal(size=len(frame_t))], 1) @ rng.normal(size=(3, 6))
    features += 0.01 * rng.normal(size=features.shape)
    sweep = lag_sweep(features, frame_t, labels, LAGS)
    assert abs(sweep["best_lag"] - SHIFT) <= 0.05
    r = dict(zip(sweep["lags"], sweep["r_d"]))
    assert r[0.0] < 0.9 < r[sweep["best_lag"]]
    # the labels' heading rate (simulator signs: -dphi/dt is a left turn) against the image's turn
    shifts = -30 * np.diff(phi(frame_t))
    pair_t, rate = turn_rate_of_frames(frame_t, shifts, max_shift=100)
    rot = rotation_lag_sweep(pair_t, rate, lambda times: label_turn_rate(labels, times), LAGS)
    assert abs(rot["best_lag"] - SHIFT) <= 0.05


def test_image_turn_reads_a_sideways_shift():
    rng = np.random.default_rng(0)
    scene = cv2.GaussianBlur(rng.uniform(0, 255, (120, 200)).astype(np.float32), (5, 5), 1.5)
    a, b = scene[:, 20:180], scene[:, 17:177]  # the scene moved 3 pixels right in the second frame
    assert image_turn(a, b) == pytest.approx(3.0, abs=0.3)


def tile_map() -> TileMap:
    """3x3 tiles of 0.585 m, row 0 at the top: a left curve at the bottom-left joining a straight going north
    (the column above it) and a straight going east (the row to its right)."""
    kinds = [["straight", "asphalt", "asphalt"], ["straight", "asphalt", "asphalt"], ["curve_left", "straight", "straight"]]
    orient = [["N", "E", "E"], ["N", "E", "E"], ["S", "E", "E"]]
    return TileMap(kinds, orient, 0.585)


def test_straight_tile_lane_pose_in_metres_and_simulator_signs():
    m = tile_map()
    ts = m.tile_size
    # column 0 runs north (x in [0, ts)); northbound, the right lane's centre is x = 3/4 ts
    d, phi, kind = m.lane_pose(0.75 * ts, 2.5 * ts, math.pi / 2)
    assert kind == "straight" and d == pytest.approx(0.0) and phi == pytest.approx(0.0)
    d, phi, _ = m.lane_pose(0.75 * ts + 0.05, 2.5 * ts, math.pi / 2 - 0.2)  # 5 cm right, turned right
    assert d == pytest.approx(0.05) and phi == pytest.approx(0.2)
    d, phi, _ = m.lane_pose(0.25 * ts - 0.03, 2.5 * ts, -math.pi / 2)  # southbound lane is x = 1/4 ts; 3 cm right
    assert d == pytest.approx(0.03) and phi == pytest.approx(0.0)
    assert math.isnan(m.lane_pose(1.5 * ts, 2.5 * ts, 0.0)[0])  # asphalt


def test_curve_lane_pose_about_the_corner_of_its_open_sides():
    m = tile_map()
    ts = m.tile_size
    assert m.open_sides(2, 0) == ["N", "E"]
    np.testing.assert_allclose(m.curve_centre(2, 0), [ts, ts])
    # coming east along the bottom row's curve into the north-going column is a left turn: lane radius 3/4 ts
    a = math.radians(225)
    p = np.array([ts, ts]) + 0.75 * ts * np.array([math.cos(a), math.sin(a)])
    d, phi, kind = m.lane_pose(*p, a - math.pi / 2)  # clockwise heading: a right turn, radius 1/4 ts
    assert kind == "curve" and d == pytest.approx(-0.5 * ts) and phi == pytest.approx(0.0, abs=1e-9)
    d, phi, _ = m.lane_pose(*p, a + math.pi / 2)  # counter-clockwise: on the lane's centre
    assert d == pytest.approx(0.0, abs=1e-9) and phi == pytest.approx(0.0, abs=1e-9)


def test_trajectory_labels_drop_gaps_and_mark_straight_only_with_straight_ground_ahead():
    m = tile_map()
    ts = m.tile_size
    t = np.array([0.0, 0.1, 0.2, 1.0, 1.1])  # a 0.8 s gap between 0.2 and 1.0
    y = np.array([2.1, 2.13, 2.16, 2.5, 2.53]) * ts  # northbound in the top row
    traj = Trajectory(t, np.full(5, 0.75 * ts), y, np.full(5, math.pi / 2))
    labels = TrajectoryLabels(traj, m, lookahead=0.3)
    pose, straight = labels.pose_at(np.array([0.05, 0.5, 1.05]))
    assert np.isfinite(pose[0]).all() and np.isnan(pose[1]).all() and np.isfinite(pose[2]).all()
    assert straight[0] and not straight[1]
    assert not straight[2]  # 0.3 m ahead is off the map's top: not a straight view
    assert usable_labels(np.array([[0.0, 1.2], [0.25, 0.0], [0.0, 0.0]]), np.ones(3, bool)).tolist() == [False, False, True]


def test_frame_stamps_from_names():
    assert stamp_from_name("autobot04_1574103166_39143085.jpg") == pytest.approx(1574103166.039143085)
    assert stamp_from_name("frame_00.jpg") is None
