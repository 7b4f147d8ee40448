"""World-model training loop with checkpoints and resume.

`train_world_model(data, cfg, run_dir)` trains until `cfg.train.steps` optimizer steps; if `run_dir`
already holds a checkpoint it continues from there with the same step counter, optimizer state and
random state, so an interrupted run ends where an uninterrupted one would.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from redraw_trainer.model.checkpoint import load_checkpoint, restore_rng, save_world_model
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
    device = resolve_device(cfg.device)
    model = WorldModel(cfg.model).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.model.lr, eps=1e-8)
    step = 0
    if ckpt_path.exists():
        ckpt = load_checkpoint(ckpt_path, "world_model", required=("model", "optimizer", "step", "rng"))
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        restore_rng(ckpt["rng"], rng)
        step = int(ckpt["step"])
    log = MetricsLog(run_dir, resume_step=step if step else None)
    extra = {**(extra or {}), "preprocess": data.meta.get("preprocess"), "data": data.meta}
    model.train()
    start, start_step = time.perf_counter(), step
    bar = tqdm(total=cfg.train.steps, initial=step, desc="world model", disable=not progress)
    while step < cfg.train.steps:
        batch = data.sample(cfg.train.batch_size, cfg.train.seq_len, rng, device, cfg.model.command_history,
                            cfg.train.terminal_fraction)
        loss, metrics = model.loss(batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = nn.utils.clip_grad_norm_(model.parameters(), cfg.model.grad_clip)
        optimizer.step()
        step += 1
        bar.update(1)
        if step % cfg.train.log_every == 0 or step == cfg.train.steps:
            rate = (step - start_step) / max(time.perf_counter() - start, 1e-9)
            log.write(step, {**{f"train/{k}": v for k, v in metrics.items()}, "train/grad_norm": grad_norm,
                             "train/updates_per_s": rate})
            bar.set_postfix(loss=f"{float(metrics['loss/total']):.1f}", kl=f"{float(metrics['kl/dynamics']):.2f}")
        if step % cfg.train.checkpoint_every == 0 or step == cfg.train.steps:
            save_world_model(ckpt_path, model, cfg, step, extra, optimizer, rng)
    bar.close()
    log.close()
    model.eval()
    return model, step
