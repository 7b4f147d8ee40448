"""The pipeline's steps as the command line runs them, on files: each loads its inputs, calls the library,
writes its outputs and returns what to print. `redraw <command>` is one call into this package (`bags.py` for
`redraw bag info|convert`) or into `demo.py`; everything here is usable from Python the same way.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from redraw_trainer.core import distributed
from redraw_trainer.core.config import Config, RefitConfig, apply_overrides, with_preset_policy
from redraw_trainer.core.devices import resolve_device
from redraw_trainer.core.metrics_log import MetricsLog
from redraw_trainer.data.reading import BagReading, load_dataset
from redraw_trainer.data.sequences import SequenceData
from redraw_trainer.learn.adapt import adapt, adapter_dynamics, load_adapter, save_adapter
from redraw_trainer.learn.export import export_onnx, set_gap_threshold
from redraw_trainer.learn.policy import save_and_export, train_policy
from redraw_trainer.learn.pretrain import export_world_model, pretrain
from redraw_trainer.learn.reward_refit import refit_reward
from redraw_trainer.learn.train import CHECKPOINT_NAME, train_world_model
from redraw_trainer.measure.evaluation import open_loop
from redraw_trainer.measure.plots import image_strip, learning_curves
from redraw_trainer.measure.reality_gap import REFERENCE_GAP, calibrate_threshold
from redraw_trainer.measure.reward_check import format_reward_check, reward_check
from redraw_trainer.measure.visual_gap import (aligned_from_args, format_visual_gap, read_bag_frames,
                                               read_real_frames, visual_gap)
from redraw_trainer.model.checkpoint import action_scale, checkpoint_preprocess, load_world_model
from redraw_trainer.model.frame_policy import load_policy


def pretrain_run(cfg: Config, run_dir: str | Path, out: str | None, title: str, progress: bool,
                 nproc: int = 1) -> list[str]:
    """`redraw pretrain`: collect, explore, train (resuming from `run_dir`), plot the curves, export to `out`.
    `nproc` > 1 starts that many ranks on this machine; under torchrun each process is one rank already, and only
    rank 0 plots, exports and reports."""
    summary = _ranks(nproc, cfg.device, pretrain, cfg, run_dir, progress)
    if summary is None:
        return []
    learning_curves(Path(run_dir) / "metrics.jsonl", ["train/loss/recon", "train/kl/dynamics", "train/loss/reward"],
                    Path(run_dir) / "curve.png", title=title)
    lines = [json.dumps({k: {"mean": v["mean"], "ci95": v["ci95"]} for k, v in summary["source_returns"].items()}, indent=2)]
    if out:
        lines.append(f"world model written to {export_world_model(Path(run_dir) / CHECKPOINT_NAME, out)}")
    return lines


def train_world_model_run(data_path: str, cfg: Config, run_dir: str, progress: bool, nproc: int = 1) -> list[str]:
    """`redraw train-world-model`: train (or resume) a world model on a dataset file, on `nproc` ranks or torchrun's."""
    steps = _ranks(nproc, cfg.device, _train_on_file, data_path, cfg, run_dir, progress)
    return [] if steps is None else [f"world model trained to step {steps} in {run_dir}"]


def _train_on_file(data_path: str, cfg: Config, run_dir: str, progress: bool) -> int:
    return train_world_model(SequenceData.load(data_path), cfg, run_dir, progress=progress)[1]


def _ranks(nproc: int, device: str, fn: Any, *args: Any) -> Any:
    """`fn(*args)` on `nproc` new ranks (rank 0's result), or in this process, which is one rank under torchrun
    (its result on rank 0, None on the others)."""
    if nproc > 1:
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            raise ValueError("--nproc starts its own ranks; under torchrun leave it out (torchrun's "
                             "--nproc_per_node says how many)")
        return distributed.launch(nproc, device, fn, *args)
    with distributed.session(device):
        value = fn(*args)
        return value if distributed.is_main() else None


