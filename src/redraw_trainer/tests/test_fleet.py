"""A class of robots: one ReDRAW residual per robot, adapted in one batched run (learn/fleet.py).

Point-task robots with different gaps (`a` reverses every action, `b` drives the source domain itself), on a
tiny DRAW model. The model is left untrained on purpose: what is checked is arithmetic, not how good a model is
(the shipped model's figures are in docs/fleet/), and training one would cost minutes on a shared CPU. The batched
run must give each robot the residual `adapt()` gives it alone (same seeds, so the same windows, samples and
early-stopping choice), and no robot's data may move another's weights.

Tolerance: the two runs differ only in float rounding (the robots fold into one batch of the frozen prior and one
batched matmul per residual layer). Measured on this CPU with this file's robots after 40 and 300 steps: the same
step kept by early stopping, held-out one-step KL within 1.2e-7 relative, residual outputs within 1.0e-5 (of
about 1.4), weights within 2.8e-5. Weights are the loosest figure: Adam turns a gradient that is at rounding level
into a full lr-sized step, so a weight whose gradient is ~0 drifts by up to about the learning rate per step (the
shipped model's three simulated robots, 400 steps: weights 1.2e-3 apart, held-out KL 1.1e-6 relative; docs/fleet/);
what the residual computes barely moves. Allowed: KL 1e-5 relative, outputs 1e-4, weights 1e-2 (the learning rate).
"""

from __future__ import annotations

import copy
import json

import onnx
import pytest
import torch
from torch import nn

from conftest import point_data
from redraw_trainer.cli import main
from redraw_trainer.data.robots import robot_names, robot_namespace, robot_paths
from redraw_trainer.learn.adapt import adapt, load_adapter, save_adapter, teacher_forced_kl
from redraw_trainer.learn.fleet import adapt_fleet, adapt_one_at_a_time, clip_grad_norm_per_robot
from redraw_trainer.learn.posteriors import encode_posteriors
from redraw_trainer.model.checkpoint import save_world_model
from redraw_trainer.model.distributions import mode_one_hot
from redraw_trainer.model.world_model import WorldModel

WEIGHT_TOLERANCE = 1e-2
OUTPUT_TOLERANCE = 1e-4
KL_RELATIVE_TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def model(tiny_config):
    torch.manual_seed(0)
    return WorldModel(tiny_config.model).eval()


@pytest.fixture(scope="module")
def robots():
    return {"a": point_data(600, seed=11, reversed_action=True), "b": point_data(600, seed=12)}


@pytest.fixture(scope="module")
def adapt_cfg(tiny_config):
    cfg = copy.deepcopy(tiny_config.adapt)
    cfg.steps, cfg.log_every = 40, 8  # five validation checks: early stopping has a choice to make
    return cfg


@pytest.fixture(scope="module")
def fleet(model, robots, adapt_cfg):
    return adapt_fleet(model, robots, adapt_cfg, seed=3, progress=False)


def max_weight_diff(lhs: nn.Module, rhs: nn.Module) -> float:
    return max(float((a - b).abs().max()) for a, b in zip(lhs.state_dict().values(), rhs.state_dict().values()))


@torch.no_grad()
def residual_output_diff(model: WorldModel, lhs: nn.Module, rhs: nn.Module, data) -> float:
    """max |delta_lhs(z, a) - delta_rhs(z, a)| over the data's frames (z: each frame's most likely latent)."""
    z, action = mode_one_hot(encode_posteriors(model, data)), torch.from_numpy(data.action)
    return float((lhs(z, action) - rhs(z, action)).abs().max())


def test_the_batched_run_gives_each_robot_the_residual_it_gets_alone(model, robots, adapt_cfg, fleet):
    holdout = point_data(400, seed=21, reversed_action=True)
    for name, data in robots.items():
        torch.manual_seed(3)  # adapt()'s residual starts from the global random state; the fleet's from its seed
        alone = adapt(model, data, adapt_cfg, "residual", seed=3, progress=False)
        batched = fleet[name]
        assert batched.best_step == alone.best_step, name
        assert [r["step"] for r in batched.history] == [r["step"] for r in alone.history]
        assert max_weight_diff(batched.trainable, alone.trainable) < WEIGHT_TOLERANCE, name
        assert residual_output_diff(model, batched.trainable, alone.trainable, holdout) < OUTPUT_TOLERANCE, name
        kl_batched, kl_alone = (teacher_forced_kl(model, r.dynamics, holdout) for r in (batched, alone))
        assert kl_batched == pytest.approx(kl_alone, rel=KL_RELATIVE_TOLERANCE), name
    unadapted = teacher_forced_kl(model, model.dynamics, holdout)
    assert teacher_forced_kl(model, fleet["a"].dynamics, holdout) < unadapted


def test_one_at_a_time_is_adapt_from_the_same_seeded_start(model, robots, adapt_cfg, fleet):
    single = adapt_one_at_a_time(model, {"a": robots["a"]}, adapt_cfg, seed=3, progress=False)
    assert max_weight_diff(single["a"].trainable, fleet["a"].trainable) < WEIGHT_TOLERANCE


