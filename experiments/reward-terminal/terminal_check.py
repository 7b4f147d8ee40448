"""Can the shipped world model see leaving the road? Reward and continue heads at off-road terminal frames.

    .venv/bin/python experiments/reward-terminal/terminal_check.py [--model models/source_small.pt] [--out experiments/reward-terminal]

Drives the source simulator with the pretraining behaviours (random, smooth, lane PD with noise 0.5 and
0.2; two 3000-step chunks each, seeds other than pretraining's), encodes every frame with the frozen
encoder, and reports on whole held-out episodes (a fifth, seeded):
  - the shipped reward head's prediction at the off-road terminal frames (true reward -10) and the
    continue head's probability there (true 0), beside the same on every other frame;
  - the same after refitting both heads on the remaining episodes (3000 Adam steps, batch 512, the
    pretraining losses): if held-out terminals stay unpredicted while training ones are fitted, the latent
    does not carry "off the road", and no head on it can.
Writes results.json beside this file (or --out).
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
from redraw_trainer.model.distributions import mode_one_hot, sample_one_hot, two_hot_loss
from redraw_trainer.learn.posteriors import encode_posteriors
from redraw_trainer.model.checkpoint import load_world_model

BEHAVIOURS = ("random", "smooth", "pid:noise=0.5", "pid:noise=0.2")


def figures(model, cache: torch.Tensor, action: torch.Tensor, reward: np.ndarray, terminal: np.ndarray,
            rows: np.ndarray) -> dict[str, float]:
    with torch.no_grad():
        z = mode_one_hot(cache[rows])
        r = model.reward(z, action[rows]).numpy()
        c = model.cont(z).numpy()
    t, true = terminal[rows], reward[rows]
    return {"terminal_reward_pred": float(r[t].mean()), "terminal_cont_pred": float(c[t].mean()),
            "other_reward_abs_error": float(np.abs(r[~t] - true[~t]).mean()), "other_cont_pred": float(c[~t].mean()),
            "reward_correlation": float(np.corrcoef(r, true)[0, 1]), "terminals": int(t.sum()), "rows": int(len(rows))}


def load_split(model_path: str, data_dir: str) -> tuple[Any, SequenceData, torch.Tensor, np.ndarray, np.ndarray,
                                                         np.random.Generator]:
    """The frozen model, the source data (collected once into `data_dir`), its posteriors, held-out and
    training rows (a fifth of the episodes held out whole), and the generator that drew the split (training
    batches continue from it)."""
    model, _, _ = load_world_model(model_path)
    model.float().eval().requires_grad_(False)
    jobs = [CollectJob("duckietown", "none", b, 3000, 500 + i, model.cfg.image_size) for i, b in enumerate(BEHAVIOURS * 2)]
    data = collect_jobs(jobs, data_dir, 1, False)
    cache = encode_posteriors(model, data)
    episode = np.cumsum(data.is_first) - 1
    rng = np.random.default_rng(0)
    held = np.isin(episode, rng.permutation(episode.max() + 1)[: (episode.max() + 1) // 5])
    return model, data, cache, np.where(held)[0], np.where(~held)[0], rng


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="models/source_small.pt")
    parser.add_argument("--out", default=str(Path(__file__).parent))
    parser.add_argument("--data", default="runs/terminal-check-data")
    parser.add_argument("--steps", type=int, default=3000)
    args = parser.parse_args()
    torch.manual_seed(0)
    model, data, cache, hold_rows, train_rows, rng = load_split(args.model, args.data)
    episode = np.cumsum(data.is_first) - 1
    action = torch.from_numpy(data.action)
    reward, terminal = data.reward, data.is_terminal.astype(bool)
    result = {"model": args.model, "transitions": len(data), "episodes": int(episode.max() + 1),
              "terminals": int(terminal.sum()), "shipped": {"heldout": figures(model, cache, action, reward, terminal, hold_rows),
                                                            "train": figures(model, cache, action, reward, terminal, train_rows)}}
    params = [*model.reward_head.parameters(), *model.cont_head.parameters()]
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.Adam(params, lr=1e-3)
    generator = torch.Generator().manual_seed(0)
    r_t, cont_t = torch.from_numpy(reward), torch.from_numpy(1.0 - terminal.astype(np.float32))
    for step in range(1, args.steps + 1):
        rows = torch.from_numpy(rng.choice(train_rows, 512))
        z = sample_one_hot(cache[rows], generator)
        loss = (two_hot_loss(model.reward_logits(z, action[rows]), r_t[rows], model.reward_bins).mean()
                + F.binary_cross_entropy_with_logits(model.cont_head(z.flatten(-2)).squeeze(-1), cont_t[rows]))
        opt.zero_grad()
        loss.backward()
        opt.step()
    result["refitted"] = {"steps": args.steps, "heldout": figures(model, cache, action, reward, terminal, hold_rows),
                          "train": figures(model, cache, action, reward, terminal, train_rows)}
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "results.json").write_text(json.dumps(result, indent=2) + "\n")
    for name in ("shipped", "refitted"):
        for split in ("heldout", "train"):
            f = result[name][split]
            print(f"{name:<9} {split:<8} terminal frames ({f['terminals']}): reward {f['terminal_reward_pred']:+.2f} "
                  f"(true -10), continue {f['terminal_cont_pred']:.2f} (true 0) | other frames: reward |error| "
                  f"{f['other_reward_abs_error']:.3f}, continue {f['other_cont_pred']:.3f} | reward corr {f['reward_correlation']:.3f}")


if __name__ == "__main__":
    main()
