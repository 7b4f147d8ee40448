"""gym-duckietown's ground-truth segmentation render, with the two shims of `envs.segment_render`, and the
simulator pairs built on it."""

import numpy as np
import pytest

from redraw_trainer.core.config import DuckietownConfig
from redraw_trainer.envs import segment_render
from redraw_trainer.envs.duckietown import DuckietownLaneEnv, lane_pid_policy


@pytest.fixture(scope="module")
def env():
    env = DuckietownLaneEnv(DuckietownConfig(domain_rand=True), seed=3)  # domain_rand: textures keep the rng
    yield env
    env.close()


def test_both_shims_are_needed():
    from gym_duckietown import graphics, objmesh

    segment_render.apply()
    with pytest.raises(AttributeError, match="randint"):
        graphics.get_texture.__wrapped__("asphalt", np.random.default_rng(0), True)  # unpatched
    with pytest.raises(TypeError, match="unhashable"):
        objmesh.load_texture.__wrapped__("black_tile.png", True, [1, 2, 3])  # unpatched
    segment_render.apply()  # idempotent: still one layer of wrapping
    assert not hasattr(graphics.get_texture.__wrapped__, "__wrapped__")


def test_segmented_render_shows_markings_on_black_asphalt_under_magenta_sky(env):
    obs, info = env.reset(seed=1)
    policy = lane_pid_policy()
    for _ in range(3):
        obs, _, terminated, _, info = env.step(policy(obs, info))
        assert not terminated
    seg = segment_render.render_segmented(env.sim)
    h = seg.shape[0]
    assert seg.shape == env.last_frame.shape and seg.dtype == np.uint8
    sky = seg[: h // 10].reshape(-1, 3)
    assert np.mean(np.all(sky == (255, 0, 255), 1)) > 0.95
    road = seg[int(0.8 * h):, seg.shape[1] // 3: 2 * seg.shape[1] // 3].reshape(-1, 3)  # just ahead of the robot
    assert np.mean(np.all(road == 0, 1)) > 0.5
    from redraw_trainer.data.seg_pairs import segment_classes

    classes = np.bincount(segment_classes(seg).ravel(), minlength=4)
    assert classes[1] > 20 and classes[2] > 20  # yellow dashes and the white edge line


def test_simulator_pairs_are_aligned_frames_and_class_ids():
    from redraw_trainer.data.seg_pairs import simulator_pairs

    images, labels, episodes = simulator_pairs(6, seed=1, maps=("loop_empty",), episode_steps=6, random_action_p=0.0)
    assert images.shape == (6, 64, 64, 3) and images.dtype == np.uint8
    assert labels.shape == (6, 64, 64) and labels.max() <= 3
    counts = np.bincount(labels.ravel(), minlength=4)
    assert counts[1] > 0 and counts[2] > 0 and counts[0] > 0.7 * labels.size
    # markings are brighter than the asphalt around them in the randomised frame too
    grey = images.mean(-1)
    assert grey[labels == 2].mean() > grey[labels == 0].mean()
