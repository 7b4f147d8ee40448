"""Measuring a model: `redraw reward-check` and `redraw visual-gap`."""

from __future__ import annotations

import argparse

from redraw_trainer import workflows
from redraw_trainer.core.paths import SMALL_MODEL

MODEL_HELP = "world model (default: the shipped models/source_small.pt)"


def reward_check(args: argparse.Namespace) -> list[str]:
    return workflows.reward_check_run(args.model, args.residual, args.gap, args.episodes, args.steps, args.seed, args.out)


def visual_gap(args: argparse.Namespace) -> list[str]:
    return workflows.visual_gap_run(args)


def register(sub: argparse._SubParsersAction) -> None:
    register_reward_check(sub)
    register_visual_gap(sub)


def register_reward_check(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("reward-check", help="does the model's reward separate driving, standing still and leaving "
                       "the road? (fresh labelled simulator episodes)")
    p.add_argument("--model", default=SMALL_MODEL, help=MODEL_HELP)
    p.add_argument("--residual", default=None, help="adapter from `redraw adapt --out`: imagine with its dynamics")
    p.add_argument("--gap", default="none", help="reality gap of the simulator driven (default none: the source)")
    p.add_argument("--episodes", type=int, default=5, help="episodes per behaviour (default 5)")
    p.add_argument("--steps", type=int, default=30, help="steps per episode at 10 Hz (default 30 = 3 s)")
    p.add_argument("--seed", type=int, default=0, help="first episode seed (default 0)")
    p.add_argument("--out", default=None, help="also write the figures as JSON here")
    p.set_defaults(func=reward_check)


def register_visual_gap(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("visual-gap", help="does the encoder see the lane in real frames? lane-pose probe, "
                       "reconstruction and lane masks on a folder of camera images or a bag")
    p.add_argument("--frames", default=None, help="folder of real camera images (.jpg/.png, e.g. 640x480)")
    p.add_argument("--bag", default=None, help="or a bag (rosbag2 or ROS 1) with the camera and, as labels, the lane "
                   "filter's LanePose (e.g. ros2 bag record /VEH/image/compressed /VEH/lane_filter_node/lane_pose)")
    p.add_argument("--camera-topic", default=None, help="with --bag: the CompressedImage topic (default: found by type)")
    p.add_argument("--pose-topic", default=None, help="with --bag: the LanePose topic (default: found by type; none: unlabelled)")
    p.add_argument("--labels", default=None, help="CSV of lane pose per image: columns ImageNumber, centerDistance (m), "
                   "relativeHeading (rad), as duckietown-ethz/proj-i-ml writes them (optional)")
    p.add_argument("--label-signs", default="-1,-1", help="multiply the labels' d,phi by these to get the simulator's "
                   "signs (default -1,-1: Duckietown's d>0 left, phi>0 turned left)")
    p.add_argument("--label-d-scale", type=float, default=1.0, help="multiply the labels' d by this to get metres "
                   "(duckietown-ethz/proj-i-ml output_pose.csv: 1.17, it holds half a tile-unit offset; default 1)")
    p.add_argument("--label-lag", default="auto", help="take each frame's label this many seconds later (labels on "
                   "another clock); default auto: estimated from the frames' turn vs the labels' and printed")
    p.add_argument("--trajectories", default=None, help="with --frames: folder of localisation trajectory .yaml files "
                   "(proj-i-ml format); labels are re-derived from them and --map, in metres (needs --map)")
    p.add_argument("--map", default=None, help="the tile map of --trajectories (duckietown-world map .yaml)")
    p.add_argument("--lane-filter-intrinsics", default=None, help="camera_info YAML for the classical lane filter "
                   "reference (e.g. the robot's, else dt-core's default camera_intrinsic)")
    p.add_argument("--lane-filter-homography", default=None, help="extrinsic homography YAML (rectified pixel -> ground) "
                   "for the classical lane filter")
    p.add_argument("--lane-filter-scale", type=float, default=1.0, help="scale the homography's ground coordinates "
                   "(a camera-height correction; default 1)")
    p.add_argument("--camera-info", default=None, help="camera_info YAML: undistort the frames first (default: as they are)")
    p.add_argument("--model", default=SMALL_MODEL, help=MODEL_HELP)
    p.add_argument("--sim-frames", type=int, default=3000, help="source-simulator frames for the probe, 1/5 held out (default 3000)")
    p.add_argument("--limit", type=int, default=None, help="use at most this many real frames (default all)")
    p.add_argument("--seed", type=int, default=0, help="simulator seed (default 0)")
    p.add_argument("--out", default="runs/visual-gap", help="folder for results.json and strip.png (default runs/visual-gap)")
    p.set_defaults(func=visual_gap)
