"""A classical lane-pose estimator in the manner of Duckietown's lane following, without ROS: the reference a
learned encoder is measured against on real frames.

Pipeline (after dt-core's `line_detector`, `ground_projection` and `lane_filter` packages; parameters from their
default configuration files, written out in `LaneFilterConfig`):

1. *Line segments from colour edges*: the frame is rectified with the camera's intrinsics, shrunk to 160x120,
   its top 40 rows cut; Canny edges inside each colour's (dilated) mask; probabilistic Hough segments. The colour
   masks are `redraw_perception.lane_masks` (Duckietown's HSV rules after a per-frame colour balance, narrowed on
   simulator and Duckiebot frames) rather than dt-core's raw thresholds, which miss the public lap's yellow.
   Which side of a segment the paint lies on is read from the mask a few pixels either side.
2. *Ground projection*: segment end points (rectified pixels of the full frame) through the extrinsic
   homography to the ground plane (metres; x forward, y left).
3. *Histogram vote*: each ground segment, known to be an edge of the yellow centre line or of the right white
   line, implies a lane pose: phi from its direction, d from its distance to the robot and the lane geometry
   (lane width between inner edges, line widths). Votes, weighted by the segment's length on the ground, fill a
   (d, phi) grid; the estimate is the mean vote around the fullest cell. Single frame: no motion prediction, so a frame's estimate depends on that frame only.

Signs: the estimate is returned in Duckietown's convention (d > 0 left of the lane centre, phi > 0 turned
left), as the robot's lane filter publishes it; `estimate_sim` flips it to the simulator's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import yaml

from redraw_perception.lane_masks import LaneMaskConfig, lane_masks

YELLOW, WHITE = 0, 1  # lane_masks channels


@dataclass(frozen=True)
class LaneFilterConfig:
    # dt-core packages/lane_filter/config/lane_filter_node/default.yaml
    lanewidth: float = 0.23  # between the inner edges of the yellow and the white line, m
    linewidth_white: float = 0.05
    linewidth_yellow: float = 0.025
    d_min: float = -0.15
    d_max: float = 0.3
    delta_d: float = 0.02
    phi_min: float = -1.5
    phi_max: float = 1.5
    delta_phi: float = 0.1
    range_max: float = 0.6  # segments farther than this from the robot do not vote, m
    # dt-core packages/line_detector/config/line_detector_node/default.yaml
    image_size: tuple[int, int] = (160, 120)  # width, height the detector works at
    top_cutoff: int = 40
    canny: tuple[int, int] = (80, 200)
    dilation: int = 3
    hough_threshold: int = 2
    hough_min_length: int = 3
    hough_max_gap: int = 1
    masks: LaneMaskConfig = field(default_factory=LaneMaskConfig)
    side_probe_px: float = 2.0  # how far either side of a segment the mask is read, detector pixels


@dataclass
class GroundCamera:
    """Intrinsics (camera_info: K, distortion, projection P) and the extrinsic homography (rectified pixel of
    the full frame -> ground point, m). `ground_scale` multiplies ground coordinates (a camera-height error)."""

    k: np.ndarray
    dist: np.ndarray
    p: np.ndarray
    width: int
    height: int
    homography: np.ndarray
    distortion_model: str = "plumb_bob"
    ground_scale: float = 1.0

    @classmethod
    def from_yaml(cls, intrinsics: str | Path, extrinsics: str | Path, ground_scale: float = 1.0) -> "GroundCamera":
        calib = yaml.safe_load(Path(intrinsics).read_text())
        h = np.array(yaml.safe_load(Path(extrinsics).read_text())["homography"], float).reshape(3, 3)
        return cls(np.array(calib["camera_matrix"]["data"], float).reshape(3, 3),
                   np.array(calib["distortion_coefficients"]["data"], float),
                   np.array(calib["projection_matrix"]["data"], float).reshape(3, 4)[:, :3],
                   int(calib["image_width"]), int(calib["image_height"]), h,
                   str(calib.get("distortion_model", "plumb_bob")), ground_scale)

    def __post_init__(self) -> None:
        self._maps = None

    def rectify(self, bgr: np.ndarray) -> np.ndarray:
        """Full-size rectified frame (the frame is first resized to the calibration's size)."""
        if bgr.shape[:2] != (self.height, self.width):
            bgr = cv2.resize(bgr, (self.width, self.height), interpolation=cv2.INTER_AREA)
        if not np.any(self.dist):
            return bgr
        if self._maps is None:
            size = (self.width, self.height)
            if self.distortion_model == "equidistant":
                self._maps = cv2.fisheye.initUndistortRectifyMap(self.k, self.dist[:4], np.eye(3), self.p, size,
                                                                 cv2.CV_32FC1)
            else:
                self._maps = cv2.initUndistortRectifyMap(self.k, self.dist, np.eye(3), self.p, size, cv2.CV_32FC1)
        return cv2.remap(bgr, *self._maps, cv2.INTER_LINEAR)

    def to_ground(self, pixels: np.ndarray) -> np.ndarray:
        """(N, 2) rectified pixels -> (N, 2) ground points (x forward, y left), NaN above the horizon (where the
        projection lands behind the robot; the homography's overall sign is arbitrary, so x decides)."""
        q = np.concatenate([pixels, np.ones((len(pixels), 1))], 1) @ self.homography.T
        with np.errstate(divide="ignore", invalid="ignore"):
            g = q[:, :2] / q[:, 2:3]
        g[~(g[:, 0] > 0)] = np.nan
        return g * self.ground_scale


@dataclass
class Segments:
    ground: np.ndarray  # (N, 2, 2) end points on the ground, m
    colour: np.ndarray  # (N,) YELLOW or WHITE
    paint_left: np.ndarray  # (N,) bool: the paint lies to the left of the edge (robot frame, y > 0 side)


def detect_segments(bgr: np.ndarray, camera: GroundCamera, config: LaneFilterConfig = LaneFilterConfig()) -> Segments:
    """Colour-edge line segments of one frame, on the ground plane."""
    rect = camera.rectify(bgr)
    w, h = config.image_size
    small = cv2.resize(rect, (w, h), interpolation=cv2.INTER_NEAREST)[config.top_cutoff:]
    rgb = cv2.cvtColor(small, cv2.COLOR_BGR2RGB)
    masks = lane_masks(rgb, config.masks)
    edges = cv2.Canny(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), *config.canny, apertureSize=3)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (config.dilation, config.dilation))
    scale = np.array([camera.width / w, camera.height / h])
    ground, colours, left = [], [], []
    for colour in (YELLOW, WHITE):
        mask = masks[..., colour]
        lines = cv2.HoughLinesP(cv2.bitwise_and(cv2.dilate(mask, kernel), edges), 1, np.pi / 180,
                                config.hough_threshold, minLineLength=config.hough_min_length,
                                maxLineGap=config.hough_max_gap)
        if lines is None:
            continue
        seg = lines.reshape(-1, 2, 2).astype(float)  # detector pixels (x, y) in the cut image
        direction = seg[:, 1] - seg[:, 0]
        normal = np.stack([-direction[:, 1], direction[:, 0]], 1) / np.linalg.norm(direction, axis=1, keepdims=True)
        mid = seg.mean(1)
        paint = []
        for sign in (1.0, -1.0):
            probe = np.round(mid + sign * config.side_probe_px * normal).astype(int)
            inside = (probe[:, 0] >= 0) & (probe[:, 0] < mask.shape[1]) & (probe[:, 1] >= 0) & (probe[:, 1] < mask.shape[0])
            hit = np.zeros(len(seg), bool)
            hit[inside] = mask[probe[inside, 1], probe[inside, 0]] > 0
            paint.append(hit)
        one_side = paint[0] ^ paint[1]  # an edge: paint on exactly one side
        seg, mid, normal, plus = seg[one_side], mid[one_side], normal[one_side], paint[0][one_side]
        if not len(seg):
            continue
        full = lambda px: (px + np.array([0.0, config.top_cutoff])) * scale
        g = camera.to_ground(full(seg.reshape(-1, 2))).reshape(-1, 2, 2)
        g_mid = camera.to_ground(full(mid))
        g_paint = camera.to_ground(full(mid + np.where(plus, 1.0, -1.0)[:, None] * config.side_probe_px * normal))
        ok = np.isfinite(g).all((1, 2)) & np.isfinite(g_paint).all(1) & np.isfinite(g_mid).all(1)
        g, g_mid, g_paint = g[ok], g_mid[ok], g_paint[ok]
        t = g[:, 1] - g[:, 0]
        t = np.where(t[:, :1] < 0, -t, t)  # oriented forward
        left_normal = np.stack([-t[:, 1], t[:, 0]], 1)
        ground.append(g)
        colours.append(np.full(len(g), colour))
        left.append(((g_paint - g_mid) * left_normal).sum(1) > 0)
    if not ground:
        return Segments(np.zeros((0, 2, 2)), np.zeros(0, int), np.zeros(0, bool))
    return Segments(np.concatenate(ground), np.concatenate(colours), np.concatenate(left))


