"""DRAW: a DreamerV3-style world model without recurrence.

    posterior  q(z_t | x_t)                          CNN encoder -> G categoricals x K classes
    prior      p(z_t | z_{t-1}, a_{t-1}, b_{t-1})    MLP; b_{t-1} = previous prior probabilities
    decoder    x_t ~ N(dec(z_t), 1)                  continue head on z_t
    reward     r_t ~ twohot(z_t, a_{t-1})             symlog two-hot; reads the command that led into frame t
                                                    (cfg.reward_inputs = "z_action"), or z_t alone ("z")

The prior carries its previous probabilities as the belief b, so it is scanned over time even though
there is no GRU. Shapes: B batch, T time, G groups, K classes, A action dims, image H = W = S.
Sequence convention: action[t] is the action that led *into* frame t (zero where is_first[t]).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from redraw_trainer.core.config import ModelConfig
from redraw_trainer.model.distributions import (
    bins,
    categorical_kl,
    straight_through_sample,
    two_hot_loss,
    two_hot_mean,
    unimix_logits,
)
from redraw_trainer.model.nets import Decoder, Encoder, image_to_input, mlp


class PriorDynamics(nn.Module):
    """Forward dynamics (z_{t-1}, a_{t-1}, b_{t-1}) -> raw prior logits (B, G, K); learned initial belief."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.groups, self.classes = cfg.groups, cfg.classes
        latent = cfg.groups * cfg.classes
        self.net = mlp(2 * latent + cfg.action_dim, cfg.hidden, cfg.prior_layers, latent)
        self.initial = nn.Parameter(torch.zeros(cfg.groups, cfg.classes))

    def forward(self, z_prev: torch.Tensor, action: torch.Tensor, belief_prev: torch.Tensor) -> torch.Tensor:
        batch = z_prev.shape[0]
        x = torch.cat([z_prev.reshape(batch, -1), action, belief_prev.reshape(batch, -1)], -1)
        return self.net(x).reshape(batch, self.groups, self.classes)

    def initial_logits(self, batch: int) -> torch.Tensor:
        return self.initial.expand(batch, -1, -1)


def scan_prior(
    dynamics: nn.Module,
    z: torch.Tensor,
    action: torch.Tensor,
    is_first: torch.Tensor,
    start_belief: torch.Tensor,
    unimix: float,
) -> torch.Tensor:
    """Prior log-probs for every step of a sequence, teacher-forced on posterior samples `z`.

    z (B, T, G, K), action (B, T, A), is_first (B, T) bool, start_belief (B, G, K) = belief before t=0
    (the posterior probabilities of frame 0 when the window starts mid-episode). Returns (B, T, G, K);
    entry t=0 has no previous state and must be masked by the caller, as must every is_first step.
    """
    batch, steps = z.shape[:2]
    outputs = []
    belief = start_belief
    z_prev = z[:, 0]
    for t in range(steps):
        if t == 0:
            raw = dynamics.initial_logits(batch)
        else:
            raw = dynamics(z_prev, action[:, t], belief)
            raw = torch.where(is_first[:, t, None, None], dynamics.initial_logits(batch), raw)
        log_probs = unimix_logits(raw, unimix)
        outputs.append(log_probs)
        if t == 0:  # mid-episode window: the best belief about frame 0 is its posterior
            belief = torch.where(is_first[:, 0, None, None], log_probs.exp(), start_belief)
        else:
            belief = log_probs.exp()
        z_prev = z[:, t]
    return torch.stack(outputs, 1)


def dynamics_mask(is_first: torch.Tensor) -> torch.Tensor:
    """(B, T) float: 1 where the prior made a real prediction (not t=0 of the window, not an episode start)."""
    mask = (~is_first).float()
    mask[:, 0] = 0.0
    return mask


def masked_mean(values: torch.Tensor, mask: torch.Tensor, count: float | None = None) -> torch.Tensor:
    """Mean of `values` where `mask` is 1; divided by `count` instead of the mask's sum when given."""
    denominator = mask.sum().clamp(min=1.0) if count is None else max(float(count), 1.0)
    return (values * mask).sum() / denominator


REWARD_INPUTS = ("z", "z_action")


def new_reward_head(cfg: ModelConfig) -> nn.Module:
    """A reward head for `cfg.reward_inputs`, output layer zeroed (predicts 0 until trained), as DreamerV3."""
    if cfg.reward_inputs not in REWARD_INPUTS:
        raise ValueError(f"model.reward_inputs: expected one of {REWARD_INPUTS}, got {cfg.reward_inputs!r}")
    extra = cfg.action_dim if cfg.reward_inputs == "z_action" else 0
    head = mlp(cfg.groups * cfg.classes + extra, cfg.hidden, cfg.head_layers, cfg.reward_bins)
    nn.init.zeros_(head[-1].weight)
    nn.init.zeros_(head[-1].bias)
    return head


def reward_input(cfg: ModelConfig, z: torch.Tensor, action: torch.Tensor | None) -> torch.Tensor:
    """The reward head's input: flattened z, with the action beside it when the head reads it."""
    flat = z.flatten(-2)
    if cfg.reward_inputs == "z":
        return flat
    if action is None:
        raise ValueError("this world model's reward head reads the action that led into the frame "
                         "(model.reward_inputs = 'z_action'); pass it")
    return torch.cat([flat, action.to(flat.dtype)], -1)


