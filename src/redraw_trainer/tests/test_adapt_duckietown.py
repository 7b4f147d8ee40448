"""ReDRAW learns in Duckietown: with the shipped world model frozen, a residual trained on a few minutes of
reward-free target driving (steering reversed) predicts *held-out* target episodes better than the
unadapted model. Finetuning at the same budget is reported beside it.

Margin chosen from measurements (experiments/adapt-overfit): on this data the residual's held-out KL is about
0.6x the unadapted model's; the test asks for below 0.8x. With the residual's output forced to zero
(nothing learned) the ratio is 1.0 and the test fails.
"""

from pathlib import Path

import numpy as np
import pytest

from redraw_trainer.learn.adapt import adapt, teacher_forced_kl
from redraw_trainer.core.config import apply_overrides
from redraw_trainer.data.collect import collect
from redraw_trainer.envs.behaviour import make_behaviour
from redraw_trainer.envs.factory import make_env
from redraw_trainer.envs.reality_gap import RealityGap
from redraw_trainer.model.checkpoint import load_world_model

MODEL = Path(__file__).resolve().parents[3] / "models" / "source_small.pt"
MARGIN = 0.8


@pytest.mark.slow
def test_residual_predicts_held_out_target_episodes_better_than_the_sim_model(capsys):
    model, cfg, _ = load_world_model(MODEL)
    model.float()
    gap = RealityGap.parse("steering_reversed")
    env = make_env("duckietown", gap, seed=11)  # a target domain: one fixed appearance
    data = collect(env, make_behaviour("operator:swerve=0.05", env, np.random.default_rng(11), gap), 2000, seed=11)
    env.close()
    train, holdout = data.split(0.25, seed=0)
    assert holdout.num_episodes >= 2 and not data.reward[data.is_first].any()
    apply_overrides(cfg, ["adapt.steps=300", "adapt.batch_size=32"])
    kl = {}
    for method in ("none", "residual", "finetune"):
        result = adapt(model, train.reward_free(), cfg.adapt, method, seed=0, progress=False)
        kl[method] = teacher_forced_kl(model, result.dynamics, holdout, cfg.adapt.seq_len)
    with capsys.disabled():
        print(f"\nheld-out one-step KL: unadapted {kl['none']:.2f}, residual {kl['residual']:.2f}, "
              f"finetune {kl['finetune']:.2f} ({len(train)} training rows, {len(holdout)} held out)")
    assert kl["residual"] < MARGIN * kl["none"]