def refit_reward_run(model: str, run_dir: str, out: str, transitions: int, refit: RefitConfig, policy_updates: int | None,
                     eval_episodes: int | None, overrides: list[str], preset: str, progress: bool) -> list[str]:
    """`redraw refit-reward`: refit the reward head on labelled source data, retrain and score the task policy."""
    summary = refit_reward(model, run_dir, out, transitions, refit, policy_updates=policy_updates,
                           eval_episodes=eval_episodes, overrides=overrides, progress=progress, preset=preset)
    learning_curves(Path(run_dir) / "refit.jsonl", ["refit/holdout_abs_error"], Path(run_dir) / "refit.png",
                    title="reward head refit: held-out |predicted - true| reward")
    scores = {k: {"mean": v["mean"], "ci95": v["ci95"], "mean_distance": v["mean_distance"]}
              for k, v in summary["source_returns"].items()}
    return [json.dumps(scores, indent=2), f"world model with the refitted reward head written to {out}"]


def adapt_run(model_path: str, data_path: str, method: str, out: str, reading: BagReading, steps: int | None,
              overrides: list[str], progress: bool) -> list[str]:
    """`redraw adapt`: adapt the model's dynamics to a target bag or dataset; score on held-out episodes; save."""
    model, cfg, ckpt = load_world_model(model_path)
    if steps is not None:
        cfg.adapt.steps = steps
    apply_overrides(cfg, overrides)
    model.to(resolve_device(cfg.device))
    data = load_dataset(data_path, reading, checkpoint_preprocess(ckpt), action_scale(cfg))
    train, holdout = data.split(cfg.adapt.holdout_fraction, seed=cfg.seed)
    result = adapt(model, train, cfg.adapt, method, seed=cfg.seed, progress=progress)
    scores = open_loop(model, result.dynamics, holdout, cfg.adapt.eval_context, cfg.adapt.eval_horizon)
    save_adapter(out, result, model_path, cfg)
    curves = write_adapt_log(out, result.history)
    return [f"{method}: held-out open-loop KL per horizon {scores['kl'].round(2).tolist()}",
            f"adapter written to {out} (curves: {curves})"]


def write_adapt_log(adapter: str | Path, history: list[dict[str, float]]) -> Path:
    """An adaptation's curves beside its adapter file: `<name>_adapt.jsonl` and TensorBoard scalars."""
    log = MetricsLog(Path(adapter).parent, f"{Path(adapter).stem}_adapt.jsonl")
    for row in history:
        log.write(int(row["step"]), {k: v for k, v in row.items() if k != "step"})
    log.close()
    return log.path


def train_policy_run(model_path: str, residual: str | None, data_path: str, out: str, reading: BagReading,
                     preset: str, updates: int | None, overrides: list[str], progress: bool,
                     robot: str | None = None) -> list[str]:
    """`redraw train-policy`: actor-critic in the (adapted) model's imagination from the data's frames; export.
    `robot` names the robot the policy is for (kept in the checkpoint and as the ONNX file's `redraw.robot`)."""
    model, cfg, ckpt = load_world_model(model_path)
    with_preset_policy(cfg, preset)
    if updates is not None:
        cfg.policy.updates = updates
    apply_overrides(cfg, overrides)
    model.to(resolve_device(cfg.device))
    dynamics, adapter = (load_adapter(residual, model) if residual else
                         (model.dynamics, {"method": "none", "weights": {}, "config": cfg.to_dict()}))  # zero-shot
    data = load_dataset(data_path, reading, checkpoint_preprocess(ckpt), action_scale(cfg))
    agent = train_policy(model, dynamics, data, cfg, Path(out).parent, Path(out).stem, progress)
    onnx_path, diff = save_and_export(model, agent, cfg, Path(out).parent, Path(out).stem, ckpt.get("preprocess"),
                                      cfg.sim.kinematics.to_dict(), data.image[:32],
                                      extra={"robot": robot} if robot else None, dynamics=dynamics, adapter=adapter)
    return [f"policy: {out}; ONNX: {onnx_path} (torch/onnxruntime max abs diff {diff:.2e}; reality-gap meter "
            "without a threshold: `redraw export` measures one)"]


