"""Do heads that see the last k latents and commands predict the off-road terminal on held-out episodes?

    .venv/bin/python experiments/reward-terminal/history_heads.py   # history_heads.log; reads the data terminal_check.py collected

Same data and held-out episodes as terminal_check.py; new reward and continue heads (MLP 2x256) on the
concatenated posteriors and commands of frames t-k..t (clamped at the episode start), 3000 Adam steps.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from redraw_trainer.model.distributions import mode_one_hot, sample_one_hot, two_hot_loss, two_hot_mean
from redraw_trainer.model.nets import mlp
from terminal_check import load_split

HISTORIES = (0, 1, 3)
STEPS, BATCH = 3000, 512


def main() -> None:
    torch.set_num_threads(1)
    model, data, cache, hold, train, rng = load_split("models/source_small.pt", "runs/terminal-check-data")
    terminal = data.is_terminal.astype(bool)
    reward, action = torch.from_numpy(data.reward), torch.from_numpy(data.action)
    cont = torch.from_numpy(1 - terminal.astype(np.float32))
    episode_start = np.maximum.accumulate(np.where(data.is_first, np.arange(len(data)), 0))
    latent = cache.shape[1] * cache.shape[2]
    bins = model.reward_bins

    def back(rows: np.ndarray, k: int) -> torch.Tensor:
        """The rows k steps earlier within their episode (the episode's first row at most)."""
        return torch.from_numpy(np.maximum(rows - k, episode_start[rows]))

    def inputs(z_per_lag: list[torch.Tensor], rows: np.ndarray, k: int) -> torch.Tensor:
        return torch.cat([z.flatten(-2) for z in z_per_lag] + [action[back(rows, j)] for j in range(k + 1)], -1)

    for k in HISTORIES:
        torch.manual_seed(0)
        generator = torch.Generator().manual_seed(0)
        reward_head = mlp((k + 1) * (latent + 2), 256, 2, len(bins))
        cont_head = mlp((k + 1) * (latent + 2), 256, 2, 1)
        opt = torch.optim.Adam([*reward_head.parameters(), *cont_head.parameters()], 1e-3)
        for _ in range(STEPS):
            rows = rng.choice(train, BATCH)
            x = inputs([sample_one_hot(cache[back(rows, j)], generator) for j in range(k + 1)], rows, k)
            loss = (two_hot_loss(reward_head(x), reward[rows], bins).mean()
                    + F.binary_cross_entropy_with_logits(cont_head(x).squeeze(-1), cont[rows]))
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            for name, rows in (("held-out", hold), ("train", train)):
                x = inputs([mode_one_hot(cache[back(rows, j)]) for j in range(k + 1)], rows, k)
                r = two_hot_mean(reward_head(x), bins).numpy()
                c = torch.sigmoid(cont_head(x).squeeze(-1)).numpy()
                t = terminal[rows]
                print(f"history {k}: {name:<8} terminal reward {r[t].mean():+.2f} cont {c[t].mean():.2f} | other cont "
                      f"{c[~t].mean():.3f} | corr {np.corrcoef(r, data.reward[rows])[0, 1]:.2f}", flush=True)


if __name__ == "__main__":
    main()
