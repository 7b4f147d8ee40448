"""Actor-critic trained purely in imagination inside a (rectified or not) world model, DreamerV3 style.

Start states are posteriors of dataset frames with their commands c_t; the actor rolls the prior forward
`horizon` steps, the commands shifted along with its actions (`WorldModel.next_commands`); rewards come from
the frozen reward head, which reads each imagined state and the commands that led into it (or from any reward
function, e.g. Plan2Explore's disagreement); lambda-returns against a two-hot
critic regularised toward a slow EMA copy; advantages divided by the returns' 5th-95th percentile range
(at least 1); REINFORCE on the log-probability of the action actually executed (the sample clipped to
[-1, 1], what the dynamics see and the robot would run) plus an entropy bonus. Every knob is
`config.PolicyConfig`, settable from presets (`policy.*`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn

from redraw_trainer.core.config import PolicyConfig
from redraw_trainer.model.distributions import bins, sample_one_hot, straight_through_sample, two_hot_loss, two_hot_mean
from redraw_trainer.model.actor import Actor
from redraw_trainer.model.nets import mlp
from redraw_trainer.model.world_model import WorldModel, command_dim

RewardFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]  # (z_prev, commands, z_next) -> reward


class Critic(nn.Module):
    def __init__(self, latent: int, cfg: PolicyConfig) -> None:
        super().__init__()
        self.net = mlp(latent, cfg.hidden, cfg.layers, cfg.value_bins)
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)
        self.register_buffer("bins", bins(cfg.value_bins), persistent=False)

    def forward(self, z_flat: torch.Tensor) -> torch.Tensor:
        return self.net(z_flat)

    def value(self, z_flat: torch.Tensor) -> torch.Tensor:
        return two_hot_mean(self.net(z_flat), self.bins)


def clipped_log_prob(policy: torch.distributions.Normal, action: torch.Tensor, bound: float = 1.0) -> torch.Tensor:
    """Log-likelihood of an executed action under the policy clipped to [-bound, bound]: the density inside,
    the whole tail's probability mass at a bound (a censored Normal). The density at the bound would
    understate how often the policy asks for more than full speed and shrink its std for it."""
    upper = torch.special.log_ndtr((policy.mean - bound) / policy.stddev)  # log P(sample >= bound)
    lower = torch.special.log_ndtr((-bound - policy.mean) / policy.stddev)  # log P(sample <= -bound)
    inside = policy.log_prob(action)
    return torch.where(action >= bound, upper, torch.where(action <= -bound, lower, inside))


def lambda_returns(reward: torch.Tensor, cont: torch.Tensor, value: torch.Tensor, gamma: float, lam: float) -> torch.Tensor:
    """R_t = r_{t+1} + gamma c_{t+1} ((1 - lam) v_{t+1} + lam R_{t+1}); shapes (H, B) -> (H, B); value (H+1, B)."""
    horizon = reward.shape[0]
    returns = [value[-1]]
    for t in reversed(range(horizon)):
        returns.append(reward[t] + gamma * cont[t] * ((1 - lam) * value[t + 1] + lam * returns[-1]))
    return torch.stack(returns[1:][::-1])


class ActorCritic(nn.Module):
    """Imagination actor-critic. `update(model, dynamics, start_z, start_belief)` returns its metrics."""

    def __init__(self, model_groups: int, model_classes: int, action_dim: int, cfg: PolicyConfig) -> None:
        super().__init__()
        latent = model_groups * model_classes
        self.cfg = cfg
        self.actor = Actor(latent, action_dim, cfg)
        self.critic = Critic(latent, cfg)
        self.slow_critic = copy.deepcopy(self.critic).requires_grad_(False)
        self.register_buffer("return_scale", torch.ones(()))
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=cfg.actor_lr, eps=1e-5)
        self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=cfg.critic_lr, eps=1e-5)
        self.updates = 0

    def imagine(self, model: WorldModel, dynamics: nn.Module, start_z: torch.Tensor, start_belief: torch.Tensor,
                horizon: int, start_commands: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Roll the prior forward under the actor: z (H+1, B, G, K), action, commands, log_prob, entropy (H, B, ...).
        `start_commands` (B, C): the commands c_t of the start states (None: zeros, a robot standing still)."""
        if start_commands is None:
            start_commands = start_z.new_zeros(start_z.shape[0], command_dim(model.cfg))
        zs, actions, commands_seq, log_probs, entropies, stds = [start_z], [], [], [], [], []
        z, belief, commands = start_z, start_belief, start_commands
        for _ in range(horizon):
            policy = self.actor(z.detach().flatten(-2))
            sample = policy.sample()
            action = sample.clamp(-1.0, 1.0)  # executed action: what the dynamics and the robot get
            log_prob = clipped_log_prob(policy, action) if self.cfg.executed_log_prob else policy.log_prob(sample)
            log_probs.append(log_prob.sum(-1))
            entropies.append(policy.entropy().sum(-1))
            stds.append(policy.stddev.detach())
            with torch.no_grad():
                commands = model.next_commands(commands, action)
                prior = model.prior_step(dynamics, z, commands, belief)
                z = straight_through_sample(prior)
                belief = prior.exp()
            zs.append(z)
            actions.append(action)
            commands_seq.append(commands)
        return {"z": torch.stack(zs), "action": torch.stack(actions), "commands": torch.stack(commands_seq),
                "log_prob": torch.stack(log_probs), "entropy": torch.stack(entropies), "std": torch.stack(stds)}

    def update(self, model: WorldModel, dynamics: nn.Module, start_z: torch.Tensor, start_belief: torch.Tensor,
               reward_fn: RewardFn | None = None, start_commands: torch.Tensor | None = None) -> dict[str, float]:
        """One actor-critic update from start states (z, belief, commands c_t; zeros: a robot standing still)."""
        cfg = self.cfg
        traj = self.imagine(model, dynamics, start_z, start_belief, cfg.horizon, start_commands)
        z_flat = traj["z"].flatten(-2).detach()  # (H+1, B, G*K)
        critic_logits = self.critic(z_flat)  # one pass: its detached mean is the value, its first H rows the loss
        with torch.no_grad():
            if reward_fn is None:
                reward = model.reward(traj["z"][1:], traj["commands"])
            else:
                reward = reward_fn(traj["z"][:-1], traj["commands"], traj["z"][1:])
            cont = model.cont(traj["z"][1:])
            slow_value = self.slow_critic.value(z_flat)
            value = slow_value if cfg.slow_target else two_hot_mean(critic_logits.detach(), self.critic.bins)
            returns = lambda_returns(reward, cont, value, cfg.gamma, cfg.lam)
            # weight later steps by the probability the episode is still running
            weight = torch.cumprod(torch.cat([torch.ones_like(cont[:1]), cont[:-1]]), 0)
            low, high = torch.quantile(returns.flatten(), torch.tensor([0.05, 0.95], device=returns.device))
            scale = self.return_scale * cfg.return_norm_decay + (high - low) * (1 - cfg.return_norm_decay)
            self.return_scale.copy_(scale)
            advantage = (returns - value[:-1]) / torch.clamp(self.return_scale, min=cfg.return_norm_limit)

        actor_loss = -(weight * (traj["log_prob"] * advantage + cfg.entropy * traj["entropy"])).mean()
        self.actor_opt.zero_grad(set_to_none=True)
        actor_loss.backward()
        nn.utils.clip_grad_norm_(self.actor.parameters(), cfg.grad_clip)
        self.actor_opt.step()

        logits = critic_logits[:-1]
        critic_loss = (weight * (two_hot_loss(logits, returns, self.critic.bins)
                                 + cfg.slow_reg * two_hot_loss(logits, slow_value[:-1], self.critic.bins))).mean()
        self.critic_opt.zero_grad(set_to_none=True)
        critic_loss.backward()
        nn.utils.clip_grad_norm_(self.critic.parameters(), cfg.grad_clip)
        self.critic_opt.step()
        with torch.no_grad():
            for slow, fast in zip(self.slow_critic.parameters(), self.critic.parameters()):
                slow.mul_(cfg.slow_critic_decay).add_(fast, alpha=1 - cfg.slow_critic_decay)
        self.updates += 1
        return {
            "policy/actor_loss": actor_loss.detach().item(),
            "policy/critic_loss": critic_loss.detach().item(),
            "policy/imagined_reward": reward.mean().item(),
            "policy/imagined_return": returns[0].mean().item(),
            "policy/entropy": traj["entropy"].detach().mean().item(),
            "policy/action_std": traj["std"].mean().item(),
            "policy/return_scale": float(self.return_scale),
        }


