"""The task policy's training: an actor-critic in a world model's imagination (`train_policy`, the algorithm
is `imagination.py`), saved as a policy file (`model/frame_policy.py`) and exported to the ONNX file the robot
runs (`save_and_export`, the contract is `export.py`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from redraw_trainer.core.config import Config
from redraw_trainer.data.sequences import SequenceData
from redraw_trainer.learn.export import export_onnx
from redraw_trainer.learn.imagination import ActorCritic, train_actor_critic
from redraw_trainer.model.frame_policy import save_policy
from redraw_trainer.core.metrics_log import MetricsLog
from redraw_trainer.learn.posteriors import imagination_starts
from redraw_trainer.model.world_model import WorldModel


def train_policy(model: WorldModel, dynamics: nn.Module, starts: SequenceData, cfg: Config, run_dir: str | Path,
                 name: str, progress: bool = True) -> ActorCritic:
    """Actor-critic in imagination from the posteriors of `starts` (target frames); logs to `name`.jsonl."""
    log = MetricsLog(run_dir, f"{name}_policy.jsonl")
    posteriors, commands = imagination_starts(model, starts)
    agent = train_actor_critic(model, dynamics, posteriors, cfg.policy.updates, commands,
                               cfg=cfg.policy, seed=cfg.seed, progress=progress, on_log=log.write,
                               log_every=max(cfg.policy.updates // 30, 1))
    log.close()
    return agent


def save_and_export(model: WorldModel, agent: ActorCritic, cfg: Config, out_dir: str | Path, name: str,
                    preprocess: dict[str, Any] | None, kinematics: dict[str, Any] | None,
                    sample_images: np.ndarray | None = None, extra: dict[str, Any] | None = None) -> tuple[Path, float]:
    """Write `<name>.pt` (torch policy) and `<name>.onnx` (robot policy); returns (onnx path, parity error)."""
    out_dir = Path(out_dir)
    save_policy(out_dir / f"{name}.pt", model, cfg, agent.actor, agent.cfg, extra={"preprocess": preprocess, **(extra or {})})
    onnx_path = out_dir / f"{name}.onnx"
    diff = export_onnx(model, agent.actor, onnx_path, preprocess, kinematics, cfg.model.__dict__, sample_images,
                       extra=extra)
    return onnx_path, diff
