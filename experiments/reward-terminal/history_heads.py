"""Do heads that see the last k latents and commands predict the off-road terminal on held-out episodes?
(report.md here, "History helps a little, not enough".)

Same data and held-out episodes as terminal_check.py (it reads the data terminal_check.py collected); new
reward and continue heads (MLP 2x256) on the concatenated posteriors and commands of frames t-k..t (clamped at
the episode start), 3000 Adam steps, batch 512, for k = 0, 1, 3. The committed history_heads.log, from the
repository root:

    .venv/bin/python experiments/reward-terminal/history_heads.py   # history_heads.log
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from redraw_trainer.model.distributions import mode_one_hot, sample_one_hot, two_hot_loss, two_hot_mean
from redraw_trainer.model.nets import mlp
from terminal_check import load_split

HIDDEN = 256
LAYERS = 2


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="models/source_small.pt",
                        help="the world model whose latents the heads read")
    parser.add_argument("--data", default="runs/terminal-check-data", help="the data terminal_check.py collected")
    parser.add_argument("--histories", default="0,1,3", help="comma-separated k: the heads see frames t-k..t")
    parser.add_argument("--steps", type=int, default=3000, help="Adam steps per pair of heads")
    parser.add_argument("--batch", type=int, default=512, help="rows per step")
    return parser.parse_args()


class History:
    """The per-row inputs of a head that sees frames t-k..t: posteriors (sampled or modes) and commands."""

    def __init__(self, cache: torch.Tensor, action: torch.Tensor, is_first: np.ndarray):
        self.cache = cache
        self.action = action
        self.episode_start = np.maximum.accumulate(np.where(is_first, np.arange(len(is_first)), 0))

    def back(self, rows: np.ndarray, k: int) -> torch.Tensor:
        """The rows k steps earlier within their episode (the episode's first row at most)."""
        return torch.from_numpy(np.maximum(rows - k, self.episode_start[rows]))

    def inputs(self, z_per_lag: list[torch.Tensor], rows: np.ndarray, k: int) -> torch.Tensor:
        """Latents of lags 0..k (flattened) followed by the commands of lags 0..k."""
        latents = [z.flatten(-2) for z in z_per_lag]
        commands = [self.action[self.back(rows, j)] for j in range(k + 1)]
        return torch.cat(latents + commands, -1)

    def sampled(self, rows: np.ndarray, k: int, generator: torch.Generator) -> torch.Tensor:
        return self.inputs([sample_one_hot(self.cache[self.back(rows, j)], generator) for j in range(k + 1)], rows, k)

    def modes(self, rows: np.ndarray, k: int) -> torch.Tensor:
        return self.inputs([mode_one_hot(self.cache[self.back(rows, j)]) for j in range(k + 1)], rows, k)


def train_heads(history: History, k: int, bins: torch.Tensor, reward: torch.Tensor, cont: torch.Tensor,
                train: np.ndarray, rng: np.random.Generator, steps: int, batch: int) -> tuple[nn.Module, nn.Module]:
    """A new reward head and continue head on k+1 frames, trained together from torch seed 0."""
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    latent = history.cache.shape[1] * history.cache.shape[2]
    width = (k + 1) * (latent + 2)
    reward_head = mlp(width, HIDDEN, LAYERS, len(bins))
    cont_head = mlp(width, HIDDEN, LAYERS, 1)
    opt = torch.optim.Adam([*reward_head.parameters(), *cont_head.parameters()], 1e-3)
    for _ in range(steps):
        rows = rng.choice(train, batch)
        x = history.sampled(rows, k, generator)
        reward_loss = two_hot_loss(reward_head(x), reward[rows], bins).mean()
        cont_loss = F.binary_cross_entropy_with_logits(cont_head(x).squeeze(-1), cont[rows])
        loss = reward_loss + cont_loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    return reward_head, cont_head


def report(history: History, k: int, heads: tuple[nn.Module, nn.Module], bins: torch.Tensor, true_reward: np.ndarray,
           terminal: np.ndarray, name: str, rows: np.ndarray) -> None:
    """Print the heads' predictions at the terminal frames of `rows`, the continue on the others, the reward
    correlation."""
    reward_head, cont_head = heads
    with torch.no_grad():
        x = history.modes(rows, k)
        r = two_hot_mean(reward_head(x), bins).numpy()
        c = torch.sigmoid(cont_head(x).squeeze(-1)).numpy()
    t = terminal[rows]
    print(f"history {k}: {name:<8} terminal reward {r[t].mean():+.2f} cont {c[t].mean():.2f} | other cont "
          f"{c[~t].mean():.3f} | corr {np.corrcoef(r, true_reward[rows])[0, 1]:.2f}", flush=True)


def main() -> None:
    args = parse_args()
    torch.set_num_threads(1)
    model, data, cache, hold, train, rng = load_split(args.model, args.data)
    terminal = data.is_terminal.astype(bool)
    reward = torch.from_numpy(data.reward)
    action = torch.from_numpy(data.action)
    cont = torch.from_numpy(1 - terminal.astype(np.float32))
    history = History(cache, action, data.is_first)
    bins = model.reward_bins

    for k in (int(v) for v in args.histories.split(",")):
        heads = train_heads(history, k, bins, reward, cont, train, rng, args.steps, args.batch)
        for name, rows in (("held-out", hold), ("train", train)):
            report(history, k, heads, bins, data.reward, terminal, name, rows)


if __name__ == "__main__":
    main()
