"""DRAW world model: shapes, straight-through gradients, masking, and a loss that falls."""

import numpy as np
import torch

from redraw_trainer.core.config import load_config
from redraw_trainer.model.distributions import unimix_logits
from redraw_trainer.model.world_model import WorldModel, command_dim, dynamics_mask, scan_prior

from conftest import point_data


def tiny_model(**overrides) -> WorldModel:
    torch.manual_seed(0)
    cfg = load_config(["tiny"], [f"model.{k}={v}" for k, v in overrides.items()])
    return WorldModel(cfg.model)


def test_loss_returns_named_finite_losses():
    model = tiny_model()
    batch = point_data(200, seed=0).sample(4, 12, np.random.default_rng(0), history=model.cfg.command_history)
    total, metrics = model.loss(batch)
    assert torch.isfinite(total)
    assert {"loss/recon", "loss/reward", "loss/cont", "loss/dyn", "loss/rep", "kl/dynamics"} <= set(metrics)


def test_straight_through_gradients_reach_the_encoder_through_the_decoder():
    """With both KL terms off, the encoder learns only through the sampled one-hot z."""
    model = tiny_model(dyn_scale=0.0, rep_scale=0.0, reward_scale=0.0, cont_scale=0.0)
    batch = point_data(200, seed=0).sample(4, 12, np.random.default_rng(0), history=model.cfg.command_history)
    total, _ = model.loss(batch)
    total.backward()
    first_conv = model.encoder.net[0].weight
    assert first_conv.grad is not None and first_conv.grad.abs().sum() > 0


def test_prior_restarts_from_the_learned_initial_belief_at_episode_starts():
    model = tiny_model()
    g, k = model.cfg.groups, model.cfg.classes
    with torch.no_grad():
        model.dynamics.initial.copy_(torch.randn(g, k))
    z = torch.nn.functional.one_hot(torch.randint(0, k, (2, 5, g)), k).float()
    is_first = torch.tensor([[True, False, False, True, False]] * 2)
    prior = scan_prior(model.dynamics, z, torch.zeros(2, 5, command_dim(model.cfg)), is_first, z[:, 0], model.cfg.unimix)
    initial = unimix_logits(model.dynamics.initial, model.cfg.unimix)
    assert torch.allclose(prior[:, 3], initial.expand(2, -1, -1))
    assert not torch.allclose(prior[:, 2], initial.expand(2, -1, -1))
    assert dynamics_mask(is_first).tolist() == [[0.0, 1.0, 1.0, 0.0, 1.0]] * 2


def test_decode_gives_images():
    model = tiny_model()
    z = torch.nn.functional.one_hot(torch.zeros(3, model.cfg.groups, dtype=torch.long), model.cfg.classes).float()
    image = model.decode(z)
    assert image.shape == (3, 32, 32, 3) and image.dtype == torch.uint8


def test_world_model_loss_falls_on_the_point_task():
    model = tiny_model()
    data = point_data(3000, seed=0)
    rng = np.random.default_rng(0)
    optimizer = torch.optim.Adam(model.parameters(), lr=model.cfg.lr)
    losses = []
    for _ in range(80):
        total, metrics = model.loss(data.sample(16, 12, rng, history=model.cfg.command_history))
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        losses.append(float(metrics["loss/recon"]))
    assert np.mean(losses[-10:]) < 0.35 * np.mean(losses[:5])


def delayed_point_data(transitions: int, seed: int):
    """The point task with a two-step actuation latency: the frame after a command moves by the command sent two
    steps before, which no single frame shows."""
    from redraw_trainer.data.collect import collect
    from redraw_trainer.envs.point import PointEnv
    from redraw_trainer.envs.reality_gap import ActionLatency
    from redraw_trainer.envs.rollout import random_policy

    env = ActionLatency(PointEnv(), 2)
    return collect(env, random_policy(env.action_space, np.random.default_rng(seed)), transitions, seed=seed)


@torch.no_grad()
def next_frame_error(model: WorldModel, data) -> float:
    """Mean pixel error (0..1) of the frame the prior predicts one step ahead, teacher-forced, episode starts out."""
    history = torch.from_numpy(data.history(model.cfg.command_history))
    post = model.posterior(torch.from_numpy(data.image), history)
    z = torch.nn.functional.one_hot(post.argmax(-1), model.cfg.classes).float()
    commands = model.commands(torch.from_numpy(data.action), history)
    prior = model.prior_step(model.dynamics, z[:-1], commands[1:], post[:-1].exp())
    predicted = model.decode(torch.nn.functional.one_hot(prior.argmax(-1), model.cfg.classes).float())
    keep = ~torch.from_numpy(data.is_first[1:])
    error = (predicted.float() - torch.from_numpy(data.image[1:]).float()).abs().mean((1, 2, 3)) / 255.0
    return float(error[keep].mean())


def test_the_command_history_lets_the_model_predict_a_robot_with_latency():
    """Drop the commands from the observation and the next frame of a delayed robot cannot be predicted."""
    train, held = delayed_point_data(4000, seed=0), delayed_point_data(600, seed=1)
    errors = {}
    for history in (4, 0):
        torch.manual_seed(0)
        model = tiny_model(command_history=history)
        rng = np.random.default_rng(0)
        optimizer = torch.optim.Adam(model.parameters(), lr=model.cfg.lr)
        for _ in range(250):
            total, _ = model.loss(train.sample(16, 12, rng, history=history))
            optimizer.zero_grad()
            total.backward()
            optimizer.step()
        errors[history] = next_frame_error(model.eval(), held)
    assert errors[4] < 0.8 * errors[0], errors
