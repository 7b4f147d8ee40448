"""Kinematics: normalised action <-> (v, omega) <-> wheel duty cycles, as gym-duckietown converts them."""

import numpy as np
import pytest

from redraw_policy.kinematics import (
    KinematicsConfig,
    action_to_twist,
    action_to_wheels,
    twist_to_action,
    twist_to_wheels,
    wheels_to_twist,
)


def duckietown_env_wheels(action, gain=1.0, trim=0.0, radius=0.0318, k=27.0, limit=1.0, baseline=0.1):
    """Run gym-duckietown's own DuckietownEnv.step conversion and capture the wheel command it sends."""
    from gym_duckietown.envs.duckietown_env import DuckietownEnv
    from gym_duckietown.simulator import Simulator

    env = object.__new__(DuckietownEnv)  # the conversion only, without building a simulator
    env.gain, env.trim, env.radius, env.k, env.limit = gain, trim, radius, k, limit
    env.wheel_dist = baseline
    sent = []
    original = Simulator.step
    try:
        Simulator.step = lambda self, vels: (sent.append(np.array(vels)), (None, 0.0, False, {}))[1]
        DuckietownEnv.step(env, np.asarray(action, dtype=np.float64))
    finally:
        Simulator.step = original
    return tuple(sent[0])


@pytest.mark.parametrize("action", [(0.3, 0.0), (0.5, 1.0), (0.2, -0.7), (1.0, 0.5), (-0.4, 0.2)])
@pytest.mark.parametrize("gain, trim", [(1.0, 0.0), (1.2, 0.1), (0.8, -0.05)])
def test_wheels_match_gym_duckietown(action, gain, trim):
    cfg = KinematicsConfig(gain=gain, trim=trim)
    ours = action_to_wheels(np.array(action), cfg)
    theirs = duckietown_env_wheels(action, gain=gain, trim=trim)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("v, omega", [(0.2, 0.0), (0.3, 1.5), (-0.1, -2.0), (0.0, 3.0)])
@pytest.mark.parametrize("trim", [0.0, 0.08])
def test_twist_wheels_round_trip(v, omega, trim):
    cfg = KinematicsConfig(trim=trim)
    np.testing.assert_allclose(wheels_to_twist(*twist_to_wheels(v, omega, cfg), cfg), (v, omega), atol=1e-9)


def test_action_twist_round_trip_and_clipping():
    cfg = KinematicsConfig(v_max=0.5, omega_max=4.0)
    v, omega = action_to_twist(np.array([0.6, -0.25]), cfg)
    assert (v, omega) == pytest.approx((0.3, -1.0))
    np.testing.assert_allclose(twist_to_action(v, omega, cfg), [0.6, -0.25], rtol=1e-6)
    assert action_to_twist(np.array([3.0, -9.0]), cfg) == pytest.approx((0.5, -4.0))


def test_wheel_commands_are_limited():
    left, right = twist_to_wheels(5.0, 0.0)
    assert left == right == 1.0
    left, right = twist_to_wheels(0.0, 100.0)
    assert left == -1.0 and right == 1.0


def test_positive_turn_speeds_up_the_right_wheel():
    left, right = action_to_wheels(np.array([0.3, 1.0]))
    assert right > left > 0.0