def segment_votes(segments: Segments, config: LaneFilterConfig = LaneFilterConfig()) -> np.ndarray:
    """(N, 2) lane pose (d, phi; Duckietown signs) each segment implies, NaN for segments out of range.

    A line parallel to the lane at lateral offset o (lane frame, left positive) seen by a robot at (d, phi)
    runs along (cos phi, -sin phi) in the robot frame, at distance o - d along the normal (sin phi, cos phi)."""
    g = segments.ground
    if not len(g):
        return np.zeros((0, 2))
    t = g[:, 1] - g[:, 0]
    t = np.where(t[:, :1] < 0, -t, t)
    phi = -np.arctan2(t[:, 1], t[:, 0])
    mid = g.mean(1)
    along = np.sin(phi) * mid[:, 0] + np.cos(phi) * mid[:, 1]
    half, wy, ww = config.lanewidth / 2, config.linewidth_yellow, config.linewidth_white
    yellow = segments.colour == YELLOW
    offset = np.where(yellow, np.where(segments.paint_left, half, half + wy),
                      np.where(segments.paint_left, -half - ww, -half))
    d = offset - along
    far = np.hypot(*mid.T) > config.range_max
    out = np.stack([d, phi], 1)
    out[far] = np.nan
    return out


def segment_weights(segments: Segments, config: LaneFilterConfig = LaneFilterConfig()) -> np.ndarray:
    """A segment's vote counts by its length on the ground (capped at 10 cm): at 160x120 the Hough transform
    also returns 1-3 pixel stair steps of a slanted edge, whose direction is mostly quantisation."""
    g = segments.ground
    return np.minimum(np.linalg.norm(g[:, 1] - g[:, 0], axis=1), 0.10) if len(g) else np.zeros(0)