def train_actor_critic(
    model: WorldModel,
    dynamics: nn.Module,
    start_posteriors: torch.Tensor,
    updates: int,
    start_commands: torch.Tensor | None = None,
    agent: ActorCritic | None = None,
    cfg: PolicyConfig | None = None,
    reward_fn: RewardFn | None = None,
    seed: int = 0,
    progress: bool = True,
    on_log: Callable[[int, dict[str, float]], None] | None = None,
    log_every: int = 50,
) -> ActorCritic:
    """Train (or continue training) an actor-critic in imagination from cached start posteriors (N, G, K) and
    their commands (N, C) (`posteriors.imagination_starts`; None: standing still)."""
    from tqdm import tqdm

    from redraw_trainer.core.devices import generator as seeded_generator, module_device

    m = model.cfg
    device = module_device(model)
    agent = (agent or ActorCritic(m.groups, m.classes, m.action_dim, cfg or PolicyConfig())).to(device)
    start_posteriors = start_posteriors.to(device)
    generator = seeded_generator(seed, device)
    model.requires_grad_(False)
    dynamics.requires_grad_(False)
    for step in tqdm(range(1, updates + 1), desc="policy", disable=not progress, leave=False):
        index = torch.randint(0, len(start_posteriors), (agent.cfg.batch_size,), generator=generator, device=device)
        post = start_posteriors[index]
        commands = start_commands.to(device)[index] if start_commands is not None else None
        metrics = agent.update(model, dynamics, sample_one_hot(post, generator), post.exp(), reward_fn, commands)
        if on_log and (step % log_every == 0 or step == updates):
            on_log(step, metrics)
    return agent
