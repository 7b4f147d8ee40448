"""ReDRAW adaptation on the point task, whose target domain reverses every action.

The sim-trained prior predicts exactly the wrong motion; a residual trained on ~1K reward-free target
transitions should fix it, beat finetuning the prior on the same data, and change no frozen weight.
"""

import pytest
import torch

from redraw_trainer.learn.adapt import adapt, load_adapter, save_adapter
from redraw_trainer.measure.evaluation import open_loop

pytestmark = pytest.mark.slow


def held_out_kl(model, dynamics, holdout, cfg):
    return open_loop(model, dynamics, holdout, cfg.adapt.eval_context, cfg.adapt.eval_horizon)["kl"]


@pytest.fixture(scope="module")
def results(pretrained, tiny_config, target_train, target_holdout):
    snapshot = {k: v.clone() for k, v in pretrained.state_dict().items()}
    out = {}
    for method in ("none", "residual", "finetune", "new_dynamics"):
        result = adapt(pretrained, target_train, tiny_config.adapt, method, seed=0, progress=False)
        out[method] = (result, held_out_kl(pretrained, result.dynamics, target_holdout, tiny_config))
    return snapshot, out


def test_residual_cuts_held_out_dynamics_kl_by_a_large_factor(results):
    _, out = results
    none_kl, residual_kl = out["none"][1], out["residual"][1]
    assert none_kl[0] > 5.0, "the sim prior should be badly wrong in the reversed domain"
    assert residual_kl[0] < none_kl[0] / 5.0
    assert residual_kl.mean() < none_kl.mean() / 3.0


def test_finetune_on_a_small_target_set_is_worse_than_the_residual(results):
    _, out = results
    assert out["finetune"][1].mean() > out["residual"][1].mean()
    assert out["new_dynamics"][1].mean() < out["none"][1].mean()


def test_adaptation_leaves_every_frozen_parameter_bit_identical(pretrained, results):
    snapshot, out = results
    for name, value in pretrained.state_dict().items():
        assert torch.equal(value, snapshot[name]), f"{name} changed during adaptation"
    assert out["residual"][0].dynamics.base is pretrained.dynamics
    assert out["none"][0].dynamics is pretrained.dynamics


def test_adaptation_loss_falls(results):
    _, out = results
    history = out["residual"][0].history
    assert history[-1]["adapt/kl"] < 0.5 * history[0]["adapt/kl"]


def test_adapter_round_trips_through_a_file(tmp_path, pretrained, results, tiny_config, target_holdout):
    _, out = results
    path = save_adapter(tmp_path / "residual.pt", out["residual"][0], "model.pt", tiny_config)
    dynamics, meta = load_adapter(path, pretrained)
    assert meta["method"] == "residual"
    torch.testing.assert_close(torch.as_tensor(held_out_kl(pretrained, dynamics, target_holdout, tiny_config)),
                               torch.as_tensor(out["residual"][1]))
