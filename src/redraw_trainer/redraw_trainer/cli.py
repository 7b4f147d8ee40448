"""The `redraw` command line: every step of the sim-to-real pipeline is one sub-command.

    redraw pretrain --preset small --run-dir runs/pretrain-small --out models/source_small.pt
    redraw train-world-model --data DATA.npz --run-dir DIR
    redraw adapt --model MODEL.pt --data DATA.npz --method residual --out ADAPTER.pt

Presets and overrides: `--preset tiny|small|paper` (repeatable) and `--set section.key=value`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from redraw_trainer import __version__
from redraw_trainer.config import ConfigError, apply_overrides, load_config, with_preset_policy
from redraw_trainer.paths import PAPER_MODEL, SMALL_MODEL


def _config_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", action="append", default=None, help="config preset(s), in order (default: small)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override, e.g. train.steps=100")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: the preset's, 0)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def _config(args: argparse.Namespace):
    cfg = load_config(args.preset or ["small"], args.set)
    if args.seed is not None:
        cfg.seed = args.seed
    return cfg


def cmd_config_show(args: argparse.Namespace) -> int:
    """Every config key and value after presets and overrides, one `section.key: value` per line."""
    import dataclasses

    cfg = _config(args)
    for section, values in dataclasses.asdict(cfg).items():
        if isinstance(values, dict):
            for key, value in values.items():
                print(f"{section}.{key}: {value}")
        else:
            print(f"{section}: {values}")
    return 0


def cmd_pretrain(args: argparse.Namespace) -> int:
    from redraw_trainer.pretrain import export_world_model, pretrain
    from redraw_trainer.train import CHECKPOINT_NAME

    cfg = _config(args)
    summary = pretrain(cfg, args.run_dir, progress=not args.quiet)
    from redraw_trainer.plots import learning_curves

    learning_curves(Path(args.run_dir) / "metrics.jsonl", ["train/loss/recon", "train/kl/dynamics", "train/loss/reward"],
                    Path(args.run_dir) / "curve.png", title=f"redraw pretrain ({', '.join(args.preset or ['small'])})")
    print(json.dumps({k: {"mean": v["mean"], "ci95": v["ci95"]} for k, v in summary["source_returns"].items()}, indent=2))
    if args.out:
        print(f"world model written to {export_world_model(Path(args.run_dir) / CHECKPOINT_NAME, args.out)}")
    return 0


def cmd_refit_reward(args: argparse.Namespace) -> int:
    from redraw_trainer.plots import learning_curves
    from redraw_trainer.reward_refit import RefitConfig, refit_reward

    summary = refit_reward(args.model, args.run_dir, args.out, args.transitions, RefitConfig(steps=args.steps),
                           policy_updates=args.policy_updates, eval_episodes=args.eval_episodes, overrides=args.set,
                           progress=not args.quiet, preset=args.preset)
    learning_curves(Path(args.run_dir) / "refit.jsonl", ["refit/holdout_abs_error"], Path(args.run_dir) / "refit.png",
                    title="reward head refit: held-out |predicted - true| reward")
    print(json.dumps({k: {"mean": v["mean"], "ci95": v["ci95"], "mean_distance": v["mean_distance"]}
                      for k, v in summary["source_returns"].items()}, indent=2))
    print(f"world model with the refitted reward head written to {args.out}")
    return 0


def cmd_train_world_model(args: argparse.Namespace) -> int:
    from redraw_trainer.data.sequences import SequenceData
    from redraw_trainer.train import train_world_model

    cfg = _config(args)
    _, steps = train_world_model(SequenceData.load(args.data), cfg, args.run_dir, progress=not args.quiet)
    print(f"world model trained to step {steps} in {args.run_dir}")
    return 0


def cmd_adapt(args: argparse.Namespace) -> int:
    from redraw_trainer.adapt import adapt, save_adapter
    from redraw_trainer.data.sequences import SequenceData
    from redraw_trainer.devices import resolve_device
    from redraw_trainer.evaluation import open_loop
    from redraw_trainer.metrics_log import MetricsLog
    from redraw_trainer.train import load_world_model

    model, cfg, ckpt = load_world_model(args.model)
    apply_overrides(cfg, args.set)
    model.to(resolve_device(cfg.device))
    data = load_dataset(args.bag or args.data, ckpt)
    train, holdout = data.split(cfg.adapt.holdout_fraction, seed=cfg.seed)
    result = adapt(model, train, cfg.adapt, args.method, seed=cfg.seed, progress=not args.quiet)
    scores = open_loop(model, result.dynamics, holdout, cfg.adapt.eval_context, cfg.adapt.eval_horizon)
    print(f"{args.method}: held-out open-loop KL per horizon {scores['kl'].round(2).tolist()}")
    if args.out:
        save_adapter(args.out, result, args.model, cfg)
        log = MetricsLog(Path(args.out).parent, f"{Path(args.out).stem}_adapt.jsonl")  # + TensorBoard scalars
        for row in result.history:
            log.write(int(row["step"]), {k: v for k, v in row.items() if k != "step"})
        log.close()
        print(f"adapter written to {args.out} (curves: {log.path})")
    return 0


PAPER_PRETRAIN = "redraw pretrain --preset paper --run-dir runs/pretrain-paper --out models/source_paper.pt"


def check_paper_model(path: str) -> None:
    """`--scale paper` needs a world model of the paper preset's sizes; none is shipped (it needs a GPU)."""
    from redraw_trainer.config import load_config
    from redraw_trainer.train import load_world_model

    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: no paper-size world model; pretrain one first (resumable, GPU "
                                f"workstation): {PAPER_PRETRAIN}")
    _, cfg, _ = load_world_model(path)
    paper = load_config(["paper"]).model
    sizes = ("image_size", "cnn_depth", "groups", "classes", "hidden", "prior_layers")
    differ = {k: (getattr(cfg.model, k), getattr(paper, k)) for k in sizes if getattr(cfg.model, k) != getattr(paper, k)}
    if differ:
        found = ", ".join(f"{k} {have} (paper: {want})" for k, (have, want) in differ.items())
        raise ValueError(f"{path}: not a paper-size model ({found}); pretrain one with: {PAPER_PRETRAIN}")


