"""DRAW: a DreamerV3-style world model without recurrence.

    posterior  q(z_t | x_t, c_t)                     CNN encoder + the commands c_t -> G categoricals x K classes
    prior      p(z_t | z_{t-1}, c_t, b_{t-1})        MLP; b_{t-1} = previous prior probabilities
    decoder    x_t ~ N(dec(z_t), 1)                  continue head on z_t
    reward     r_t ~ twohot(z_t, c_t)                symlog two-hot (or twohot(z_t) alone: cfg.reward_inputs)
    lane       (d, phi)_t ~ N(lane(z_t), 1)          auxiliary: the simulator's lane pose, where known

c_t are the commands: with cfg.command_history = k > 0, the last k commands sent, the one that led into frame
t first (a_t, a_{t-1}, ... a_{t-k+1}); with k = 0, a_t alone. One frame cannot show speed or the commands still
in flight; c_t can: the prior and the residual read them exactly (a latency of up to k-1 steps is in their
input), and the posterior reads them so z carries speed for the actor (the authors feed the robot's velocities
beside the image for the same reason). The robot knows what it sent; in imagination c_t is shifted along with
the actor's actions (`next_commands`).

The prior carries its previous probabilities as the belief b, so it is scanned over time even though
there is no GRU. Shapes: B batch, T time, G groups, K classes, A action dims, C = command dims, image H = W = S.
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


LANE_UNITS = (0.1, 0.5)  # the lane head predicts (lateral offset / 0.1 m, heading / 0.5 rad): both ~1 in a lane
LANE_DIMS = len(LANE_UNITS)


def command_dim(cfg: ModelConfig) -> int:
    """Size of the commands c_t the prior, the residual and the reward head read: k commands, or a_t alone."""
    return cfg.action_dim * max(1, cfg.command_history)


class PriorDynamics(nn.Module):
    """Forward dynamics (z_{t-1}, c_t, b_{t-1}) -> raw prior logits (B, G, K); learned initial belief."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.groups, self.classes = cfg.groups, cfg.classes
        latent = cfg.groups * cfg.classes
        self.net = mlp(2 * latent + command_dim(cfg), cfg.hidden, cfg.prior_layers, latent)
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
    commands: torch.Tensor,
    is_first: torch.Tensor,
    start_belief: torch.Tensor,
    unimix: float,
) -> torch.Tensor:
    """Prior log-probs for every step of a sequence, teacher-forced on posterior samples `z`.

    z (B, T, G, K), commands (B, T, C) (`WorldModel.commands`), is_first (B, T) bool, start_belief (B, G, K) = belief before t=0
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
            raw = dynamics(z_prev, commands[:, t], belief)
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
    extra = command_dim(cfg) if cfg.reward_inputs == "z_action" else 0
    head = mlp(cfg.groups * cfg.classes + extra, cfg.hidden, cfg.head_layers, cfg.reward_bins)
    nn.init.zeros_(head[-1].weight)
    nn.init.zeros_(head[-1].bias)
    return head


def reward_input(cfg: ModelConfig, z: torch.Tensor, commands: torch.Tensor | None) -> torch.Tensor:
    """The reward head's input: flattened z, with the commands c_t beside it when the head reads them."""
    flat = z.flatten(-2)
    if cfg.reward_inputs == "z":
        return flat
    if commands is None:
        raise ValueError("this world model's reward head reads the commands that led into the frame "
                         "(model.reward_inputs = 'z_action'); pass them")
    return torch.cat([flat, commands.to(flat.dtype)], -1)


