"""Refitting the reward head: a changed task reward is learned from new labels, nothing else moves."""

import copy
import dataclasses

import torch

from redraw_trainer.core.config import RefitConfig
from redraw_trainer.learn.reward_refit import refit_reward_head

from conftest import point_data


def test_refit_learns_a_new_reward_and_touches_only_the_reward_head(pretrained):
    model = copy.deepcopy(pretrained)
    data = point_data(2_000, seed=5)
    relabelled = dataclasses.replace(data, reward=(3.0 - 4.0 * data.reward).astype("float32"))  # a different task
    before = {k: v.clone() for k, v in model.state_dict().items()}
    torch.manual_seed(0)
    history = refit_reward_head(model, relabelled, RefitConfig(steps=400, batch_size=256, log_every=100), progress=False)
    first, last = history[0]["refit/holdout_abs_error"], history[-1]["refit/holdout_abs_error"]
    assert last < first / 4, (first, last)
    changed = {k for k, v in model.state_dict().items() if not torch.equal(v, before[k])}
    assert changed and all(k.startswith("reward_head.") for k in changed), changed


def test_refit_command_writes_a_model_that_differs_only_in_its_reward_head(tmp_path, pretrained, tiny_config):
    from redraw_trainer.learn.reward_refit import refit_reward
    from redraw_trainer.model.checkpoint import load_world_model, save_world_model

    source = save_world_model(tmp_path / "source.pt", copy.deepcopy(pretrained), tiny_config, 800)
    out = tmp_path / "refit.pt"
    summary = refit_reward(source, tmp_path / "run", out, transitions=600, refit=RefitConfig(steps=20, batch_size=64),
                           policy_updates=2, eval_episodes=2, progress=False, preset="tiny")
    assert set(summary["source_returns"]) == {"task_policy", "random"}
    refit, _, ckpt = load_world_model(out)
    assert ckpt["reward_refit"]["from"] == str(source)
    old = pretrained.state_dict()
    changed = {k for k, v in refit.state_dict().items() if not torch.allclose(v, old[k].half().float())}
    assert changed and all(k.startswith("reward_head.") for k in changed), changed
    again = refit_reward(source, tmp_path / "run", out, transitions=600, progress=False, preset="tiny")  # every phase is done
    assert again == summary


def test_a_model_whose_reward_head_learned_another_reward_is_flagged():
    from redraw_trainer.core.config import DuckietownConfig
    from redraw_trainer.learn.reward_refit import reward_mismatch

    current = DuckietownConfig().reward_spec()
    assert reward_mismatch({"reward": current}, "m.pt") is None
    assert "refit-reward" in reward_mismatch({"reward": {**current, "alive_bonus": 0.0}}, "m.pt")
    assert "unrecorded" in reward_mismatch({}, "m.pt")
    assert reward_mismatch({"config": {"pretrain": {"domain": "point"}}}, "m.pt") is None


def test_a_reward_head_that_reads_the_command_learns_a_reward_one_frame_cannot_show(pretrained):
    """Speed is invisible in one frame: a reward paid for the command into the frame (as progress is) is
    learned by a head reading (z, action) and not by one reading z alone; the head is rebuilt for its inputs."""
    data = point_data(2_000, seed=5)
    speed_paid = dataclasses.replace(data, reward=(2.0 * data.action[:, 0]).astype("float32"))
    errors = {}
    for inputs in ("z", "z_action"):
        model = copy.deepcopy(pretrained)
        model.cfg = dataclasses.replace(model.cfg)
        torch.manual_seed(0)
        history = refit_reward_head(model, speed_paid, RefitConfig(steps=400, batch_size=256, log_every=400,
                                                                   inputs=inputs), progress=False)
        assert model.cfg.reward_inputs == inputs
        errors[inputs] = history[-1]["refit/holdout_abs_error"]
    assert errors["z_action"] < 0.3 * errors["z"], errors
