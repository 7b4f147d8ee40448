"""DreamerV3's distribution tricks."""

import torch

from redraw_trainer.model.distributions import (
    bins,
    categorical_kl,
    straight_through_sample,
    two_hot,
    two_hot_mean,
    unimix_logits,
)


def test_unimix_keeps_every_class_at_least_one_percent_over_k():
    logits = torch.tensor([[[50.0, -50.0, -50.0, -50.0]]])
    probs = unimix_logits(logits, 0.01).exp()
    assert probs.min() >= 0.01 / 4 - 1e-7
    assert torch.allclose(probs.sum(-1), torch.ones(1, 1))


def test_straight_through_sample_is_one_hot_with_gradients():
    logits = torch.randn(5, 3, 4, requires_grad=True)
    sample = straight_through_sample(unimix_logits(logits, 0.01))
    values = sample.detach()
    assert torch.allclose(values.sum(-1), torch.ones(5, 3))
    assert torch.allclose(values, values.round(), atol=1e-6)  # one-hot up to float rounding
    (sample * torch.arange(4.0)).sum().backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0


def test_categorical_kl_is_zero_for_equal_and_positive_otherwise():
    a = unimix_logits(torch.randn(2, 3, 4), 0.01)
    b = unimix_logits(torch.randn(2, 3, 4), 0.01)
    assert torch.allclose(categorical_kl(a, a), torch.zeros(2), atol=1e-6)
    assert (categorical_kl(a, b) > 0).all()


def test_two_hot_encodes_and_decodes_values():
    grid = bins(255)
    values = torch.tensor([-30.0, -1.5, 0.0, 0.3, 7.0, 200.0])
    target = two_hot(values, grid)
    assert torch.allclose(target.sum(-1), torch.ones(6))
    decoded = two_hot_mean(torch.log(target + 1e-12), grid)
    assert torch.allclose(decoded, values, rtol=1e-3, atol=1e-3)