def export_run(policy_path: str, out: str, gap_threshold: float | None = None, reference_gap: str = REFERENCE_GAP,
               calibration_transitions: int = 400) -> list[str]:
    """`redraw export`: a policy checkpoint to the ONNX file the robot runs, parity-checked against torch, with
    the reality-gap meter (the dynamics the policy imagined in) and its warning threshold: `gap_threshold`, or
    measured in the simulator under `reference_gap` ('none': no threshold, the meter reads but never warns)."""
    policy, data = load_policy(policy_path)
    kinematics = Config.from_dict(data["config"], source=policy_path).sim.kinematics.to_dict()
    lines = []
    if data.get("adapter"):
        dynamics = adapter_dynamics(data["adapter"], policy.model, policy_path)
    else:
        dynamics = policy.model.dynamics
        lines.append(f"note: {policy_path} does not say which dynamics the policy imagined in (written before policy "
                     "files kept them): the meter uses the model's own prior")
    diff = export_onnx(policy.model, policy.actor, out, data.get("preprocess"), kinematics, data["config"]["model"],
                       extra={"robot": data["robot"]} if data.get("robot") else None, dynamics=dynamics)
    lines.append(f"exported {out}: torch vs onnxruntime max abs diff {diff:.2e}")
    if gap_threshold is not None:
        set_gap_threshold(out, gap_threshold, {"rule": "given (redraw export --gap-threshold)"})
        lines.append(f"reality-gap warning threshold {gap_threshold:.3f} (given)")
    elif reference_gap != "none":
        threshold, calibration = calibrate_threshold(policy.model, policy.actor, data.get("preprocess"), kinematics,
                                                     reference_gap, calibration_transitions)
        set_gap_threshold(out, threshold, calibration)
        lines.append(f"reality-gap warning threshold {threshold:.3f}: halfway between the unadapted model's mean "
                     f"reading in the source simulator ({calibration['source']['gap_mean']}) and under "
                     f"'{reference_gap}' ({calibration['reference']['gap_mean']})")
    return lines


def reward_check_run(model_path: str, residual: str | None, gap: str, episodes: int, steps: int, seed: int,
                     out: str | None) -> list[str]:
    """`redraw reward-check`: what the model's imagination pays for driving, standing and leaving the road."""
    model, _, _ = load_world_model(model_path)
    dynamics = load_adapter(residual, model)[0] if residual else model.dynamics
    result = reward_check(model, dynamics, gap, episodes, steps, seed)
    lines = [format_reward_check(result)]
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(result, indent=2))
        lines.append(f"written to {out}")
    return lines


def visual_gap_run(opts: Any) -> list[str]:
    """`redraw visual-gap` with its options `opts` (the command's argparse namespace): does the encoder see the
    lane in real frames (a folder with labels, aligned in time and in metres, or a bag with the lane filter's
    LanePose)? Writes results.json and strip.png under `opts.out`."""
    if bool(opts.frames) == bool(opts.bag):
        raise ValueError("give exactly one of --frames DIR or --bag BAG")
    if opts.bag and (opts.labels or opts.trajectories):
        raise ValueError("--labels / --trajectories are for --frames; a bag's labels are its LanePose topic (--pose-topic)")
    model, _, ckpt = load_world_model(opts.model)
    preprocess = checkpoint_preprocess(ckpt, source=opts.model)
    signs = tuple(float(v) for v in opts.label_signs.split(","))
    if opts.frames and (opts.labels or opts.trajectories):
        result, rows = aligned_from_args(opts, model, preprocess)
    else:
        real = (read_bag_frames(opts.bag, preprocess, opts.camera_topic, opts.pose_topic, label_signs=signs,
                                camera_info=opts.camera_info, limit=opts.limit) if opts.bag else
                read_real_frames(opts.frames, preprocess, camera_info=opts.camera_info, limit=opts.limit))
        result, rows = visual_gap(model, preprocess, real, opts.sim_frames, opts.seed)
    source = opts.bag or opts.frames
    result.update(model=opts.model, frames=str(source), labels=opts.labels or opts.trajectories or opts.pose_topic,
                  label_signs=signs)
    folder = Path(opts.out)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps(result, indent=2))
    image_strip(rows, folder / "strip.png", title=f"{Path(source).name}: {Path(opts.model).name}",
                columns=[Path(name).stem[-14:] for name in result["strip_frames"]])
    return [format_visual_gap(result), f"written: {folder / 'results.json'}, {folder / 'strip.png'}"]