def test_a_robots_residual_does_not_depend_on_another_robots_data(model, robots, adapt_cfg, fleet):
    other = adapt_fleet(model, {"a": robots["a"], "b": point_data(900, seed=13, reversed_action=True)}, adapt_cfg,
                        seed=3, progress=False)
    for key, value in fleet["a"].trainable.state_dict().items():
        assert torch.equal(value, other["a"].trainable.state_dict()[key]), key
    assert fleet["a"].history == other["a"].history
    assert max_weight_diff(fleet["b"].trainable, other["b"].trainable) > 1e-3  # b's own data did change b


def test_each_robots_adapter_loads_with_load_adapter_unchanged(tmp_path, model, tiny_config, fleet):
    holdout = point_data(300, seed=22, reversed_action=True)
    for name, result in fleet.items():
        path = save_adapter(tmp_path / name / "residual.pt", result, "model.pt", tiny_config)
        dynamics, meta = load_adapter(path, model)
        assert meta["method"] == "residual"
        assert teacher_forced_kl(model, dynamics, holdout) == teacher_forced_kl(model, result.dynamics, holdout)


def test_gradients_are_clipped_per_robot_as_clip_grad_norm_clips_one():
    torch.manual_seed(0)
    stacked = [torch.randn(3, 4, 5, requires_grad=True), torch.randn(3, 5, requires_grad=True)]
    for p in stacked:
        p.grad = torch.randn_like(p) * torch.tensor([0.1, 10.0, 100.0]).reshape(-1, *[1] * (p.dim() - 1))
    expected = []
    for r in range(3):
        single = [p[r].detach().clone().requires_grad_() for p in stacked]
        for s, p in zip(single, stacked):
            s.grad = p.grad[r].clone()
        nn.utils.clip_grad_norm_(single, 5.0)
        expected.append([s.grad for s in single])
    clip_grad_norm_per_robot(stacked, 5.0)
    for r in range(3):
        for p, g in zip(stacked, expected[r]):
            torch.testing.assert_close(p.grad[r], g, rtol=1e-6, atol=0)


def test_robots_are_named_by_their_topics_namespace_else_by_their_folder(tmp_path):
    assert robot_namespace("/mybot/camera_node/image/compressed") == "mybot"
    assert robot_namespace("/mybot/image/compressed") == "mybot"
    assert robot_namespace("/image/compressed") is None and robot_namespace("/camera_node/image/compressed") is None
    paths = [tmp_path / "x" / "bags", tmp_path / "y" / "bags"]
    assert robot_names(paths, ["alpha", "beta"]) == ["alpha", "beta"]
    with pytest.raises(ValueError, match="both be called 'bags'"):
        robot_names(paths, ["duckiebot", "duckiebot"])  # simulated robots all record as duckiebot
    for name in ("r2", "r1", ".hidden"):
        (tmp_path / "fleet" / name).mkdir(parents=True)
    found = robot_paths(["extra.npz"], str(tmp_path / "fleet"))
    assert [p.name for p in found] == ["extra.npz", "r1", "r2"]
    assert robot_names(found, ["duckiebot"] * 3) == ["extra", "r1", "r2"]


def test_adapt_then_train_policy_for_a_fleet_from_the_command_line(tmp_path, model, tiny_config, capsys):
    model_path = save_world_model(tmp_path / "m.pt", copy.deepcopy(model), tiny_config, 1)
    (tmp_path / "fleet").mkdir()
    for name, seed in (("robot_a", 31), ("robot_b", 32)):
        point_data(300, seed=seed, reversed_action=name == "robot_a").save(tmp_path / "fleet" / f"{name}.npz")
    bags = [str(tmp_path / "fleet" / f"{name}.npz") for name in ("robot_a", "robot_b")]
    out = tmp_path / "runs" / "fleet"
    assert main(["adapt", "--model", str(model_path), "--bag", bags[0], "--bag", bags[1], "--out", str(out),
                 "--steps", "20", "--set", "adapt.log_every=10", "--quiet"]) == 0
    summary = json.loads((out / "fleet.json").read_text())
    assert list(summary["robots"]) == ["robot_a", "robot_b"] and summary["mode"] == "batched"
    assert (out / "robot_a" / "residual.pt").is_file() and (out / "robot_b" / "residual_adapt.jsonl").is_file()
    assert "robot_a: held-out one-step KL" in capsys.readouterr().out
    assert main(["train-policy", "--fleet", str(out), "--updates", "2", "--preset", "tiny", "--quiet"]) == 0
    for name in ("robot_a", "robot_b"):
        meta = {p.key: p.value for p in onnx.load(str(out / name / "policy.onnx")).metadata_props}
        assert json.loads(meta["redraw.robot"]) == name
    exported = tmp_path / "exported.onnx"
    assert main(["export", "--policy", str(out / "robot_b" / "policy.pt"), "--out", str(exported),
                 "--gap-reference", "none"]) == 0  # the robot's name, not the meter's threshold, is under test
    assert {p.key: p.value for p in onnx.load(str(exported)).metadata_props}["redraw.robot"] == '"robot_b"'


def test_train_policy_without_a_model_or_a_fleet_says_what_to_give(capsys):
    assert main(["train-policy", "--bag", "b"]) == 2
    assert "--fleet DIR" in capsys.readouterr().err
