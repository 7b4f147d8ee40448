"""DreamerV3's distribution tricks, one small function each: unimix categoricals, straight-through
samples, categorical KL, symlog and two-hot reward encoding."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def unimix_logits(logits: torch.Tensor, unimix: float) -> torch.Tensor:
    """Mix `unimix` of a uniform into softmax(logits) over the last axis; return log-probabilities.

    Every class keeps probability >= unimix / K, so KLs stay finite and gradients never vanish.
    """
    if unimix <= 0.0:
        return torch.log_softmax(logits, -1)
    probs = torch.softmax(logits, -1)
    probs = (1.0 - unimix) * probs + unimix / logits.shape[-1]
    return torch.log(probs)


def sample_index(probs: torch.Tensor, generator: torch.Generator | None = None,
                 uniform: torch.Tensor | None = None) -> torch.Tensor:
    """A class index per categorical (last axis) by inverse CDF: one uniform per categorical, a cumsum and a
    count; several times faster than `torch.multinomial` on many small categoricals (benchmarks/imagination.py).
    `uniform` (..., 1) in [0, 1): the uniforms to use, drawn by the caller (else drawn here from `generator`)."""
    cdf = probs.detach().cumsum(-1)
    if uniform is None:
        uniform = torch.rand(*probs.shape[:-1], 1, generator=generator, device=probs.device, dtype=cdf.dtype)
    assert uniform.shape == (*probs.shape[:-1], 1), (uniform.shape, probs.shape)
    u = uniform.to(cdf.dtype) * cdf[..., -1:]
    return (cdf < u).sum(-1).clamp(max=probs.shape[-1] - 1)


def sample_one_hot(log_probs: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """One-hot sample per categorical (last axis), no gradient."""
    return F.one_hot(sample_index(log_probs.exp(), generator), log_probs.shape[-1]).float()


def straight_through_sample(log_probs: torch.Tensor, generator: torch.Generator | None = None,
                            uniform: torch.Tensor | None = None) -> torch.Tensor:
    """One-hot sample per categorical (last axis) whose gradient is that of the probabilities (`uniform`: as
    `sample_index`)."""
    probs = log_probs.exp()
    one_hot = F.one_hot(sample_index(probs, generator, uniform), probs.shape[-1]).to(probs.dtype)
    return one_hot + probs - probs.detach()


def mode_one_hot(log_probs: torch.Tensor) -> torch.Tensor:
    """The most likely class of each categorical, one-hot (deterministic latent)."""
    return F.one_hot(log_probs.argmax(-1), log_probs.shape[-1]).to(log_probs.dtype)


def categorical_kl(lhs_log_probs: torch.Tensor, rhs_log_probs: torch.Tensor) -> torch.Tensor:
    """KL(lhs || rhs) summed over the categoricals: (..., G, K) -> (...)."""
    return (lhs_log_probs.exp() * (lhs_log_probs - rhs_log_probs)).sum((-2, -1))


def symlog(x: torch.Tensor) -> torch.Tensor:
    return torch.sign(x) * torch.log1p(x.abs())


def symexp(x: torch.Tensor) -> torch.Tensor:
    return torch.sign(x) * torch.expm1(x.abs())


def bins(num: int, low: float = -20.0, high: float = 20.0) -> torch.Tensor:
    """Evenly spaced bins in symlog space."""
    return torch.linspace(low, high, num)


def two_hot(values: torch.Tensor, bin_values: torch.Tensor) -> torch.Tensor:
    """Encode symlog(values) as weights on the two nearest bins: (...) -> (..., num_bins)."""
    x = symlog(values).clamp(bin_values[0], bin_values[-1])
    above = torch.searchsorted(bin_values, x.contiguous(), right=False).clamp(1, len(bin_values) - 1)
    below = above - 1
    lo, hi = bin_values[below], bin_values[above]
    weight_hi = ((x - lo) / (hi - lo)).clamp(0.0, 1.0)
    target = torch.zeros(*values.shape, len(bin_values), device=values.device, dtype=torch.float32)
    target.scatter_(-1, below.unsqueeze(-1), (1.0 - weight_hi).unsqueeze(-1))
    target.scatter_add_(-1, above.unsqueeze(-1), weight_hi.unsqueeze(-1))
    return target


def two_hot_loss(logits: torch.Tensor, values: torch.Tensor, bin_values: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of two-hot targets: (..., num_bins), (...) -> (...)."""
    return -(two_hot(values, bin_values) * torch.log_softmax(logits, -1)).sum(-1)


def two_hot_mean(logits: torch.Tensor, bin_values: torch.Tensor) -> torch.Tensor:
    """Expected value of a two-hot head, back in the original (symexp) space."""
    return symexp((torch.softmax(logits, -1) * bin_values).sum(-1))
