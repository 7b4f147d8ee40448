"""Recordings: `redraw bag info|convert`, `redraw collect` (a simulated robot's bag), `redraw replay`."""

from __future__ import annotations

import argparse
import json

from redraw_logger.pairing import PairingConfig

from redraw_trainer.model.checkpoint import model_contract
from redraw_trainer.workflows import bags
from redraw_trainer.cli.options import bag_options, bag_reading
from redraw_trainer.core.paths import SMALL_MODEL
from redraw_trainer.data.sim_to_bag import collect_bag
from redraw_trainer.measure.replay import replay_bag

BAG_HELP = "a rosbag2 folder, an .mcap/.db3 file, a ROS 1 .bag, or a folder of them (each described on its own)"
MODEL_HELP = "world model whose preprocessing and action scale the bag is read with (default: the shipped one)"


def info(args: argparse.Namespace) -> list[str]:
    lines: list[str] = []
    bags.bag_info(args.bag, bag_reading(args).read_options(*model_contract(args.model)), args.out, lines.append,
                  args.meter)
    return lines


def convert(args: argparse.Namespace) -> list[str]:
    lines: list[str] = []
    bags.bag_convert(args.bag, bag_reading(args).read_options(*model_contract(args.model)), args.out, lines.append)
    return lines


def collect(args: argparse.Namespace) -> list[str]:
    stats = collect_bag(args.domain, args.gap, args.behaviour, args.transitions, args.out, args.seed, args.workers)
    return [json.dumps(stats, indent=2), f"bag(s) written under {args.out}"]


def replay(args: argparse.Namespace) -> list[str]:
    reading = bag_reading(args)
    result = replay_bag(args.bag, args.policy, args.out, reading.camera_topic, reading.cmd_topic,
                        PairingConfig(reading.tolerance), panels=args.panels, worst=args.worst,
                        video_frames=args.video_frames)
    return [str(result.summary), f"plots: {result.plot}, {result.scatter}, {result.plot.with_name('worst_episodes.png')}",
            f"video: {result.video}"]


def register(sub: argparse._SubParsersAction) -> None:
    register_bag(sub)
    register_collect_and_replay(sub)


def register_bag(sub: argparse._SubParsersAction) -> None:
    bag = sub.add_parser("bag", help="inspect or convert recordings (rosbag2 mcap/sqlite3, ROS 1 .bag)")
    commands = bag.add_subparsers(dest="bag_command", required=True, metavar="{info,convert}")
    p = commands.add_parser("info", help="every topic (type, count, duration, rate), then what training gets from it")
    p.add_argument("bag", help=BAG_HELP)
    p.add_argument("--out", default=None, help="folder for the stamp-gap histogram (default: no plot)")
    p.add_argument("--model", default=SMALL_MODEL, help=MODEL_HELP)
    p.add_argument("--meter", default=None, metavar="POLICY.onnx",
                   help="an exported policy: its reality-gap meter per episode (does the model predict this robot?)")
    bag_options(p)
    p.set_defaults(func=info)
    p = commands.add_parser("convert", help="bag -> dataset .npz (exits 2 with the reason if it would be empty)")
    p.add_argument("bag", nargs="+", help="one bag per path (a rosbag2 folder, an .mcap/.db3 file or a ROS 1 .bag); "
                   "several paths are concatenated")
    p.add_argument("--out", required=True, help="dataset file to write (.npz)")
    p.add_argument("--model", default=SMALL_MODEL, help=MODEL_HELP)
    bag_options(p)
    p.set_defaults(func=convert)


def register_collect_and_replay(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("collect", help="drive a simulated domain and record it as rosbag2, like the robot")
    p.add_argument("--domain", default="duckietown", choices=["duckietown", "point"], help="simulator (default duckietown)")
    p.add_argument("--gap", default="none", help="reality gap, e.g. 'steering_reversed,trim=0.1,latency_steps=1'")
    p.add_argument("--behaviour", "--policy", dest="behaviour", default="pid:noise=0.3",
                   help="who drives: random | pid[:noise=S] | operator[:noise=S,swerve=P] | smooth | torch:POLICY.pt | "
                        "onnx:MODEL.onnx; several separated by ';' take turns episode by episode (--policy: old name)")
    p.add_argument("--transitions", type=int, default=10_000, help="environment steps to record at 10 Hz (default 10000)")
    p.add_argument("--out", required=True, help="bag folder to write (rosbag2, mcap; one sub-folder per worker)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--workers", type=int, default=2, help="simulator processes (default 2)")
    p.set_defaults(func=collect)

    p = sub.add_parser("replay", help="run an ONNX policy over a recorded bag's frames offline: plot, video, agreement")
    p.add_argument("--bag", required=True, help="a recorded bag (any format `redraw bag info` reads)")
    p.add_argument("--policy", required=True, help="the policy's ONNX file (from `redraw train-policy` or `export`)")
    p.add_argument("--out", required=True, help="folder for commands.png, worst_episodes.png, agreement.png, replay.mp4, "
                   "summary.json")
    p.add_argument("--panels", type=int, default=6, help="episodes drawn in commands.png: the N longest (default 6)")
    p.add_argument("--worst", type=int, default=3,
                   help="episodes where the policy disagrees most: listed, drawn and in the video (default 3)")
    p.add_argument("--video-frames", type=int, default=600,
                   help="at most this many video frames; longer episodes are shown every k-th frame (default 600)")
    bag_options(p)
    p.set_defaults(func=replay)
