"""Our side of the anchor comparison: one DRAW world-model update and one imagination actor-critic update, timed.

Run by `run.py` with the project's Python; prints one JSON line. The world-model update is the body of
`train_world_model`'s loop (loss, zero_grad, backward, clip, Adam step); the actor-critic update is
`ActorCritic.update` from posteriors of a batch of frames, as `redraw` trains the policy.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch
from torch import nn

from anchor_timing import add_arguments, report, time_updates
from redraw_trainer.core.config import load_config
from redraw_trainer.model.distributions import sample_one_hot
from redraw_trainer.learn.imagination import ActorCritic
from redraw_trainer.model.world_model import WorldModel


def config_for(sizes: dict):
    m = sizes
    return load_config(["small"], [
        f"model.image_size={m['image_size']}", f"model.cnn_depth={m['cnn_depth']}", f"model.groups={m['groups']}",
        f"model.classes={m['classes']}", f"model.hidden={m['hidden']}", f"model.head_layers={m['head_layers']}",
        f"model.action_dim={m['action_dim']}", f"policy.hidden={m['hidden']}", f"policy.layers={m['policy_layers']}",
        f"policy.horizon={m['horizon']}", f"train.batch_size={m['batch']}", f"train.seq_len={m['seq_len']}",
        "model.command_history=0", "model.lane_scale=0",  # the anchor's model reads one frame and has no lane head
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_arguments(parser)
    args = parser.parse_args()
    sizes = json.loads(args.sizes)
    torch.set_num_threads(args.threads)
    cfg = config_for(sizes)
    torch.manual_seed(0)
    model = WorldModel(cfg.model)
    rng = np.random.default_rng(0)
    b, t, s = sizes["batch"], sizes["seq_len"], sizes["image_size"]

    def batch() -> dict[str, torch.Tensor]:
        is_first = np.zeros((b, t), bool)
        is_first[:, 0] = True
        return {"image": torch.from_numpy(rng.integers(0, 255, (b, t, s, s, 3), dtype=np.uint8)),
                "action": torch.from_numpy(rng.uniform(-1, 1, (b, t, sizes["action_dim"])).astype(np.float32)),
                "reward": torch.from_numpy(rng.normal(size=(b, t)).astype(np.float32)),
                "is_first": torch.from_numpy(is_first), "is_terminal": torch.zeros((b, t), dtype=torch.bool)}

    batches = [batch() for _ in range(4)]
    counter = iter(range(10**9))
    for what in args.what:  # world_model first: imagination then runs on the trained model
        params = sum(p.numel() for p in model.parameters())
        if what == "world_model":
            optimizer = torch.optim.Adam(model.parameters(), lr=cfg.model.lr, eps=1e-8)

            def step() -> None:  # train_world_model's loop body
                loss, _ = model.loss(batches[next(counter) % len(batches)])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), cfg.model.grad_clip)
                optimizer.step()

            items = b * t
        else:
            model.eval().requires_grad_(False)
            agent = ActorCritic(cfg.model.groups, cfg.model.classes, cfg.model.action_dim, cfg.policy)
            with torch.no_grad():
                post = model.posterior(batches[0]["image"]).flatten(0, 1)  # b * t start states, as the anchor's
            generator = torch.Generator().manual_seed(0)
            step = lambda: agent.update(model, model.dynamics, sample_one_hot(post, generator), post.exp())  # noqa: E731
            items = b * t * sizes["horizon"]
            params = sum(p.numel() for p in agent.actor.parameters()) + sum(p.numel() for p in agent.critic.parameters())
        report("redraw", what, time_updates(step, args.warmup, args.updates), items, params)


if __name__ == "__main__":
    main()
