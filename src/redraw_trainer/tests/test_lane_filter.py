"""The classical lane filter on frames rendered through a known homography from a lane at a known pose."""

import math

import numpy as np
import pytest

from redraw_trainer.measure.lane_filter import (GroundCamera, LaneFilter, LaneFilterConfig, detect_segments, segment_votes,
                                       segment_weights, vote)

# dt-core's default extrinsic homography (rectified pixel of a 640x480 frame -> ground, m; x forward, y left)
HOMOGRAPHY = np.array([-4.89775e-05, -0.0002150858, -0.1818273, 0.00099274, 1.202336e-06, -0.3280241,
                       -0.0004281805, -0.007185673, 1]).reshape(3, 3)
CONFIG = LaneFilterConfig()


def camera() -> GroundCamera:
    k = np.array([[210.0, 0, 327], [0, 254, 240], [0, 0, 1]])
    return GroundCamera(k, np.zeros(5), k, 640, 480, HOMOGRAPHY)


def render(d: float, phi: float, dashed: bool = False) -> np.ndarray:
    """BGR 640x480 view of a straight lane, robot at lateral offset d (m, left positive) and heading phi (rad,
    turned left positive): grey road, yellow centre line, white edge lines, green beyond, pale wall above."""
    v, u = np.mgrid[0:480, 0:640].astype(float)
    q = np.stack([u, v, np.ones_like(u)], -1) @ HOMOGRAPHY.T
    with np.errstate(divide="ignore", invalid="ignore"):
        x, y = q[..., 0] / q[..., 2], q[..., 1] / q[..., 2]
    ground = (x > 0) & (x < 3.0)
    # lane frame: p_L = R(phi) p_R + (0, d)
    s = math.cos(phi) * x - math.sin(phi) * y
    o = math.sin(phi) * x + math.cos(phi) * y + d
    half, wy, ww, lane = CONFIG.lanewidth / 2, CONFIG.linewidth_yellow, CONFIG.linewidth_white, CONFIG.lanewidth
    img = np.zeros((480, 640, 3), np.uint8)
    img[:] = (200, 210, 215)  # wall, BGR
    road = ground & (o > -half - ww - 0.02) & (o < half + wy + lane + ww + 0.02)
    img[ground & ~road] = (40, 120, 40)
    img[road] = (70, 70, 70)
    yellow = road & (o >= half) & (o <= half + wy)
    if dashed:
        yellow &= (np.floor(s / 0.05) % 2) == 0
    img[yellow] = (0, 210, 240)
    img[road & (o >= -half - ww) & (o <= -half)] = (250, 250, 250)
    img[road & (o >= half + wy + lane) & (o <= half + wy + lane + ww)] = (250, 250, 250)
    return img


@pytest.mark.parametrize("d,phi", [(0.0, 0.0), (0.05, 0.0), (-0.06, 0.0), (0.0, 0.3), (0.03, -0.3), (-0.04, 0.2)])
def test_lane_pose_is_recovered_from_a_rendered_lane(d, phi):
    est_d, est_phi = LaneFilter(camera())(render(d, phi))
    assert abs(est_d - d) < 0.02 and abs(est_phi - phi) < 0.1, (est_d, est_phi)


def test_estimates_follow_the_pose_and_flip_to_the_simulators_signs():
    poses = [(d, phi) for d in (-0.08, -0.03, 0.02, 0.07) for phi in (-0.4, 0.0, 0.4)]
    sim = LaneFilter(camera()).estimate_sim(render(d, phi, dashed=True) for d, phi in poses)
    truth = -np.array(poses)
    assert np.corrcoef(sim[:, 0], truth[:, 0])[0, 1] > 0.95
    assert np.corrcoef(sim[:, 1], truth[:, 1])[0, 1] > 0.95


def test_segments_know_which_side_the_paint_is_on():
    seg = detect_segments(render(0.0, 0.0), camera())
    votes = segment_votes(seg)
    ok = np.isfinite(votes).all(1)
    assert ok.sum() >= 10
    # edges of the yellow line and of the right white line imply d near 0 (most of the vote, by ground length)
    weights = segment_weights(seg)[ok]
    near = np.abs(votes[ok, 0]) < 0.03
    assert weights[near].sum() > 0.6 * weights.sum()
    assert {True, False} <= set(seg.paint_left[seg.colour == 0].tolist())


def test_no_markings_no_estimate():
    blank = np.full((480, 640, 3), 90, np.uint8)
    assert all(math.isnan(v) for v in LaneFilter(camera())(blank))
    assert vote(np.zeros((0, 2)))[2] == 0
