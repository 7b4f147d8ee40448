"""World-model training loop with checkpoints and resume.

`train_world_model(data, cfg, run_dir)` trains until `cfg.train.steps` optimizer steps; if `run_dir`
already holds a checkpoint it continues from there with the same step counter, optimizer state and
random state, so an interrupted run ends where an uninterrupted one would.

Across ranks (torchrun or `--nproc`, `core/distributed.py`) `cfg.train.batch_size` is the *global* batch: every
rank draws the step's whole batch from the same generator and trains on its equal share, DistributedDataParallel
averages the gradients, rank 0 alone writes the checkpoint and the log. The batches drawn do not depend on the
number of ranks, so N ranks train as one process with the same batch does (up to float summation order), and a
run resumes at any number of ranks.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from redraw_trainer.model.checkpoint import load_checkpoint, restore_rng, save_world_model
from redraw_trainer.core import distributed
from redraw_trainer.core.config import Config
from redraw_trainer.data.sequences import SequenceData
from redraw_trainer.core.devices import resolve_device
from redraw_trainer.core.metrics_log import MetricsLog
from redraw_trainer.core.seeding import seed_everything
from redraw_trainer.model.world_model import WorldModel

CHECKPOINT_NAME = "world_model.pt"


def train_world_model(
    data: SequenceData,
    cfg: Config,
    run_dir: str | Path,
    progress: bool = True,
    extra: dict[str, Any] | None = None,
) -> tuple[WorldModel, int]:
    """Train (or resume training) a DRAW world model on `data`; returns (model, optimizer steps done)."""
    run_dir = Path(run_dir)
    ckpt_path = run_dir / CHECKPOINT_NAME
    rng = seed_everything(cfg.seed)
    device = distributed.place(resolve_device(cfg.device))
    model = WorldModel(cfg.model).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.model.lr, eps=1e-8)
    step = 0
    if ckpt_path.exists():
        ckpt = load_checkpoint(ckpt_path, "world_model", required=("model", "optimizer", "step", "rng"))
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        restore_rng(ckpt["rng"], rng)
        step = int(ckpt["step"])
    main = distributed.is_main()
    log = MetricsLog(run_dir, resume_step=step if step else None) if main else None
    extra = {**(extra or {}), "preprocess": data.meta.get("preprocess"), "data": data.meta}
    loss_fn = distributed.data_parallel_loss(model, device)
    model.train()
    start, start_step = time.perf_counter(), step
    bar = tqdm(total=cfg.train.steps, initial=step, desc="world model", disable=not (progress and main))
    while step < cfg.train.steps:
        batch, uniform, counts = rank_batch(data, cfg, rng, device)
        loss, metrics = loss_fn(batch, uniform, counts)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = nn.utils.clip_grad_norm_(model.parameters(), cfg.model.grad_clip)
        optimizer.step()
        step += 1
        bar.update(1)
        if step % cfg.train.log_every == 0 or step == cfg.train.steps:
            metrics = distributed.mean(metrics)  # the global batch's figures (every rank takes part)
            rate = (step - start_step) / max(time.perf_counter() - start, 1e-9)
            if log is not None:
                log.write(step, {**{f"train/{k}": v for k, v in metrics.items()}, "train/grad_norm": grad_norm,
                                 "train/updates_per_s": rate})
            bar.set_postfix(loss=f"{float(metrics['loss/total']):.1f}", kl=f"{float(metrics['kl/dynamics']):.2f}")
        if main and (step % cfg.train.checkpoint_every == 0 or step == cfg.train.steps):
            save_world_model(ckpt_path, model, cfg, step, extra, optimizer, rng)
    bar.close()
    if log is not None:
        log.close()
    distributed.barrier()  # the other ranks go on (and read the checkpoint) once rank 0 has written it
    model.eval()
    return model, step


def rank_batch(data: SequenceData, cfg: Config, rng: np.random.Generator,
               device: torch.device) -> tuple[dict[str, torch.Tensor], torch.Tensor, dict[str, float] | None]:
    """This rank's share of one step's global batch: (batch (B/N, T), posterior-sample uniforms (B/N, T, G, 1),
    the whole batch's counts over N, which the rank's masked sums are divided by: `WorldModel.loss`'s `counts`,
    None in one process).

    Every rank draws the whole batch (`cfg.train.batch_size` windows and their uniforms) from its generator,
    seeded alike, and keeps every N-th window from its rank's index on; one process keeps it all.
    """
    world, size, seq_len = distributed.world_size(), cfg.train.batch_size, cfg.train.seq_len
    if size % world:
        raise ValueError(f"train.batch_size={size} is the global batch; it must split evenly over {world} ranks")
    rows = data.windows(data.sample_starts(size, seq_len, rng, cfg.train.terminal_fraction), seq_len)
    uniform = rng.random((size, seq_len, cfg.model.groups, 1), dtype=np.float32)
    counts = None
    if world > 1:  # predicted steps as world_model.dynamics_mask counts them
        counts = {"predicted": float((~data.is_first[rows[:, 1:]]).sum()) / world,
                  "lane": float(np.isfinite(data.lane[rows]).all(-1).sum()) / world}
    part = slice(distributed.rank(), None, world)
    return (data.batch(rows[part], device, cfg.model.command_history), torch.from_numpy(uniform[part]).to(device),
            counts)
