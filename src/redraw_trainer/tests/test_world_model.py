"""DRAW world model: shapes, straight-through gradients, masking, and a loss that falls."""

import numpy as np
import torch

from redraw_trainer.core.config import load_config
from redraw_trainer.model.distributions import unimix_logits
from redraw_trainer.model.world_model import WorldModel, dynamics_mask, scan_prior

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
    prior = scan_prior(model.dynamics, z, torch.zeros(2, 5, 2), is_first, z[:, 0], model.cfg.unimix)
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
