"""Why did the residual not lower the held-out KL? Does it generalise when the target keeps one appearance?
(report.md here.)

Collects target-domain transitions (the source simulator plus a reality gap, driven by a behaviour, seed 11)
in memory, splits whole episodes 75/25 (seed 0), adapts the shipped world model with no adaptation, the
residual and finetuning (300 steps, batch 32), and prints each one's teacher-forced one-step KL on the
held-out and the training episodes and the step early stopping kept.

The two runs in results.json, from the repository root (target appearance fixed, then re-randomised every
episode):

    .venv/bin/python experiments/adapt-overfit/measure.py --gap steering_reversed \
        --behaviour operator:swerve=0.05 --transitions 2000
    .venv/bin/python experiments/adapt-overfit/measure.py --gap steering_reversed \
        --behaviour operator:swerve=0.05 --transitions 2000 --domain-rand

(results.json records them in the script's earlier positional form, `measure.py GAP {nodr|dr} BEHAVIOUR
TRANSITIONS`; the printed figures are the same.)
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from redraw_trainer.core.config import apply_overrides
from redraw_trainer.data.collect import collect
from redraw_trainer.data.sequences import SequenceData
from redraw_trainer.envs.behaviour import make_behaviour
from redraw_trainer.envs.factory import make_env
from redraw_trainer.envs.reality_gap import RealityGap
from redraw_trainer.learn.adapt import adapt, teacher_forced_kl
from redraw_trainer.model.checkpoint import load_world_model

METHODS = ("none", "residual", "finetune")
COLLECT_SEED = 11
HOLDOUT_FRACTION = 0.25
KL_WINDOW = 16


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="models/source_small.pt", help="the world model to adapt")
    parser.add_argument("--gap", default="steering_reversed", help="reality gap spec of the target domain")
    parser.add_argument("--domain-rand", action="store_true",
                        help="re-randomise the target's appearance every episode (default: one fixed appearance)")
    parser.add_argument("--behaviour", default="operator:swerve=0.05", help="behaviour spec that drives the target")
    parser.add_argument("--transitions", type=int, default=2000, help="target transitions to collect")
    parser.add_argument("--steps", type=int, default=300, help="adaptation steps (adapt.steps)")
    parser.add_argument("--batch-size", type=int, default=32, help="adaptation batch size (adapt.batch_size)")
    return parser.parse_args()


def collect_target(gap: RealityGap, domain_rand: bool, behaviour: str, transitions: int) -> SequenceData:
    env = make_env("duckietown", gap, seed=COLLECT_SEED, domain_rand=domain_rand)
    policy = make_behaviour(behaviour, env, np.random.default_rng(COLLECT_SEED), gap)
    data = collect(env, policy, transitions, seed=COLLECT_SEED)
    env.close()
    return data


def main() -> None:
    args = parse_args()
    torch.set_num_threads(1)
    model, cfg, _ = load_world_model(args.model)
    model.float()
    gap = RealityGap.parse(args.gap)

    start = time.time()
    data = collect_target(gap, args.domain_rand, args.behaviour, args.transitions)
    train, hold = data.split(HOLDOUT_FRACTION, seed=0)
    print("collected", len(data), data.num_episodes, "episodes in", round(time.time() - start), "s", flush=True)

    apply_overrides(cfg, [f"adapt.steps={args.steps}", f"adapt.batch_size={args.batch_size}"])
    label = f"{args.gap} domain_rand={'on' if args.domain_rand else 'off'} {args.behaviour} {args.transitions}"
    for method in METHODS:
        result = adapt(model, train, cfg.adapt, method, seed=0, progress=False)
        held_kl = teacher_forced_kl(model, result.dynamics, hold, KL_WINDOW)
        train_kl = teacher_forced_kl(model, result.dynamics, train, KL_WINDOW)
        print(label, method, "held", round(held_kl, 3), "train", round(train_kl, 3), "best", result.best_step,
              flush=True)


if __name__ == "__main__":
    main()
