"""gym-duckietown stepped for real, headless: observations, reward signs, and every reality gap."""

import numpy as np
import pytest

from redraw_trainer.envs.duckietown import lane_pid_policy
from redraw_trainer.envs.factory import make_env
from redraw_trainer.envs.reality_gap import ActionLatency, RealityGap



@pytest.fixture(scope="module")
def source():
    env = make_env("duckietown", seed=3, domain_rand=False)
    yield env
    env.close()


def drive(env, actions, seed=7):
    obs, info = env.reset(seed=seed)
    poses, rewards = [(info["pos"].copy(), info["angle"])], []
    for action in actions:
        obs, reward, terminated, truncated, info = env.step(np.asarray(action, np.float32))
        poses.append((info["pos"].copy(), info["angle"]))
        rewards.append(reward)
        if terminated:
            break
    return poses, rewards, terminated


def test_observation_is_the_robot_model_input(source):
    obs, info = source.reset(seed=1)
    assert obs.shape == (64, 64, 3) and obs.dtype == np.uint8 and obs.std() > 5
    assert source.observation_space.contains(obs)
    assert info["lane"] is not None


def test_numpy2_fix_is_needed_and_applied(source):
    import geometry
    from duckietown_world.world_duckietown import pwm_dynamics

    ragged = ([np.array([0.1]), 0.0], np.array([0.2]))
    with pytest.raises(ValueError, match="inhomogeneous"):
        geometry.se2_from_linear_angular(*ragged)  # what duckietown_world does, unpatched
    assert pwm_dynamics.geo.se2_from_linear_angular(*ragged).shape == (3, 3)


def test_lane_centred_driving_earns_and_leaving_the_road_costs(source):
    pid = lane_pid_policy()
    obs, info = source.reset(seed=2)
    centred_rewards = []
    for step in range(60):
        obs, reward, terminated, _, info = source.step(pid(obs, info))
        assert not terminated
        lane = info["lane"]
        if step > 5 and abs(lane["dist"]) < 0.02 and abs(lane["angle_rad"]) < 0.1:
            centred_rewards.append(reward)
    assert len(centred_rewards) >= 5 and min(centred_rewards) > 0.0
    _, rewards, terminated = drive(source, [[1.0, 1.0]] * 60)  # full speed, full turn: off the road
    assert terminated and rewards[-1] <= -source.unwrapped.config.offroad_penalty


def test_reward_ranks_driving_over_standing_still_over_leaving_the_road(source):
    from redraw_trainer.envs.rollout import run_episodes

    policies = {"drive": lane_pid_policy(), "stand": lambda obs, info: np.zeros(2, np.float32),
                "leave": lambda obs, info: np.array([1.0, 1.0], np.float32)}
    stats = {name: run_episodes(source, policy, 2, seed=11, max_steps=60) for name, policy in policies.items()}
    assert stats["drive"].mean > stats["stand"].mean > stats["leave"].mean
    assert min(stats["drive"].distance) > 0.3 and max(stats["stand"].distance) < 0.05
    assert max(stats["leave"].lengths) < 60


def test_reversed_steering_turns_the_other_way():
    heading_change = {}
    for spec in ("none", "steering_reversed"):
        env = make_env("duckietown", RealityGap.parse(spec), seed=3, domain_rand=False)
        poses, _, _ = drive(env, [[0.3, 0.8]] * 4)
        heading_change[spec] = (poses[-1][1] - poses[0][1] + np.pi) % (2 * np.pi) - np.pi
        env.close()
    assert abs(heading_change["none"]) > 0.05
    assert np.sign(heading_change["none"]) == -np.sign(heading_change["steering_reversed"])


def test_latency_delays_the_effect_by_exactly_n_steps():
    n = 2
    actions = [[0.5, 0.3], [0.2, -0.5], [0.6, 0.0], [0.4, 0.4], [0.0, 0.0], [0.0, 0.0]]
    delayed_env = ActionLatency(make_env("duckietown", seed=3, domain_rand=False), n)
    delayed, _, _ = drive(delayed_env, actions)
    plain_env = make_env("duckietown", seed=3, domain_rand=False)
    shifted, _, _ = drive(plain_env, [[0.0, 0.0]] * n + actions[: len(actions) - n])
    for (p, a), (q, b) in zip(delayed, shifted):
        np.testing.assert_allclose(p, q, atol=1e-9)
        assert a == pytest.approx(b, abs=1e-9)
    assert np.linalg.norm(delayed[-1][0] - delayed[0][0]) > 0.01  # and it did move
    delayed_env.close()
    plain_env.close()


def test_wheel_gaps_change_the_wheel_commands():
    env = make_env("duckietown", RealityGap.parse("trim=0.1,gain=0.8,deadzone=0.05"), seed=3, domain_rand=False)
    base = make_env("duckietown", seed=3, domain_rand=False)
    left, right = env.unwrapped.wheels_for(np.array([0.5, 0.0]))
    l0, r0 = base.unwrapped.wheels_for(np.array([0.5, 0.0]))
    assert l0 == r0 and left == pytest.approx(l0 * 0.8 * 0.9) and right == pytest.approx(r0 * 0.8 * 1.1)
    assert env.unwrapped.wheels_for(np.array([0.02, 0.0])) == (0.0, 0.0)  # inside the dead-zone
    env.close()
    base.close()


def test_camera_pose_offset_changes_what_the_camera_sees():
    plain = make_env("duckietown", seed=3, domain_rand=False)
    tilted = make_env("duckietown", RealityGap.parse("camera_pitch_deg=8"), seed=3, domain_rand=False)
    a, _ = plain.reset(seed=4)
    b, _ = tilted.reset(seed=4)
    assert np.abs(a.astype(int) - b.astype(int)).mean() > 3.0
    plain.close()
    tilted.close()


def test_reality_gap_specs_parse_and_describe():
    gap = RealityGap.parse("steering_reversed,trim=0.1,latency_steps=2")
    assert gap.steering_reversed and gap.trim == 0.1 and gap.latency_steps == 2
    assert RealityGap.parse(gap.describe()) == gap
    with pytest.raises(ValueError, match="unknown item 'warp'"):
        RealityGap.parse("warp=9")


def test_lane_mask_observation_shows_the_simulator_lane_markings():
    """With `observation="lane_masks"` the simulator's frames go through the robot's mask code: on the
    loop's straight the yellow centre line and the white edge line are both found, and nothing else is."""
    env = make_env("duckietown", seed=3, domain_rand=False, observation="lane_masks")
    obs, _ = env.reset(seed=7)
    env.close()
    assert obs.shape == (64, 64, 3) and set(np.unique(obs)) <= {0, 255}
    yellow, white, red = ((obs[..., c] > 0).mean() for c in range(3))
    assert 0.005 < yellow < 0.2 and 0.005 < white < 0.3 and red < 0.01
    rgb_env = make_env("duckietown", seed=3, domain_rand=False)
    rgb, _ = rgb_env.reset(seed=7)
    rgb_env.close()
    assert not np.array_equal(rgb, obs)