class WorldModel(nn.Module):
    """DRAW world model. `loss(batch)` returns the named losses; `dynamics` is swappable (adaptation)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        latent = cfg.groups * cfg.classes
        self.encoder = Encoder(cfg.image_size, cfg.cnn_depth)
        self.history_dim = cfg.command_history * cfg.action_dim
        self.posterior_head = mlp(self.encoder.embed_dim + self.history_dim, cfg.hidden, 1, latent)
        self.dynamics = PriorDynamics(cfg)
        self.decoder = Decoder(latent, cfg.image_size, cfg.cnn_depth)
        self.reward_head = new_reward_head(cfg)
        self.cont_head = mlp(latent, cfg.hidden, cfg.head_layers, 1)
        if cfg.lane_scale > 0:
            self.lane_head = mlp(latent, cfg.hidden, cfg.head_layers, LANE_DIMS)
        self.register_buffer("reward_bins", bins(cfg.reward_bins), persistent=False)

    def embed(self, image: torch.Tensor) -> torch.Tensor:
        """(..., S, S, 3) uint8 -> (..., E)."""
        lead = image.shape[:-3]
        return self.encoder(image.reshape(-1, *image.shape[-3:])).reshape(*lead, -1)

    def posterior(self, image: torch.Tensor, history: torch.Tensor | None = None) -> torch.Tensor:
        """(..., S, S, 3) uint8 and the command history (..., k * A) -> posterior log-probs (..., G, K), unimixed.

        `history` is required when the model reads one (cfg.command_history > 0): the last k commands sent,
        the one that led into the frame first (`data.sequences.command_history`)."""
        embedding = self.embed(image)
        raw = self.posterior_head(self.posterior_input(embedding, history))
        return unimix_logits(raw.reshape(*embedding.shape[:-1], self.cfg.groups, self.cfg.classes), self.cfg.unimix)

    def standing_history(self, image: torch.Tensor) -> torch.Tensor:
        """A zero command history for frames recorded without their commands (nothing sent: standing still)."""
        return torch.zeros(*image.shape[:-3], self.history_dim, device=image.device)

    def posterior_input(self, embedding: torch.Tensor, history: torch.Tensor | None) -> torch.Tensor:
        """The posterior head's input: the frame's embedding with the command history beside it."""
        if not self.history_dim:
            return embedding
        return torch.cat([embedding, self.checked_history(history).to(embedding.dtype)], -1)

    def commands(self, action: torch.Tensor, history: torch.Tensor | None) -> torch.Tensor:
        """c_t of data rows: their command history (..., k * A) when the model reads one, else the action."""
        return self.checked_history(history) if self.history_dim else action

    def checked_history(self, history: torch.Tensor | None) -> torch.Tensor:
        """`history` if it is the (..., k * A) command history this model reads; a clear error otherwise."""
        if history is None or history.shape[-1] != self.history_dim:
            got = "none" if history is None else f"{history.shape[-1]} values"
            raise ValueError(f"this world model reads the last {self.cfg.command_history} commands beside each frame "
                             f"(model.command_history; {self.history_dim} values), got {got}")
        return history

    def next_commands(self, commands: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """c_{t+1} from c_t and the action sent now (imagination): the newest first, the oldest dropped."""
        if not self.history_dim:
            return action
        return torch.cat([action.to(commands.dtype), commands[..., : -action.shape[-1]]], -1)

    def prior_step(self, dynamics: nn.Module, z_prev: torch.Tensor, commands: torch.Tensor, belief_prev: torch.Tensor) -> torch.Tensor:
        """One prior step with any dynamics: (z_{t-1}, c_t, b_{t-1}) -> log-probs (B, G, K)."""
        return unimix_logits(dynamics(z_prev, commands, belief_prev), self.cfg.unimix)

    def reward_logits(self, z: torch.Tensor, commands: torch.Tensor | None) -> torch.Tensor:
        """Reward-head logits for arriving in z (..., G, K) by the commands c (..., C) that led there."""
        return self.reward_head(reward_input(self.cfg, z, commands))

    def reward(self, z: torch.Tensor, commands: torch.Tensor | None = None) -> torch.Tensor:
        """Predicted reward of arriving in state z by commands c: (..., G, K), (..., C) -> (...)."""
        return two_hot_mean(self.reward_logits(z, commands), self.reward_bins)

    def cont(self, z: torch.Tensor) -> torch.Tensor:
        """Probability the episode continues after state z."""
        return torch.sigmoid(self.cont_head(z.flatten(-2)).squeeze(-1))

    def lane_loss(self, flat_z: torch.Tensor, lane: torch.Tensor, count: float | None = None) -> torch.Tensor:
        """Squared error of the lane head on rows whose lane pose is known (NaN = unknown: robot data), averaged
        over them, or divided by `count` (one rank's part of a batch: 0 without such rows, through the head all
        the same, as DistributedDataParallel wants every parameter in the graph)."""
        known = torch.isfinite(lane).all(-1)
        if count is None and not bool(known.any()):
            return flat_z.new_zeros(())
        target = lane[known] / lane.new_tensor(LANE_UNITS)
        error = ((self.lane_head(flat_z[known]) - target) ** 2).sum(-1)
        return error.mean() if count is None else error.sum() / max(count, 1.0)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """(..., G, K) -> (..., S, S, 3) uint8 image (for reports)."""
        lead = z.shape[:-2]
        mean = self.decoder(z.reshape(-1, self.cfg.groups * self.cfg.classes))
        image = ((mean + 0.5).clamp(0, 1) * 255).round().to(torch.uint8).movedim(-3, -1)
        return image.reshape(*lead, *image.shape[-3:])

    def loss(self, batch: dict[str, torch.Tensor], sample_uniform: torch.Tensor | None = None,
             counts: dict[str, float] | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """DreamerV3 world-model loss on a (B, T) batch: image, action, reward, is_first, is_terminal.

        For a batch split across ranks (`learn/train.py`), so that the ranks' mean gradient is one process's on the
        whole batch: `sample_uniform` (B, T, G, 1) the uniforms that draw the posterior samples (else torch's
        generator draws them); `counts` {"predicted": steps the prior predicts, "lane": rows with a known lane
        pose}, the whole batch's over the number of ranks, what the masked sums are divided by (None in one
        process: this batch's own counts)."""
        cfg, counts = self.cfg, counts or {}
        image, action, is_first = batch["image"], batch["action"], batch["is_first"]
        batch_size, steps = image.shape[:2]
        assert image.shape == (batch_size, steps, cfg.image_size, cfg.image_size, 3), image.shape
        assert action.shape == (batch_size, steps, cfg.action_dim), action.shape
        post = self.posterior(image, batch.get("history"))
        commands = self.commands(action, batch.get("history"))
        z = straight_through_sample(post, uniform=sample_uniform)
        prior = scan_prior(self.dynamics, z, commands, is_first, post[:, 0].exp().detach(), cfg.unimix)
        mask = dynamics_mask(is_first)
        dyn_kl = categorical_kl(post.detach(), prior)
        rep_kl = categorical_kl(post, prior.detach())
        flat_z = z.reshape(batch_size * steps, -1)
        recon = self.decoder(flat_z)
        target = image_to_input(image.reshape(-1, *image.shape[2:]))
        losses = {
            "recon": ((recon - target) ** 2).sum((1, 2, 3)).mean(),
            "reward": two_hot_loss(self.reward_logits(z, commands).reshape(batch_size * steps, -1),
                                   batch["reward"].reshape(-1), self.reward_bins).mean(),
            "cont": F.binary_cross_entropy_with_logits(
                self.cont_head(flat_z).squeeze(-1), 1.0 - batch["is_terminal"].reshape(-1).float()
            ),
            "dyn": masked_mean(dyn_kl.clamp(min=cfg.free_bits), mask, counts.get("predicted")),
            "rep": masked_mean(rep_kl.clamp(min=cfg.free_bits), mask, counts.get("predicted")),
        }
        if cfg.lane_scale > 0:
            losses["lane"] = self.lane_loss(flat_z, batch["lane"].reshape(batch_size * steps, -1), counts.get("lane"))
        total = (
            cfg.recon_scale * losses["recon"]
            + cfg.reward_scale * losses["reward"]
            + cfg.cont_scale * losses["cont"]
            + cfg.dyn_scale * losses["dyn"]
            + cfg.rep_scale * losses["rep"]
            + cfg.lane_scale * losses.get("lane", 0.0)
        )
        metrics = {f"loss/{k}": v.detach() for k, v in losses.items()}
        metrics["loss/total"] = total.detach()
        metrics["kl/dynamics"] = masked_mean(dyn_kl.detach(), mask, counts.get("predicted"))
        metrics["entropy/posterior"] = -(post.exp() * post).sum((-2, -1)).mean().detach()
        return total, metrics