def cmd_demo(args: argparse.Namespace) -> int:
    from redraw_trainer.demo import DemoConfig, run_demo
    from redraw_trainer.report import comparisons_text

    demo = DemoConfig(model=args.model or DemoConfig.model, out=args.out, gap=args.gap, transitions=args.transitions,
                      episodes=args.episodes, episode_steps=args.episode_steps, seeds=args.seeds, seed=args.seed,
                      workers=args.workers, oracle_steps=args.oracle_steps, adapt_steps=args.adapt_steps,
                      policy_updates=args.policy_updates, policy_batch=args.policy_batch)
    overrides = list(args.set)
    if args.scale == "paper":  # a GPU workstation: a paper-size model and the paper preset's budgets
        demo.model = args.model or PAPER_MODEL
        demo.preset = "paper"
        check_paper_model(demo.model)
        demo.policy_updates, demo.policy_batch, demo.adapt_steps, demo.oracle_steps = 20_000, 1024, 20_000, 20_000
        demo.transitions, demo.episodes = 40_000, 50
    outcome = run_demo(demo, overrides, progress=not args.quiet)
    print(outcome["table"])
    print()
    print(comparisons_text(outcome["results"]))
    print(f"report: {Path(args.out) / 'report.md'}")
    return 0


def cmd_collect(args: argparse.Namespace) -> int:
    from redraw_trainer.data.sim_to_bag import collect_bag

    stats = collect_bag(args.domain, args.gap, args.policy, args.transitions, args.out, args.seed, args.workers)
    print(json.dumps(stats, indent=2))
    print(f"bag(s) written under {args.out}")
    return 0


def _frame_size(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"--frame-size {text!r}: expected WIDTHxHEIGHT, e.g. 640x480") from None
    return w, h


