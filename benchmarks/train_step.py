"""Updates per second of world-model training and of residual adaptation, `small` preset, batch 16 x 16.

    .venv/bin/python benchmarks/train_step.py [--preset small] [--updates 20] [--threads N] [--smoke]

Residual updates are timed twice: with target posteriors cached (what `adapt` does: the frozen encoder
runs once) and without (encoding every batch's frames again), and the ratio printed.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from redraw_trainer.learn.adapt import build_dynamics, dynamics_kl_loss
from redraw_trainer.core.config import load_config
from redraw_trainer.data.sequences import SequenceData
from redraw_trainer.model.distributions import sample_one_hot
from redraw_trainer.learn.posteriors import encode_posteriors, windows_with_cache
from redraw_trainer.model.world_model import WorldModel


def random_data(rows: int, size: int, rng: np.random.Generator) -> SequenceData:
    is_first = np.zeros(rows, bool)
    is_first[::100] = True
    return SequenceData(
        image=rng.integers(0, 255, (rows, size, size, 3), dtype=np.uint8),
        action=rng.uniform(-1, 1, (rows, 2)).astype(np.float32),
        reward=rng.normal(size=rows).astype(np.float32),
        is_first=is_first,
        is_terminal=np.zeros(rows, bool),
    )


def rate(fn, updates: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    start = time.perf_counter()
    for _ in range(updates):
        fn()
    return updates / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="small")
    parser.add_argument("--updates", type=int, default=20)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--seq-len", type=int, default=16)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's, one per core)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few iterations: check it runs (CI), figures not meaningful")
    args = parser.parse_args()
    if args.smoke:
        args.preset, args.updates, args.batch, args.seq_len = "tiny", 2, 4, 8
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = load_config([args.preset])
    rng = np.random.default_rng(0)
    data = random_data(2000, cfg.model.image_size, rng)
    model = WorldModel(cfg.model)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.model.lr)

    def world_model_update() -> None:
        loss, _ = model.loss(data.sample(args.batch, args.seq_len, rng, history=cfg.model.command_history))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    wm = rate(world_model_update, args.updates)
    model.requires_grad_(False)
    model.eval()
    dynamics, params, lr = build_dynamics(model, "residual", cfg.adapt)
    adapt_opt = torch.optim.Adam(params, lr=lr)
    cache = encode_posteriors(model, data)

    def residual_update(cached: bool) -> None:
        rows = data.windows(data.sample_starts(args.batch, args.seq_len, rng), args.seq_len)
        if cached:
            batch = windows_with_cache(data, cache, rows)
        else:
            with torch.no_grad():
                history = data.history(cfg.model.command_history)[rows]
                post = model.posterior(torch.from_numpy(data.image[rows]), torch.from_numpy(history))
            batch = {"post": post, "z": sample_one_hot(post), "action": torch.from_numpy(data.action[rows]),
                     "is_first": torch.from_numpy(data.is_first[rows])}
        loss, _ = dynamics_kl_loss(model, dynamics, batch)
        adapt_opt.zero_grad()
        loss.backward()
        adapt_opt.step()

    uncached = rate(lambda: residual_update(False), args.updates)
    cached = rate(lambda: residual_update(True), args.updates * 5)
    m = cfg.model
    print(f"preset {args.preset}: image {m.image_size}, CNN depth {m.cnn_depth}, latent {m.groups}x{m.classes}, "
          f"MLP {m.hidden}, batch {args.batch}x{args.seq_len}, torch threads {torch.get_num_threads()}")
    print(f"{'update':<36}{'updates/s':>12}{'s/update':>12}")
    for name, value in (("world model", wm), ("residual, posteriors recomputed", uncached),
                        ("residual, posteriors cached", cached)):
        print(f"{name:<36}{value:>12.2f}{1 / value:>12.3f}")
    print(f"residual cached / uncached: {cached / uncached:.1f}x; residual cached / world model: {cached / wm:.1f}x")


if __name__ == "__main__":
    main()
