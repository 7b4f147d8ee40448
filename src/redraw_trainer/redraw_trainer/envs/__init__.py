"""Environments: the synthetic point task, gym-duckietown, and reality-gap wrappers."""
