"""Which actor-critic settings let a policy trained in the world model's imagination drive the source task?
(Diagnosis for issue #13; report.md here.)

Trains the task policy in the imagination of a world model (start states: every labelled transition in
the refit data), seed 0, with config overrides naming the variant; then drives it deterministically in the
source simulator, 10 episodes of up to 200 steps. Prints one JSON line and appends it to the results file.

Each run in results.json is one such command, run from the repository root, with its name, updates and
overrides, e.g. the kept setting and the longer run:

    .venv/bin/python experiments/ac-ablation/ablate.py --name zact_censored_ent3e-4 --set policy.entropy=0.0003
    .venv/bin/python experiments/ac-ablation/ablate.py --name zact_ent3e-4_1500 --updates 1500 \
        --set policy.entropy=0.0003

(Before the rewrite the same run was `ablate.py NAME MODEL UPDATES [KEY=VALUE ...]`.)
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from redraw_trainer.core.config import apply_overrides
from redraw_trainer.data.sequences import SequenceData
from redraw_trainer.envs.factory import make_env
from redraw_trainer.envs.rollout import run_episodes
from redraw_trainer.learn.imagination import train_actor_critic
from redraw_trainer.learn.posteriors import encode_posteriors
from redraw_trainer.model.checkpoint import load_world_model
from redraw_trainer.model.frame_policy import FramePolicy

EPISODES = 10
MAX_STEPS = 200
LOG_EVERY = 100


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", required=True, help="the run's name in the results (e.g. zact_censored_ent3e-4)")
    parser.add_argument("--model", default="runs/refit-zaction/source_small.pt",
                        help="world model to imagine in (default: the refit whose reward head reads z and the command)")
    parser.add_argument("--updates", type=int, default=500, help="actor-critic updates")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="config override section.key=value, repeatable (e.g. policy.entropy=0.0003)")
    parser.add_argument("--data", default="runs/refit-zaction/data",
                        help="folder of the refit's labelled transitions (*.npz): the imagination's start states")
    parser.add_argument("--results", default="runs/ac-ablation/results.jsonl",
                        help="JSON lines file to append the run to")
    return parser.parse_args()


def load_start_data(folder: str) -> SequenceData:
    """Every chunk of sequences in `folder`, in name order, joined."""
    files = sorted(Path(folder).glob("*.npz"))
    return SequenceData.concatenate([SequenceData.load(f) for f in files])


def train_policy(model, cfg, data: SequenceData, updates: int) -> tuple[Any, list[dict[str, float]], float]:
    """(the actor-critic trained in imagination, its training log, seconds taken)."""
    torch.manual_seed(0)
    log = []

    def keep(step: int, metrics: dict[str, float]) -> None:
        log.append({"step": step, **metrics})

    start = time.time()
    agent = train_actor_critic(model, model.dynamics, encode_posteriors(model, data), updates, cfg=cfg.policy, seed=0,
                               progress=False, on_log=keep, log_every=LOG_EVERY)
    return agent, log, time.time() - start


def main() -> None:
    args = parse_args()
    model, cfg, _ = load_world_model(args.model)
    apply_overrides(cfg, args.set)
    data = load_start_data(args.data)
    agent, log, train_seconds = train_policy(model, cfg, data, args.updates)

    env = make_env("duckietown", seed=0)
    stats = run_episodes(env, FramePolicy(model, agent.actor), EPISODES, max_steps=MAX_STEPS)

    result = {
        "name": args.name,
        "overrides": args.set,
        "updates": args.updates,
        "train_s": round(train_seconds),
        "mean_return": stats.mean,
        "mean_distance": float(np.mean(stats.distance)),
        "lengths": stats.lengths,
        "last": log[-1],
    }
    print(json.dumps(result))
    Path(args.results).parent.mkdir(parents=True, exist_ok=True)
    with open(args.results, "a") as f:
        f.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
