"""Can the shipped world model see leaving the road? Reward and continue heads at off-road terminal frames.
(report.md here.)

Drives the source simulator with the pretraining behaviours (random, smooth, lane PD with noise 0.5 and
0.2; two 3000-step chunks each, seeds other than pretraining's), encodes every frame with the frozen
encoder, and reports on whole held-out episodes (a fifth, seeded):
  - the shipped reward head's prediction at the off-road terminal frames (true reward -10) and the
    continue head's probability there (true 0), beside the same on every other frame;
  - the same after refitting both heads on the remaining episodes (3000 Adam steps, batch 512, the
    pretraining losses): if held-out terminals stay unpredicted while training ones are fitted, the latent
    does not carry "off the road", and no head on it can.
Writes results.json beside this file (or --out). The committed results.json and terminal_check.log, from the
repository root:

    .venv/bin/python experiments/reward-terminal/terminal_check.py --data runs/terminal-check-data
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from redraw_trainer.data.sequences import SequenceData
from redraw_trainer.data.sim_collect import CollectJob, collect_jobs
from redraw_trainer.learn.posteriors import encode_posteriors
from redraw_trainer.model.checkpoint import load_world_model
from redraw_trainer.model.distributions import mode_one_hot, sample_one_hot, two_hot_loss

BEHAVIOURS = ("random", "smooth", "pid:noise=0.5", "pid:noise=0.2")
CHUNK_TRANSITIONS = 3000
FIRST_SEED = 500
BATCH = 512


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="models/source_small.pt", help="the world model whose heads are checked")
    parser.add_argument("--out", default=str(Path(__file__).parent), help="folder for results.json")
    parser.add_argument("--data", default="runs/terminal-check-data",
                        help="folder the source data is collected into once (and read from after)")
    parser.add_argument("--steps", type=int, default=3000, help="Adam steps of the heads' refit")
    return parser.parse_args()


def load_split(model_path: str, data_dir: str) -> tuple[Any, SequenceData, torch.Tensor, np.ndarray, np.ndarray,
                                                         np.random.Generator]:
    """The frozen model, the source data (collected once into `data_dir`), its posteriors, held-out and
    training rows (a fifth of the episodes held out whole), and the generator that drew the split (training
    batches continue from it)."""
    model, _, _ = load_world_model(model_path)
    model.float().eval().requires_grad_(False)
    jobs = []
    for i, behaviour in enumerate(BEHAVIOURS * 2):
        seed = FIRST_SEED + i
        jobs.append(CollectJob("duckietown", "none", behaviour, CHUNK_TRANSITIONS, seed, model.cfg.image_size))
    data = collect_jobs(jobs, data_dir, 1, False)
    cache = encode_posteriors(model, data)
    episode = np.cumsum(data.is_first) - 1
    episodes = episode.max() + 1
    rng = np.random.default_rng(0)
    held = np.isin(episode, rng.permutation(episodes)[: episodes // 5])
    return model, data, cache, np.where(held)[0], np.where(~held)[0], rng


def figures(model, cache: torch.Tensor, action: torch.Tensor, reward: np.ndarray, terminal: np.ndarray,
            rows: np.ndarray) -> dict[str, float]:
    """The heads' predictions over `rows`: at the terminal frames, on the others, and the reward correlation."""
    with torch.no_grad():
        z = mode_one_hot(cache[rows])
        predicted_reward = model.reward(z, action[rows]).numpy()
        predicted_cont = model.cont(z).numpy()
    t = terminal[rows]
    true_reward = reward[rows]
    return {
        "terminal_reward_pred": float(predicted_reward[t].mean()),
        "terminal_cont_pred": float(predicted_cont[t].mean()),
        "other_reward_abs_error": float(np.abs(predicted_reward[~t] - true_reward[~t]).mean()),
        "other_cont_pred": float(predicted_cont[~t].mean()),
        "reward_correlation": float(np.corrcoef(predicted_reward, true_reward)[0, 1]),
        "terminals": int(t.sum()),
        "rows": int(len(rows)),
    }


def refit_heads(model, cache: torch.Tensor, action: torch.Tensor, reward: np.ndarray, terminal: np.ndarray,
                train_rows: np.ndarray, rng: np.random.Generator, steps: int) -> None:
    """Train the model's reward and continue heads in place on `train_rows` with the pretraining losses."""
    params = [*model.reward_head.parameters(), *model.cont_head.parameters()]
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.Adam(params, lr=1e-3)
    generator = torch.Generator().manual_seed(0)
    reward_target = torch.from_numpy(reward)
    cont_target = torch.from_numpy(1.0 - terminal.astype(np.float32))
    for _ in range(steps):
        rows = torch.from_numpy(rng.choice(train_rows, BATCH))
        z = sample_one_hot(cache[rows], generator)
        reward_loss = two_hot_loss(model.reward_logits(z, action[rows]), reward_target[rows], model.reward_bins).mean()
        cont_logits = model.cont_head(z.flatten(-2)).squeeze(-1)
        loss = reward_loss + F.binary_cross_entropy_with_logits(cont_logits, cont_target[rows])
        opt.zero_grad()
        loss.backward()
        opt.step()


def print_figures(result: dict[str, Any]) -> None:
    for name in ("shipped", "refitted"):
        for split in ("heldout", "train"):
            f = result[name][split]
            print(f"{name:<9} {split:<8} terminal frames ({f['terminals']}): reward {f['terminal_reward_pred']:+.2f} "
                  f"(true -10), continue {f['terminal_cont_pred']:.2f} (true 0) | other frames: reward |error| "
                  f"{f['other_reward_abs_error']:.3f}, continue {f['other_cont_pred']:.3f} | "
                  f"reward corr {f['reward_correlation']:.3f}")


def main() -> None:
    args = parse_args()
    torch.manual_seed(0)
    model, data, cache, hold_rows, train_rows, rng = load_split(args.model, args.data)
    episode = np.cumsum(data.is_first) - 1
    action = torch.from_numpy(data.commands(model.cfg.command_history))  # c_t: what the reward head reads
    reward = data.reward
    terminal = data.is_terminal.astype(bool)

    result = {
        "model": args.model,
        "transitions": len(data),
        "episodes": int(episode.max() + 1),
        "terminals": int(terminal.sum()),
        "shipped": {
            "heldout": figures(model, cache, action, reward, terminal, hold_rows),
            "train": figures(model, cache, action, reward, terminal, train_rows),
        },
    }
    refit_heads(model, cache, action, reward, terminal, train_rows, rng, args.steps)
    result["refitted"] = {
        "steps": args.steps,
        "heldout": figures(model, cache, action, reward, terminal, hold_rows),
        "train": figures(model, cache, action, reward, terminal, train_rows),
    }

    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "results.json").write_text(json.dumps(result, indent=2) + "\n")
    print_figures(result)


if __name__ == "__main__":
    main()