def _read_bag_args(args: argparse.Namespace):
    from redraw_logger.pairing import PairingConfig
    from redraw_perception import PreprocessConfig
    from redraw_policy.kinematics import KinematicsConfig
    from redraw_trainer.data.bags import read_bag
    from redraw_trainer.envs.duckietown import DuckietownConfig

    kin = DuckietownConfig().kinematics
    calibration = {}
    if getattr(args, "calibration", None):
        from redraw_policy.kinematics import load_calibration

        calibration = load_calibration(args.calibration)  # CalibrationError (a ValueError) names the file
    kinematics = KinematicsConfig(**{**calibration, "v_max": args.v_max or kin.v_max, "omega_max": args.omega_max or kin.omega_max})
    preprocess = PreprocessConfig()
    if getattr(args, "model", None):
        from redraw_trainer.train import checkpoint_preprocess, load_world_model

        preprocess = checkpoint_preprocess(load_world_model(args.model)[2], source=args.model)
    return read_bag(args.bag, preprocess, kinematics, PairingConfig(args.tolerance), args.camera_topic,
                    args.cmd_topic, args.workers, cache_dir=args.cache_dir, frame_size=_frame_size(args.frame_size))


def _print_dataset(data, report) -> None:
    gaps = np.array(report.step_gaps_s)
    rate = f"{1.0 / np.median(gaps):.1f} Hz" if len(gaps) else "n/a"
    print(f"camera: {report.camera_topic}   command: {report.command_topic}   paired step rate: {rate}")
    print("pairing: " + ", ".join(f"{k}={v}" for k, v in report.pairing.items()))
    print(f"dataset: {len(data)} rows, {data.num_episodes} episodes, frames skipped: {report.corrupt_frames}")
    for reason, count in report.skipped.items():
        print(f"  skipped {count}: {reason}")
    for example in report.skip_examples:
        print(f"  e.g. {example}")
    for notice in report.notices:
        print(f"notice: {notice}")
    for warning in report.warnings:
        print(f"warning: {warning}")


def cmd_bag_info(args: argparse.Namespace) -> int:
    from redraw_trainer.data.bags import CAMERA_TYPES, COMMAND_TYPES, BagError, inspect_bag
    from redraw_trainer.plots import stamp_gap_histogram

    report = inspect_bag(args.bag)  # an unreadable bag raises BagError: exit 2 with the reason
    print(f"bag: {report.path} ({report.format})")
    print(f"  {'topic':<44} {'type':<40} {'msgs':>7} {'duration':>9} {'rate':>9}")
    for topic, info in sorted(report.topics.items()):
        print(f"  {topic:<44} {info['type']:<40} {info['count']:>7} {info['duration_s']:>8.1f}s {info['rate_hz']:>7.1f}Hz")
    for role, types in (("camera", CAMERA_TYPES), ("command", COMMAND_TYPES)):
        found = [t for t, i in report.topics.items() if i["type"] in types and i["count"]]
        print(f"training needs a {role} topic ({' or '.join(types)}): " + (", ".join(found) if found else "MISSING"))
    try:
        data, full = _read_bag_args(args)
    except BagError as err:
        print(f"training: this bag gives no dataset: {err}")
        return 0
    _print_dataset(data, full)
    if len(data) == 0:
        print("training: this bag gives no dataset (0 rows); see the pairing and skip counts above")
    if args.out:
        out = Path(args.out) / "stamp_gaps.png"
        stamp_gap_histogram(full.step_gaps_s, out, title=str(args.bag))
        print(f"stamp-gap histogram: {out}")
    return 0


def cmd_bag_convert(args: argparse.Namespace) -> int:
    from redraw_trainer.data.bags import require_rows

    data, report = _read_bag_args(args)
    _print_dataset(data, report)
    require_rows(data, report)
    data.save(args.out)
    print(f"{len(data)} rows, {data.num_episodes} episodes -> {args.out}")
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from redraw_logger.pairing import PairingConfig
    from redraw_trainer.replay import replay_bag

    result = replay_bag(args.bag, args.policy, args.out, args.camera_topic, args.cmd_topic, PairingConfig(args.tolerance))
    print(result.summary)
    print(f"plot: {result.plot}\nvideo: {result.video}")
    return 0


