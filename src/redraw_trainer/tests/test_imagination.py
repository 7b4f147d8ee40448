"""An actor-critic trained only in the world model's imagination drives the real point task well."""

import numpy as np
import pytest
import torch

from redraw_trainer.model.frame_policy import FramePolicy
from redraw_trainer.envs.point import PointEnv
from redraw_trainer.core.config import PolicyConfig
from redraw_trainer.learn.imagination import clipped_log_prob, lambda_returns, train_actor_critic
from redraw_trainer.learn.posteriors import encode_posteriors
from redraw_trainer.envs.rollout import run_episodes

from conftest import point_data


def test_lambda_returns_match_a_hand_computation():
    reward = torch.tensor([[1.0], [2.0]])
    cont = torch.ones(2, 1)
    value = torch.tensor([[0.0], [10.0], [20.0]])
    returns = lambda_returns(reward, cont, value, gamma=0.5, lam=0.5)
    last = 2.0 + 0.5 * 20.0
    first = 1.0 + 0.5 * (0.5 * 10.0 + 0.5 * last)
    torch.testing.assert_close(returns, torch.tensor([[first], [last]]))


def test_an_action_clipped_at_a_bound_has_the_likelihood_of_the_whole_tail():
    policy = torch.distributions.Normal(torch.tensor([0.6, -0.2]), torch.tensor([0.5, 0.4]))
    actions = policy.sample((100_000,), ).clamp(-1.0, 1.0)
    log_prob = clipped_log_prob(policy, actions)
    at_top = actions[:, 0] >= 1.0
    torch.testing.assert_close(log_prob[at_top, 0].exp().mean(), at_top.float().mean(), atol=0.01, rtol=0)
    at_bottom = actions[:, 1] <= -1.0
    torch.testing.assert_close(log_prob[at_bottom, 1].exp().mean(), at_bottom.float().mean(), atol=0.01, rtol=0)
    inside = actions[:, 0].abs() < 1.0
    torch.testing.assert_close(log_prob[inside, 0], policy.log_prob(actions)[inside, 0])


@pytest.mark.slow
def test_actor_trained_in_imagination_beats_random_in_the_real_task(pretrained):
    starts = encode_posteriors(pretrained, point_data(2000, seed=5))
    agent = train_actor_critic(pretrained, pretrained.dynamics, starts, 300,
                               cfg=PolicyConfig(hidden=64, batch_size=128, horizon=10), seed=0, progress=False)
    env = PointEnv()
    rng = np.random.default_rng(0)
    random_return = run_episodes(env, lambda o, i: rng.uniform(-1, 1, 2), 10).mean
    actor_return = run_episodes(env, FramePolicy(pretrained, agent.actor), 10).mean
    # judged in the real task, not by the imagined curve (that rises anyway while the critic warms up)
    assert actor_return > random_return + 10.0  # out of at most 50