def vote(votes: np.ndarray, config: LaneFilterConfig = LaneFilterConfig(),
         weights: np.ndarray | None = None) -> tuple[float, float, int]:
    """Histogram vote over (d, phi): the weighted mean of the votes in the fullest cell and its neighbours;
    (NaN, NaN, 0) without votes in the grid. Returns (d, phi, votes in the grid)."""
    d_edges = np.arange(config.d_min, config.d_max + 1e-9, config.delta_d)
    p_edges = np.arange(config.phi_min, config.phi_max + 1e-9, config.delta_phi)
    w = np.ones(len(votes)) if weights is None else np.asarray(weights, float)
    keep = np.isfinite(votes).all(1)
    v, w = votes[keep], w[keep]
    keep = (v[:, 0] >= d_edges[0]) & (v[:, 0] < d_edges[-1]) & (v[:, 1] >= p_edges[0]) & (v[:, 1] < p_edges[-1])
    v, w = v[keep], w[keep]
    if not len(v) or w.sum() <= 0:
        return math.nan, math.nan, 0
    hist, _, _ = np.histogram2d(v[:, 0], v[:, 1], (d_edges, p_edges), weights=w)
    i, j = np.unravel_index(int(hist.argmax()), hist.shape)
    di = np.clip(np.digitize(v[:, 0], d_edges) - 1, 0, hist.shape[0] - 1)
    pj = np.clip(np.digitize(v[:, 1], p_edges) - 1, 0, hist.shape[1] - 1)
    near = (np.abs(di - i) <= 1) & (np.abs(pj - j) <= 1)
    return (float(np.average(v[near, 0], weights=w[near])), float(np.average(v[near, 1], weights=w[near])),
            int(len(v)))


class LaneFilter:
    """`LaneFilter(camera)(bgr)` -> (d, phi) in Duckietown's signs, NaN where no segment voted."""

    def __init__(self, camera: GroundCamera, config: LaneFilterConfig = LaneFilterConfig()):
        self.camera, self.config = camera, config

    def __call__(self, bgr: np.ndarray) -> tuple[float, float]:
        segments = detect_segments(bgr, self.camera, self.config)
        d, phi, _ = vote(segment_votes(segments, self.config), self.config, segment_weights(segments, self.config))
        return d, phi

    def estimate_sim(self, bgrs) -> np.ndarray:
        """(N, 2) estimates for a sequence of BGR frames in the simulator's signs (d > 0 right, phi > 0 right)."""
        return -np.array([self(bgr) for bgr in bgrs], float).reshape(-1, 2)
