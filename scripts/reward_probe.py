"""How the lane reward ranks simple behaviours in a domain: is the reward paying for what we want?

    .venv/bin/python scripts/reward_probe.py [--gap steering_reversed,trim=0.1] [--episodes 6]
    .venv/bin/python scripts/reward_probe.py --reward alive_bonus=0,progress_scale=10,offroad_penalty=5   # the first reward

Runs each behaviour from the same starts as the demo's evaluation and prints return, distance driven
along the lane, lane-keeping time and episode length. A sound reward puts "lane PD, gap undone" first
and "leave the road" last.
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np

from redraw_trainer.envs.behaviour import make_behaviour
from redraw_trainer.envs.factory import make_env
from redraw_trainer.envs.reality_gap import RealityGap
from redraw_trainer.envs.rollout import run_episodes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gap", default="steering_reversed,trim=0.1")
    parser.add_argument("--episodes", type=int, default=6)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--reward", default="", help="DuckietownConfig reward fields, e.g. alive_bonus=0,offroad_penalty=5")
    args = parser.parse_args()
    gap = RealityGap.parse(args.gap)
    env = make_env("duckietown", gap, seed=10_000)
    sim = env.unwrapped
    overrides = {k: float(v) for k, v in (item.split("=") for item in args.reward.split(",") if item)}
    sim.config = replace(sim.config, **overrides)
    pid = make_behaviour("pid", env, np.random.default_rng(0))

    def pid_gap_undone(obs, info):  # knows the gap: the best this controller can do in the target
        action = np.array(pid(obs, info), np.float32)
        if gap.steering_reversed:
            action[1] = -action[1]
        return action

    behaviours = {
        "stand still": lambda obs, info: np.zeros(2, np.float32),
        "leave the road (full turn)": lambda obs, info: np.array([1.0, 1.0], np.float32),
        "straight ahead": lambda obs, info: np.array([1.0, 0.0], np.float32),
        "lane PD, unaware of the gap": pid,
        "lane PD, gap undone": pid_gap_undone,
    }
    print(f"domain: source + '{args.gap}'; reward: {sim.config.reward_spec()}; {args.episodes} episodes of <= {args.steps} steps")
    print(f"{'behaviour':<30}{'return':>18}{'distance m':>12}{'in lane s':>11}{'length':>8}")
    for name, policy in behaviours.items():
        s = run_episodes(env, policy, args.episodes, seed=50_000, max_steps=args.steps)
        print(f"{name:<30}{s.mean:>10.1f} ± {s.ci95:<6.1f}{np.mean(s.distance):>11.2f}{np.mean(s.lane_time):>11.1f}"
              f"{np.mean(s.lengths):>8.0f}", flush=True)
    env.close()


if __name__ == "__main__":
    main()