def cmd_train_policy(args: argparse.Namespace) -> int:
    from redraw_trainer.adapt import load_adapter
    from redraw_trainer.data.sequences import SequenceData
    from redraw_trainer.devices import resolve_device
    from redraw_trainer.envs.duckietown import DuckietownConfig
    from redraw_trainer.policy import save_and_export, train_policy
    from redraw_trainer.train import load_world_model

    model, cfg, ckpt = load_world_model(args.model)
    with_preset_policy(cfg, args.preset)
    apply_overrides(cfg, args.set)
    model.to(resolve_device(cfg.device))
    dynamics = load_adapter(args.residual, model)[0] if args.residual else model.dynamics
    data = load_dataset(args.data, ckpt)
    agent = train_policy(model, dynamics, data, cfg, Path(args.out).parent, Path(args.out).stem, not args.quiet)
    onnx_path, diff = save_and_export(model, agent, cfg, Path(args.out).parent, Path(args.out).stem,
                                      ckpt.get("preprocess"), DuckietownConfig().kinematics.to_dict(), data.image[:32])
    print(f"policy: {args.out}; ONNX: {onnx_path} (torch/onnxruntime max abs diff {diff:.2e})")
    return 0


def cmd_reward_check(args: argparse.Namespace) -> int:
    from redraw_trainer.adapt import load_adapter
    from redraw_trainer.reward_check import format_reward_check, reward_check
    from redraw_trainer.train import load_world_model

    model, _, _ = load_world_model(args.model)
    dynamics = load_adapter(args.residual, model)[0] if args.residual else model.dynamics
    result = reward_check(model, dynamics, args.gap, args.episodes, args.steps, args.seed)
    print(format_reward_check(result))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2))
        print(f"written to {args.out}")
    return 0


