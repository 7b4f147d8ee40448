"""A class of robots on files: `redraw adapt --bag A --bag B ... --out DIR` (or `--fleet DIR`) and
`redraw train-policy --fleet DIR`.

    DIR/fleet.json              the robots, their bags, adapters and held-out one-step KLs (unadapted, adapted)
    DIR/<robot>/residual.pt     the robot's adapter (`redraw train-policy --residual` and `load_adapter` read it)
    DIR/<robot>/residual_adapt.jsonl   its curves (+ TensorBoard under DIR/<robot>/tb/)
    DIR/<robot>/policy.pt, policy.onnx  after `train-policy --fleet DIR`; the ONNX says `redraw.robot`
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from redraw_trainer.core.config import apply_overrides
from redraw_trainer.core.devices import resolve_device
from redraw_trainer.data.reading import BagReading, load_dataset
from redraw_trainer.data.robots import robot_names, robot_namespace, robot_paths
from redraw_trainer.learn.adapt import save_adapter, teacher_forced_kl
from redraw_trainer.learn.fleet import adapt_fleet, adapt_one_at_a_time
from redraw_trainer.model.checkpoint import action_scale, checkpoint_preprocess, load_world_model
from redraw_trainer.workflows import train_policy_run, write_adapt_log

FLEET_FILE = "fleet.json"


def adapt_fleet_run(model_path: str, bags: list[str], fleet: str | None, method: str, out: str, reading: BagReading,
                    steps: int | None, overrides: list[str], progress: bool, one_at_a_time: bool = False) -> list[str]:
    """`redraw adapt` for several robots: one residual each, trained in one batched run (or, `one_at_a_time`, by
    `adapt()` in turn: the reference the batched run matches); score each on its own held-out episodes; save."""
    if method != "residual":
        raise ValueError(f"--method {method}: a class of robots is adapted with the ReDRAW residual only")
    model, cfg, ckpt = load_world_model(model_path)
    if steps is not None:
        cfg.adapt.steps = steps
    apply_overrides(cfg, overrides)
    model.to(resolve_device(cfg.device))
    paths = robot_paths(bags, fleet)
    datasets = [load_dataset(p, reading, checkpoint_preprocess(ckpt), action_scale(cfg)) for p in paths]
    names = robot_names(paths, [robot_namespace(d.meta.get("bag_report", {}).get("camera_topic")) for d in datasets])
    splits = {name: data.split(cfg.adapt.holdout_fraction, seed=cfg.seed) for name, data in zip(names, datasets)}
    train = {name: fit for name, (fit, _) in splits.items()}
    adapt_robots = adapt_one_at_a_time if one_at_a_time else adapt_fleet
    results = adapt_robots(model, train, cfg.adapt, seed=cfg.seed, progress=progress)
    robots: dict[str, Any] = {}
    for (name, (fit, holdout)), path in zip(splits.items(), paths):
        adapter = save_adapter(Path(out) / name / "residual.pt", results[name], model_path, cfg)
        write_adapt_log(adapter, results[name].history)
        robots[name] = {
            "bag": str(path), "adapter": str(adapter), "train_rows": len(fit), "holdout_rows": len(holdout),
            "best_step": results[name].best_step, "seconds": results[name].seconds,
            "holdout_one_step_kl": {"unadapted": teacher_forced_kl(model, model.dynamics, holdout, cfg.adapt.seq_len),
                                    "residual": teacher_forced_kl(model, results[name].dynamics, holdout,
                                                                  cfg.adapt.seq_len)},
        }
    summary = {"model": model_path, "mode": "one_at_a_time" if one_at_a_time else "batched",
               "steps": cfg.adapt.steps, "seed": cfg.seed, "robots": robots}
    (Path(out) / FLEET_FILE).write_text(json.dumps(summary, indent=2))
    lines = [f"{name}: held-out one-step KL {r['holdout_one_step_kl']['unadapted']:.3f} unadapted -> "
             f"{r['holdout_one_step_kl']['residual']:.3f} adapted ({r['bag']}; {r['adapter']})"
             for name, r in robots.items()]
    # batched: every robot's `seconds` is the one run's; one at a time: each robot's own run
    seconds = sum(r["seconds"] for r in robots.values()) if one_at_a_time else next(iter(robots.values()))["seconds"]
    return lines + [f"{len(robots)} robots adapted {summary['mode'].replace('_', ' ')} in {seconds:.0f} s; "
                    f"summary: {Path(out) / FLEET_FILE}"]


def read_fleet(folder: str | Path) -> dict[str, Any]:
    """A fleet folder's `fleet.json` (written by `redraw adapt` for several robots)."""
    path = Path(folder) / FLEET_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file (a fleet folder is the --out of `redraw adapt --bag A --bag B "
                                "...` or `redraw adapt --fleet DIR`)")
    return json.loads(path.read_text())


def train_policy_fleet_run(folder: str, reading: BagReading, preset: str, updates: int | None, overrides: list[str],
                           progress: bool) -> list[str]:
    """`redraw train-policy --fleet DIR`: each robot's policy in its own rectified model's imagination, from its own
    frames, written as DIR/<robot>/policy.pt and policy.onnx (metadata `redraw.robot`)."""
    fleet = read_fleet(folder)
    lines = []
    for name, robot in fleet["robots"].items():
        out = str(Path(folder) / name / "policy.pt")
        done = train_policy_run(fleet["model"], robot["adapter"], robot["bag"], out, reading, preset, updates,
                                overrides, progress, robot=name)
        lines += [f"{name}: {line}" for line in done]
    return lines
