"""Measuring a model: `redraw reward-check` and `redraw visual-gap`."""

from __future__ import annotations

import argparse

from redraw_trainer import workflows
from redraw_trainer.core.paths import SMALL_MODEL

MODEL_HELP = "world model (default: the shipped models/source_small.pt)"


def reward_check(args: argparse.Namespace) -> list[str]:
    return workflows.reward_check_run(args.model, args.residual, args.gap, args.episodes, args.steps, args.seed, args.out)


def visual_gap(args: argparse.Namespace) -> list[str]:
    return workflows.visual_gap_run(args.model, args.frames, args.bag, args.labels, args.label_signs, args.camera_topic,
                                    args.pose_topic, args.camera_info, args.sim_frames, args.limit, args.seed, args.out)


def register(sub: argparse._SubParsersAction) -> None:
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
    p.add_argument("--camera-info", default=None, help="camera_info YAML: undistort the frames first (default: as they are)")
    p.add_argument("--model", default=SMALL_MODEL, help=MODEL_HELP)
    p.add_argument("--sim-frames", type=int, default=3000, help="source-simulator frames for the probe, 1/5 held out (default 3000)")
    p.add_argument("--limit", type=int, default=None, help="use at most this many real frames (default all)")
    p.add_argument("--seed", type=int, default=0, help="simulator seed (default 0)")
    p.add_argument("--out", default="runs/visual-gap", help="folder for results.json and strip.png (default runs/visual-gap)")
    p.set_defaults(func=visual_gap)
