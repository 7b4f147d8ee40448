"""`redraw demo`: the sim-to-real pipeline end to end, with the simulator plus a reality gap as "real".

1. load the shipped world model pretrained in the source simulator;
2. drive the target domain (default: steering reversed + wheel trim) as a person with a joystick
   would (lane following that knows the robot, with swerves and corrections, mixed with exploratory
   driving) and record it as rosbag2, exactly as the robot's logger would;
3. read the bag through the bag reader (the robot data path) and hold out whole episodes at random;
4. adapt the dynamics: ReDRAW residual, finetune (with early stopping, and as the paper ran it: same budget,
   none), new dynamics (and none = zero-shot); an oracle keeps the frozen encoder and trains dynamics, reward
   and continue heads on the same target transitions *with* the simulator's reward labels (which no other
   method sees), as the ceiling; score every model on the same held-out episodes;
5. train a policy in each model's imagination (rewards from the frozen sim reward head);
6. export each to ONNX and evaluate it through the robot runtime (JPEG -> preprocessing -> onnxruntime
   -> kinematics) in the target simulator;
   The privileged expert (the lane PD reading the true lane pose, the gap undone where it can be) is a
   reference row from the same starts;
7. print the results table and write a report folder (markdown, curves, bars, imagined-vs-real strip, and per
   method a clip of one evaluation episode: camera view with the commands, top-down path).
"""

from __future__ import annotations

import json
import multiprocessing as mp
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import torch

from redraw_trainer.learn.adapt import METHODS as ADAPT_METHODS, adapt, teacher_forced_kl
from redraw_trainer.learn.baselines import oracle_model
from redraw_trainer.core.config import DemoConfig, apply_overrides, load_config, with_preset_policy
from redraw_trainer.data.bags import read_bag
from redraw_trainer.data.sim_to_bag import LABELS_TOPIC, collect_bag, split_summary
from redraw_trainer.core.devices import resolve_device
from redraw_trainer.measure.evaluation import evaluate_expert, imagined_strip, open_loop
from redraw_trainer.core.metrics_log import read_metrics
from redraw_trainer.core.paths import PAPER_MODEL, SMALL_MODEL
from redraw_trainer.learn.policy import save_and_export, train_policy
from redraw_trainer.learn.posteriors import encode_posteriors
from redraw_trainer.measure.clips import episode_clip
from redraw_trainer.measure.report import LABELS, write_report
from redraw_trainer.measure.reward_check import drive_scenarios, score_scenarios
from redraw_trainer.learn.reward_refit import reward_mismatch
from redraw_trainer.envs.rollout import evaluate_onnx
from redraw_trainer.core.seeding import seed_everything
from redraw_trainer.model.checkpoint import checkpoint_preprocess, load_world_model
from redraw_trainer.measure.visual_gap import camera_path_check

# The policies compared: one per adaptation method (zero-shot = the simulator's dynamics), finetuning also as the
# paper ran it (the same budget, no early stopping), then the oracle; the privileged expert is a reference row.
ADAPT_METHOD = {"zero_shot": "none", **{m: m for m in ADAPT_METHODS if m != "none"}, "finetune_paper": "finetune"}
NO_EARLY_STOPPING = ("finetune_paper",)
METHODS = (*ADAPT_METHOD, "oracle")
EXPERT = "expert"


PAPER_PRETRAIN = "redraw pretrain --preset paper --out models/source_paper.pt"


def check_paper_model(path: str) -> None:
    """The paper preset's demo needs a world model of the paper sizes; none is shipped (it needs a GPU)."""
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


def _eval_worker(args: tuple[str, str, str, int, int, int, str | None, str]) -> dict[str, Any]:
    name, onnx_path, gap, episodes, episode_steps, seed, clip, title = args
    torch.set_num_threads(1)
    if name == EXPERT:
        return {"name": name, **evaluate_expert(gap, episodes, episode_steps, seed)}
    result = evaluate_onnx(onnx_path, gap, episodes, episode_steps, seed, record=clip is not None)
    if "episode" in result:  # one watched episode: camera clip + top-down path
        e = result.pop("episode")
        result["clip"] = episode_clip(e["frames"], e["commands"], e["xy"], e["tiles"], e["tile_size"], e["scale"],
                                      clip, title, fps=e["fps"])
    return {"name": name, **result}