class WorldModel(nn.Module):
    """DRAW world model. `loss(batch)` returns the named losses; `dynamics` is swappable (adaptation)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        latent = cfg.groups * cfg.classes
        self.encoder = Encoder(cfg.image_size, cfg.cnn_depth)
        self.posterior_head = mlp(self.encoder.embed_dim, cfg.hidden, 1, latent)
        self.dynamics = PriorDynamics(cfg)
        self.decoder = Decoder(latent, cfg.image_size, cfg.cnn_depth)
        self.reward_head = new_reward_head(cfg)
        self.cont_head = mlp(latent, cfg.hidden, cfg.head_layers, 1)
        self.register_buffer("reward_bins", bins(cfg.reward_bins), persistent=False)

    def embed(self, image: torch.Tensor) -> torch.Tensor:
        """(..., S, S, 3) uint8 -> (..., E)."""
        lead = image.shape[:-3]
        return self.encoder(image.reshape(-1, *image.shape[-3:])).reshape(*lead, -1)

    def posterior(self, image: torch.Tensor) -> torch.Tensor:
        """(..., S, S, 3) uint8 -> posterior log-probs (..., G, K), unimixed."""
        embedding = self.embed(image)
        raw = self.posterior_head(embedding).reshape(*embedding.shape[:-1], self.cfg.groups, self.cfg.classes)
        return unimix_logits(raw, self.cfg.unimix)

    def prior_step(self, dynamics: nn.Module, z_prev: torch.Tensor, action: torch.Tensor, belief_prev: torch.Tensor) -> torch.Tensor:
        """One prior step with any dynamics: -> log-probs (B, G, K)."""
        return unimix_logits(dynamics(z_prev, action, belief_prev), self.cfg.unimix)

    def reward_logits(self, z: torch.Tensor, action: torch.Tensor | None) -> torch.Tensor:
        """Reward-head logits for arriving in z (..., G, K) by `action` (..., A), the command that led there."""
        return self.reward_head(reward_input(self.cfg, z, action))

    def reward(self, z: torch.Tensor, action: torch.Tensor | None = None) -> torch.Tensor:
        """Predicted reward of arriving in state z by `action`: (..., G, K), (..., A) -> (...)."""
        return two_hot_mean(self.reward_logits(z, action), self.reward_bins)

    def cont(self, z: torch.Tensor) -> torch.Tensor:
        """Probability the episode continues after state z."""
        return torch.sigmoid(self.cont_head(z.flatten(-2)).squeeze(-1))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """(..., G, K) -> (..., S, S, 3) uint8 image (for reports)."""
        lead = z.shape[:-2]
        mean = self.decoder(z.reshape(-1, self.cfg.groups * self.cfg.classes))
        image = ((mean + 0.5).clamp(0, 1) * 255).round().to(torch.uint8).movedim(-3, -1)
        return image.reshape(*lead, *image.shape[-3:])

    def loss(self, batch: dict[str, torch.Tensor], sample_uniform: torch.Tensor | None = None,
             predicted_steps: float | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """DreamerV3 world-model loss on a (B, T) batch: image, action, reward, is_first, is_terminal.

        For a batch split across ranks (`learn/train.py`), so that the ranks' mean gradient is one process's on the
        whole batch: `sample_uniform` (B, T, G, 1) the uniforms that draw the posterior samples (else torch's
        generator draws them); `predicted_steps` what the KL sums are divided by, the whole batch's count of
        predicted steps over the number of ranks (else this batch's count)."""
        cfg = self.cfg
        image, action, is_first = batch["image"], batch["action"], batch["is_first"]
        batch_size, steps = image.shape[:2]
        assert image.shape == (batch_size, steps, cfg.image_size, cfg.image_size, 3), image.shape
        assert action.shape == (batch_size, steps, cfg.action_dim), action.shape
        post = self.posterior(image)
        z = straight_through_sample(post, uniform=sample_uniform)
        prior = scan_prior(self.dynamics, z, action, is_first, post[:, 0].exp().detach(), cfg.unimix)
        mask = dynamics_mask(is_first)
        dyn_kl = categorical_kl(post.detach(), prior)
        rep_kl = categorical_kl(post, prior.detach())
        flat_z = z.reshape(batch_size * steps, -1)
        recon = self.decoder(flat_z)
        target = image_to_input(image.reshape(-1, *image.shape[2:]))
        losses = {
            "recon": ((recon - target) ** 2).sum((1, 2, 3)).mean(),
            "reward": two_hot_loss(self.reward_logits(z, action).reshape(batch_size * steps, -1),
                                   batch["reward"].reshape(-1), self.reward_bins).mean(),
            "cont": F.binary_cross_entropy_with_logits(
                self.cont_head(flat_z).squeeze(-1), 1.0 - batch["is_terminal"].reshape(-1).float()
            ),
            "dyn": masked_mean(dyn_kl.clamp(min=cfg.free_bits), mask, predicted_steps),
            "rep": masked_mean(rep_kl.clamp(min=cfg.free_bits), mask, predicted_steps),
        }
        total = (
            cfg.recon_scale * losses["recon"]
            + cfg.reward_scale * losses["reward"]
            + cfg.cont_scale * losses["cont"]
            + cfg.dyn_scale * losses["dyn"]
            + cfg.rep_scale * losses["rep"]
        )
        metrics = {f"loss/{k}": v.detach() for k, v in losses.items()}
        metrics["loss/total"] = total.detach()
        metrics["kl/dynamics"] = masked_mean(dyn_kl.detach(), mask, predicted_steps)
        metrics["entropy/posterior"] = -(post.exp() * post).sum((-2, -1)).mean().detach()
        return total, metrics
