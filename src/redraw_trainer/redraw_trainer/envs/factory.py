"""Build source and target domains by name: `make_env("duckietown", gap=RealityGap.parse("steering_reversed"))`."""

from __future__ import annotations

from dataclasses import replace

import gymnasium as gym

from redraw_trainer.envs.reality_gap import RealityGap, ReversedAction

DOMAINS = ("duckietown", "point")


def make_env(domain: str = "duckietown", gap: RealityGap = RealityGap(), seed: int = 0,
             domain_rand: bool | None = None, image_size: int = 64, observation: str = "rgb") -> gym.Env:
    """The source simulator (`gap` = none) or a target domain (source + reality gap).

    `domain_rand` (default: on for the source, off for a target): the source simulator randomises
    textures, lighting and camera each episode, for robustness; a target domain stands for the real
    world, which is one world, so it keeps one appearance (experiments/adapt-overfit: re-randomised target
    episodes made every held-out episode look new, and no dynamics correction could generalise).
    """
    if domain_rand is None:
        domain_rand = gap == RealityGap()
    if domain == "duckietown":
        from redraw_perception import PreprocessConfig

        from redraw_trainer.core.config import DuckietownConfig
        from redraw_trainer.envs.duckietown import DuckietownLaneEnv

        preprocess = PreprocessConfig(out_width=image_size, out_height=image_size, observation=observation)
        env = DuckietownLaneEnv(replace(DuckietownConfig(), domain_rand=domain_rand), preprocess, seed=seed)
        return gap.apply(env)
    if domain == "point":
        from redraw_trainer.envs.point import PointEnv

        env = PointEnv(image_size=image_size)
        if gap.steering_reversed:  # the point task has no wheels: reversal flips both axes
            env = ReversedAction(env, dims=(0, 1))
        return env
    raise ValueError(f"unknown domain '{domain}' (expected one of {DOMAINS})")
