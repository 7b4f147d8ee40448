"""Shared, seeded fixtures: the point task and a tiny DRAW model pretrained on its source domain."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from redraw_trainer.core.config import Config, load_config
from redraw_trainer.data.collect import collect
from redraw_trainer.envs.rollout import random_policy
from redraw_trainer.data.sequences import SequenceData
from redraw_trainer.envs.point import PointEnv
from redraw_trainer.envs.reality_gap import ReversedAction
from redraw_trainer.learn.train import train_world_model
from redraw_trainer.model.world_model import WorldModel

PRETRAIN_STEPS = 800


def point_data(transitions: int, seed: int, reversed_action: bool = False) -> SequenceData:
    env = ReversedAction(PointEnv(), dims=(0, 1)) if reversed_action else PointEnv()
    return collect(env, random_policy(env.action_space, np.random.default_rng(seed)), transitions, seed=seed)


@pytest.fixture(scope="session")
def tiny_config() -> Config:
    return load_config(["tiny"], [f"train.steps={PRETRAIN_STEPS}"])


@pytest.fixture(scope="session")
def pretrained(tmp_path_factory, tiny_config) -> WorldModel:
    """A tiny world model trained on the point task's source domain (about 40 s on 2 cores)."""
    torch.set_num_threads(2)
    source = point_data(10_000, seed=0)
    model, steps = train_world_model(source, tiny_config, tmp_path_factory.mktemp("pretrain"), progress=False)
    assert steps == PRETRAIN_STEPS
    return model


@pytest.fixture(scope="session")
def target_train() -> SequenceData:
    """About 1K reward-free transitions from the target domain (actions reversed)."""
    return point_data(1_000, seed=1, reversed_action=True)


@pytest.fixture(scope="session")
def target_holdout() -> SequenceData:
    return point_data(1_000, seed=2, reversed_action=True)


@pytest.fixture(autouse=True)
def bag_cache(tmp_path, monkeypatch):
    """Bag conversions cache into a per-test folder, not the user's ~/.cache."""
    monkeypatch.setenv("REDRAW_CACHE_DIR", str(tmp_path / "bag-cache"))