def run_demo(demo: DemoConfig, overrides: list[str] = (), progress: bool = True) -> dict[str, Any]:
    started = time.perf_counter()
    out = Path(demo.out)
    out.mkdir(parents=True, exist_ok=True)
    model_path = demo.model or (PAPER_MODEL if demo.preset == "paper" else SMALL_MODEL)
    if demo.preset == "paper":
        check_paper_model(model_path)
    model, cfg, ckpt = load_world_model(model_path)
    with_preset_policy(cfg, demo.preset)
    cfg.policy.updates, cfg.policy.batch_size, cfg.adapt.steps = demo.policy_updates, demo.policy_batch, demo.adapt_steps
    apply_overrides(cfg, overrides)
    device = resolve_device(cfg.device)
    model.to(device)
    warning = reward_mismatch(ckpt, model_path)
    if warning:
        print(f"[demo] warning: {warning}")
    preprocess = checkpoint_preprocess(ckpt, source=model_path)
    kinematics = cfg.sim.kinematics  # the target simulator's, as the model learned its actions
    timings: dict[str, float] = {}

    def lap(name: str, t0: float) -> None:
        timings[name] = round(time.perf_counter() - t0, 1)
        if progress:
            print(f"[demo] {name}: {timings[name]} s")

    t0 = time.perf_counter()
    bag_dir = out / "target_bag"
    if not bag_dir.exists():
        collect_bag("duckietown", demo.gap, demo.behaviour, demo.transitions, bag_dir, demo.seed, demo.workers)
    lap("record target bag", t0)
    t0 = time.perf_counter()
    labelled, report = read_bag(bag_dir, preprocess, kinematics, workers=demo.workers, labels_topic=LABELS_TOPIC)
    train_eps, held_eps = labelled.split_episodes(cfg.adapt.holdout_fraction, seed=demo.seed)
    train_labelled = labelled.take_episodes(train_eps)
    train, holdout = train_labelled.reward_free(), labelled.take_episodes(held_eps).reward_free()  # all but the oracle's
    split = split_summary(labelled, report.episode_stamps, bag_dir, train_eps, held_eps)
    holdout_posteriors = encode_posteriors(model, holdout)  # one frozen encoder for every method
    lap("read bag", t0)
    t0 = time.perf_counter()
    camera_check = camera_path_check(model, preprocess, demo.camera_check_frames, seed=demo.seed)
    lap("camera path check", t0)
    t0 = time.perf_counter()
    scenarios = drive_scenarios(demo.gap, demo.reward_check_episodes, 30, 30_000 + demo.seed, cfg.model.image_size,
                                cfg.model.observation)
    lap("reward check episodes (drive / stand / leave) in the target", t0)

    results: dict[str, Any] = {"methods": {}, "bag": report.to_dict(), "target_rows": len(labelled), "split": split,
                               "camera_path": camera_check}
    exports: list[tuple[str, str]] = []
    curves: dict[str, list] = {}
    policy_curves: dict[str, list] = {}
    dynamics_for_strip: dict[str, Any] = {}
    for seed_index in range(demo.seeds):
        cfg.seed = demo.seed + seed_index
        seed_dir = out / f"seed{cfg.seed}"
        for name in METHODS:
            t0 = time.perf_counter()
            seed_everything(cfg.seed)  # every method starts from the same random state: runs reproduce
            if name == "oracle":
                policy_model = oracle_model(model, train_labelled, cfg, demo.oracle_steps, cfg.seed, progress)
                dynamics = policy_model.dynamics
            else:
                policy_model = model
                adapt_cfg = replace(cfg.adapt, validation_fraction=0.0) if name in NO_EARLY_STOPPING else cfg.adapt
                result = adapt(model, train, adapt_cfg, ADAPT_METHOD[name], seed=cfg.seed, progress=progress)
                dynamics = result.dynamics
                curves[name] = result.history
                if name in ("zero_shot", "residual"):
                    dynamics_for_strip[{"zero_shot": "unadapted", "residual": "ReDRAW"}[name]] = dynamics
            cache = holdout_posteriors  # one frozen encoder for every method, the oracle's too
            scores = open_loop(policy_model, dynamics, holdout, cfg.adapt.eval_context, cfg.adapt.eval_horizon,
                               seed=cfg.seed, cache=cache)
            one_step = teacher_forced_kl(policy_model, dynamics, holdout, cfg.adapt.seq_len, seed=cfg.seed, cache=cache)
            separation = score_scenarios(policy_model, dynamics, scenarios)
            agent = train_policy(policy_model, dynamics, train, cfg, seed_dir, name, progress)
            if seed_index == 0:
                policy_curves[name] = read_metrics(seed_dir / f"{name}_policy.jsonl")
            onnx_path, diff = save_and_export(policy_model, agent, cfg, seed_dir, name, preprocess.to_dict(),
                                              asdict(kinematics), train.image[:32], extra={"method": name, "gap": demo.gap})
            entry = results["methods"].setdefault(name, {"open_loop_kl": [], "latent_accuracy": [], "heldout_kl": [],
                                                         "parity": [], "reward_check": []})
            entry["reward_check"].append(separation)
            entry["open_loop_kl"].append(scores["kl"].tolist())
            entry["latent_accuracy"].append(scores["accuracy"].tolist())
            entry["heldout_kl"].append(one_step)
            entry["parity"].append(diff)
            exports.append((name, str(onnx_path)))
            lap(f"seed {cfg.seed} {name}: adapt + policy + export", t0)

    t0 = time.perf_counter()
    first = {name: i for i, (name, _) in reversed(list(enumerate(exports)))}  # each method's first seed: one clip
    jobs = [(name, path, demo.gap, demo.episodes, demo.episode_steps, demo.seed,
             str(out / "clips" / name) if first[name] == i else None, LABELS.get(name, name))
            for i, (name, path) in enumerate(exports)]
    results["methods"][EXPERT] = {}  # the privileged reference, from the starts every policy meets (deterministic)
    jobs.append((EXPERT, "", demo.gap, demo.episodes, demo.episode_steps, demo.seed, None, LABELS[EXPERT]))
    with ProcessPoolExecutor(demo.workers, mp_context=mp.get_context("spawn")) as pool:
        evaluations = list(pool.map(_eval_worker, jobs))
    lap("evaluate ONNX policies in the target simulator", t0)
    for evaluation in evaluations:
        entry = results["methods"][evaluation["name"]]
        repeat = demo.seeds if evaluation["name"] == EXPERT else 1  # one row per (seed, start), as every method
        entry.setdefault("returns", []).extend(evaluation["returns"] * repeat)
        entry.setdefault("lane_time", []).extend(evaluation["lane_time"] * repeat)
        entry.setdefault("distance", []).extend(evaluation["distance"] * repeat)
        if "clip" in evaluation:  # the first evaluation episode of the first seed, watched (report.md shows it)
            clip = {k: str(Path(v).relative_to(out)) for k, v in evaluation["clip"].items()}
            results.setdefault("clips", {})[evaluation["name"]] = {
                **clip, "seed": demo.seed, "return": evaluation["returns"][0], "distance": evaluation["distance"][0],
                "steps": evaluation["lengths"][0]}
    results["timings_s"] = timings
    results["total_s"] = round(time.perf_counter() - started, 1)
    results["config"] = {"demo": {**asdict(demo), "model": model_path}, "model": cfg.to_dict()}

    table = write_report(results, curves, imagined_strip(model, dynamics_for_strip, holdout), out, policy_curves)
    (out / "results.json").write_text(json.dumps(results, indent=2))
    return {"table": table, "results": results}
