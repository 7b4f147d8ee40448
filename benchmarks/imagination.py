"""Imagined latent states per second of actor-critic training, `small` preset (or any preset).

    .venv/bin/python benchmarks/imagination.py [--preset small] [--batch 256] [--updates 20] [--compile] [--threads N] [--smoke]

Times a full actor-critic update (imagine `horizon` steps under the actor, rewards, lambda-returns,
actor and critic steps) and the rollout alone, and prints imagined states per second for both and
the share of the update the rollout takes. With `--compile`, the same with the world model's prior
dynamics and the actor wrapped in `torch.compile`, and the ratio to eager from this one run.
"""

from __future__ import annotations

import argparse
import time

import torch

from redraw_trainer.core.config import load_config
from redraw_trainer.model.distributions import sample_one_hot, unimix_logits
from redraw_trainer.learn.imagination import ActorCritic
from redraw_trainer.model.world_model import WorldModel


def seconds_per_call(fn, calls: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def measure(model: WorldModel, agent: ActorCritic, starts: torch.Tensor, batch: int, updates: int) -> dict[str, float]:
    horizon = agent.cfg.horizon
    generator = torch.Generator().manual_seed(0)

    def start_states() -> tuple[torch.Tensor, torch.Tensor]:
        post = starts[torch.randint(0, len(starts), (batch,), generator=generator)]
        return sample_one_hot(post, generator), post.exp()

    def update() -> None:
        agent.update(model, model.dynamics, *start_states())

    def rollout() -> None:
        with torch.no_grad():
            agent.imagine(model, model.dynamics, *start_states(), horizon)

    update_s, rollout_s = seconds_per_call(update, updates), seconds_per_call(rollout, updates)
    return {"update_s": update_s, "rollout_s": rollout_s, "states_per_s": batch * horizon / update_s,
            "rollout_states_per_s": batch * horizon / rollout_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="small")
    parser.add_argument("--batch", type=int, default=None, help="imagined trajectories per update (default: preset)")
    parser.add_argument("--updates", type=int, default=20)
    parser.add_argument("--compile", action="store_true", help="also time torch.compile'd dynamics and actor")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's, one per core)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few iterations: check it runs (CI), figures not meaningful")
    args = parser.parse_args()
    if args.smoke:
        args.preset, args.batch, args.updates = "tiny", 16, 2
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = load_config([args.preset])
    batch = args.batch or cfg.policy.batch_size
    torch.manual_seed(0)
    model = WorldModel(cfg.model).eval().requires_grad_(False)
    m = cfg.model
    starts = unimix_logits(torch.randn(4096, m.groups, m.classes), m.unimix)
    agent = ActorCritic(m.groups, m.classes, m.action_dim, cfg.policy)
    print(f"preset {args.preset}: latent {m.groups}x{m.classes}, horizon {cfg.policy.horizon}, batch {batch}, "
          f"{torch.get_num_threads()} threads")
    eager = measure(model, agent, starts, batch, args.updates)
    print(f"eager:    {eager['states_per_s']:,.0f} imagined states/s in training ({eager['update_s'] * 1e3:.0f} ms per "
          f"update); rollout alone {eager['rollout_states_per_s']:,.0f} states/s ({eager['rollout_s'] * 1e3:.0f} ms, "
          f"{eager['rollout_s'] / eager['update_s']:.0%} of an update)")
    if args.compile:
        model.dynamics = torch.compile(model.dynamics)
        agent.actor.net = torch.compile(agent.actor.net)
        compiled = measure(model, agent, starts, batch, args.updates)
        print(f"compiled: {compiled['states_per_s']:,.0f} imagined states/s in training ({compiled['update_s'] * 1e3:.0f} "
              f"ms per update); {compiled['states_per_s'] / eager['states_per_s']:.2f}x eager")


if __name__ == "__main__":
    main()