def cmd_visual_gap(args: argparse.Namespace) -> int:
    from redraw_trainer.plots import image_strip
    from redraw_trainer.train import checkpoint_preprocess, load_world_model
    from redraw_trainer.visual_gap import (aligned_from_args, format_visual_gap, read_bag_frames, read_real_frames,
                                          visual_gap)

    if bool(args.frames) == bool(args.bag):
        raise SystemExit("redraw visual-gap: give exactly one of --frames DIR or --bag BAG")
    if args.bag and args.labels:
        raise SystemExit("redraw visual-gap: --labels is for --frames; a bag's labels are its LanePose topic (--pose-topic)")
    model, _, ckpt = load_world_model(args.model)
    preprocess = checkpoint_preprocess(ckpt, source=args.model)
    signs = tuple(float(v) for v in args.label_signs.split(","))
    if args.bag:
        real = read_bag_frames(args.bag, preprocess, args.camera_topic, args.pose_topic, label_signs=signs,
                               camera_info=args.camera_info, limit=args.limit)
    elif not (args.labels or args.trajectories):
        real = read_real_frames(args.frames, preprocess, camera_info=args.camera_info, limit=args.limit)
    source = args.bag or args.frames
    if args.frames and (args.labels or args.trajectories):
        result, rows = aligned_from_args(args, model, preprocess)
    else:
        result, rows = visual_gap(model, preprocess, real, args.sim_frames, args.seed)
    result.update(model=args.model, frames=str(source), labels=args.labels or args.trajectories or args.pose_topic,
                  label_signs=signs)
    print(format_visual_gap(result))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(result, indent=2))
    image_strip(rows, out / "strip.png", title=f"{Path(source).name}: {Path(args.model).name}",
                columns=[Path(name).stem[-14:] for name in result["strip_frames"]])
    print(f"written: {out / 'results.json'}, {out / 'strip.png'}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from redraw_trainer.policy import load_policy
    from redraw_trainer.envs.duckietown import DuckietownConfig
    from redraw_trainer.export import export_onnx

    policy, data = load_policy(args.policy)
    diff = export_onnx(policy.model, policy.actor, args.out, data.get("preprocess"),
                       DuckietownConfig().kinematics.to_dict(), data["config"]["model"])
    print(f"exported {args.out}: torch vs onnxruntime max abs diff {diff:.2e}")
    return 0


def load_dataset(path: str, ckpt: dict | None = None):
    """A dataset file (.npz) or a bag directory (read with the model's preprocessing)."""
    from redraw_trainer.data.bags import read_bag, require_rows
    from redraw_trainer.data.sequences import SequenceData
    from redraw_trainer.envs.duckietown import DuckietownConfig
    from redraw_trainer.train import checkpoint_preprocess

    if str(path).endswith(".npz"):
        return SequenceData.load(path)
    data, report = read_bag(path, checkpoint_preprocess(ckpt), DuckietownConfig().kinematics)
    for notice in report.notices:
        print(f"notice: {notice}")
    return require_rows(data, report)


def _bag_read_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--camera-topic", default=None, help="camera topic (default: the .../image/compressed topic)")
    p.add_argument("--cmd-topic", default=None, help="command topic (TwistStamped, WheelsCmdStamped or Twist2DStamped)")
    p.add_argument("--tolerance", type=float, default=0.022, help="max frame-command stamp difference, s")


def build_parser() -> argparse.ArgumentParser:
    from redraw_trainer.demo import DemoConfig

    parser = argparse.ArgumentParser(prog="redraw", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"redraw {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("config", help="show the configuration: every key and value (`config show --preset P`)")
    config_sub = p.add_subparsers(dest="config_command", required=True)
    p = config_sub.add_parser("show", help="print every config key and value after presets and --set overrides")
    _config_args(p)
    p.set_defaults(func=cmd_config_show)

    p = sub.add_parser("pretrain", help="collect source-sim data (with Plan2Explore) and train the world model")
    p.add_argument("--run-dir", default="runs/pretrain-small", help="run folder: data, checkpoints, logs; resumes from it (default runs/pretrain-small)")
    p.add_argument("--out", default=None, help="copy the final world model here (no optimizer state)")
    _config_args(p)
    p.set_defaults(func=cmd_pretrain)

    p = sub.add_parser("refit-reward", help="refit a world model's reward head to the current task reward (no re-pretraining)")
    p.add_argument("--model", default=SMALL_MODEL, help="world model (default: the shipped models/source_small.pt)")
    p.add_argument("--run-dir", default="runs/refit-small", help="run folder: labelled data, refitted model, task policy; resumes (default runs/refit-small)")
    p.add_argument("--out", required=True, help="the world model with the refitted head (float16, like the shipped one)")
    p.add_argument("--transitions", type=int, default=12_000, help="labelled source transitions to collect")
    p.add_argument("--steps", type=int, default=3000, help="reward-head optimizer steps")
    p.add_argument("--policy-updates", type=int, default=None, help="task-policy updates (default: the preset's)")
    p.add_argument("--preset", default="small", help="task-policy (actor-critic) settings from this preset (default small)")
    p.add_argument("--eval-episodes", type=int, default=None, help="source-simulator evaluation episodes of 30 s (default: the preset's, 10)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override section.key=value (repeatable; keys: `redraw config show`)")
    p.add_argument("--quiet", action="store_true", help="no progress bars or stage timings")
    p.set_defaults(func=cmd_refit_reward)

    p = sub.add_parser("reward-check", help="does the model's reward separate driving, standing still and leaving "
                       "the road? (fresh labelled simulator episodes)")
    p.add_argument("--model", default=SMALL_MODEL, help="world model (default: the shipped models/source_small.pt)")
    p.add_argument("--residual", default=None, help="adapter from `redraw adapt --out`: imagine with its dynamics")
    p.add_argument("--gap", default="none", help="reality gap of the simulator driven (default none: the source)")
    p.add_argument("--episodes", type=int, default=5, help="episodes per behaviour (default 5)")
    p.add_argument("--steps", type=int, default=30, help="steps per episode at 10 Hz (default 30 = 3 s)")
    p.add_argument("--seed", type=int, default=0, help="first episode seed (default 0)")
    p.add_argument("--out", default=None, help="also write the figures as JSON here")
    p.set_defaults(func=cmd_reward_check)

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
    p.add_argument("--model", default=SMALL_MODEL, help="world model (default: the shipped models/source_small.pt)")
    p.add_argument("--sim-frames", type=int, default=3000, help="source-simulator frames for the probe, 1/5 held out (default 3000)")
    p.add_argument("--limit", type=int, default=None, help="use at most this many real frames (default all)")
    p.add_argument("--seed", type=int, default=0, help="simulator seed (default 0)")
    p.add_argument("--out", default="runs/visual-gap", help="folder for results.json and strip.png (default runs/visual-gap)")
    p.set_defaults(func=cmd_visual_gap)

    p = sub.add_parser("train-world-model", help="train a world model on a dataset file (resumes in --run-dir)")
    p.add_argument("--data", required=True, help="dataset .npz (from `redraw bag convert`)")
    p.add_argument("--run-dir", required=True, help="run folder: checkpoints and logs; resumes from it")
    _config_args(p)
    p.set_defaults(func=cmd_train_world_model)

    p = sub.add_parser("adapt", help="adapt a world model's dynamics to target data")
    p.add_argument("--model", required=True, help="the pretrained world model whose dynamics to adapt (e.g. models/source_small.pt)")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--bag", help="target rosbag2 directory (robot recording)")
    source.add_argument("--data", help="dataset .npz (from `redraw bag convert`)")
    p.add_argument("--method", default="residual", choices=["residual", "finetune", "new_dynamics", "none"],
                   help="residual: ReDRAW (default); finetune the prior; train a new prior; none: unadapted")
    p.add_argument("--out", default=None, help="adapter file to write (+ <name>_adapt.jsonl and TensorBoard beside it)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override section.key=value (repeatable; keys: `redraw config show`)")
    p.add_argument("--quiet", action="store_true", help="no progress bars or stage timings")
    p.set_defaults(func=cmd_adapt)

    p = sub.add_parser("train-policy", help="train a policy in a (rectified) model's imagination and export it")
    p.add_argument("--model", required=True, help="the world model (the adapter's base model with --residual)")
    p.add_argument("--residual", default=None, help="adapter from `redraw adapt --out` (any method)")
    p.add_argument("--data", required=True, help="start frames: dataset .npz or bag directory")
    p.add_argument("--out", required=True, help="policy .pt path; the .onnx is written beside it")
    p.add_argument("--preset", default="small", help="actor-critic settings (policy.*) from this preset (default small)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="config override, e.g. policy.updates=3000 (see configs/presets.yaml)")
    p.add_argument("--quiet", action="store_true", help="no progress bars or stage timings")
    p.set_defaults(func=cmd_train_policy)

    p = sub.add_parser("export", help="export a policy checkpoint to ONNX (with a parity check)")
    p.add_argument("--policy", required=True, help="policy checkpoint .pt (from `train-policy`)")
    p.add_argument("--out", required=True, help="ONNX file to write (parity-checked against torch)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("collect", help="drive a simulated domain and record it as rosbag2, like the robot")
    p.add_argument("--domain", default="duckietown", choices=["duckietown", "point"], help="simulator (default duckietown)")
    p.add_argument("--gap", default="none", help="reality gap, e.g. 'steering_reversed,trim=0.1,latency_steps=1'")
    p.add_argument("--policy", default="pid:noise=0.3",
                   help="random | pid[:noise=S] | operator[:noise=S,swerve=P] | smooth | torch:POLICY.pt | onnx:MODEL.onnx; "
                        "several separated by ';' are taken in turn, episode by episode")
    p.add_argument("--transitions", type=int, default=10_000, help="environment steps to record at 10 Hz (default 10000)")
    p.add_argument("--out", required=True, help="bag folder to write (rosbag2, mcap; one sub-folder per worker)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--workers", type=int, default=2, help="simulator processes (default 2)")
    p.set_defaults(func=cmd_collect)

    bag = sub.add_parser("bag", help="inspect or convert recordings (rosbag2 mcap/sqlite3, ROS 1 .bag)")
    bag = bag.add_subparsers(dest="bag_command", required=True)
    for name, func, text in (("info", cmd_bag_info, "every topic (type, count, duration, rate), then what training needs"),
                             ("convert", cmd_bag_convert, "bag -> dataset .npz (exits 2 with the reason if it would be empty)")):
        p = bag.add_parser(name, help=text)
        p.add_argument("bag", help="a rosbag2 directory, an .mcap/.db3 file, a ROS 1 .bag, or a folder of them")
        if name == "convert":
            p.add_argument("--out", required=True, help="dataset file to write (.npz)")
            p.add_argument("--model", default=None, help="use this world model's preprocessing")
        else:
            p.add_argument("--out", default=None, help="folder for the stamp-gap histogram (default: no plot)")
        _bag_read_args(p)
        p.add_argument("--calibration", default=None, metavar="YAML",
                       help="the robot's Duckietown kinematics calibration, to turn wheel commands into (v, omega)")
        p.add_argument("--v-max", type=float, default=None, help="m/s of a normalised forward action of 1")
        p.add_argument("--omega-max", type=float, default=None, help="rad/s of a normalised turn action of 1")
        p.add_argument("--workers", type=int, default=2, help="JPEG decoding processes")
        p.add_argument("--cache-dir", default=None, help="conversion cache (default: $REDRAW_CACHE_DIR or ~/.cache/redraw/bags)")
        p.add_argument("--frame-size", default=None, metavar="WxH",
                       help="the camera's frame size when it is not the model's 640x480 (crop fractions kept)")
        p.set_defaults(func=func)

    p = sub.add_parser("replay", help="run an ONNX policy over a recorded bag's frames offline: plot, video, agreement")
    p.add_argument("--bag", required=True, help="a recorded bag (any format `redraw bag info` reads)")
    p.add_argument("--policy", required=True, help="ONNX policy from `redraw export` / `train-policy`")
    p.add_argument("--out", required=True, help="folder for commands.png, replay.mp4, summary.json")
    _bag_read_args(p)
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("demo", help="the sim-to-real pipeline end to end; prints a results table, writes a report")
    d = DemoConfig()
    p.add_argument("--model", default=None,
                   help=f"source world model (default: {d.model}; with --scale paper: {PAPER_MODEL})")
    p.add_argument("--out", default=d.out, help=f"run folder: bag, policies, report (default {d.out})")
    p.add_argument("--gap", default=d.gap, help=f"the target's reality gap (default '{d.gap}'; 'none' = source)")
    p.add_argument("--transitions", type=int, default=d.transitions, help=f"target transitions recorded (default {d.transitions})")
    p.add_argument("--episodes", type=int, default=d.episodes, help=f"evaluation episodes per policy and seed (default {d.episodes})")
    p.add_argument("--episode-steps", type=int, default=d.episode_steps,
                   help=f"steps per evaluation episode at 10 Hz (default {d.episode_steps} = {d.episode_steps / 10:g} s)")
    p.add_argument("--oracle-steps", type=int, default=d.oracle_steps,
                   help=f"oracle world-model updates (default {d.oracle_steps})")
    p.add_argument("--adapt-steps", type=int, default=d.adapt_steps, help=f"adaptation updates per method (default {d.adapt_steps})")
    p.add_argument("--policy-updates", type=int, default=d.policy_updates,
                   help=f"actor-critic updates per method and seed (default {d.policy_updates})")
    p.add_argument("--policy-batch", type=int, default=d.policy_batch,
                   help=f"imagined trajectories per actor-critic update (default {d.policy_batch})")
    p.add_argument("--seeds", type=int, default=d.seeds, help="seeds (adaptation + policy per seed; one target bag)")
    p.add_argument("--seed", type=int, default=d.seed, help="first seed")
    p.add_argument("--workers", type=int, default=d.workers, help=f"simulator processes (default {d.workers})")
    p.add_argument("--scale", choices=["small", "paper"], default="small",
                   help="small: this CPU's budgets and the shipped small model; paper: the paper preset's model "
                        "sizes and budgets (GPU; needs a paper-size model, see --model)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override section.key=value (repeatable; keys: `redraw config show`)")
    p.add_argument("--quiet", action="store_true", help="no progress bars or stage timings")
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ConfigError, ValueError, FileNotFoundError, RuntimeError) as err:
        command = " ".join(filter(None, (args.command, getattr(args, "bag_command", None),
                                         getattr(args, "config_command", None))))
        print(f"redraw {command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
