"""Simulator recordings as the robot would record them, plus the labels only a simulator can give."""

import json

import numpy as np

from redraw_trainer.data.bags import read_bag
from redraw_trainer.data.sim_to_bag import LABELS_TOPIC, collect_bag
from redraw_trainer.core.config import DuckietownConfig


def test_a_recording_reads_back_reward_free_or_with_its_labels_for_any_seed(tmp_path):
    # the lane PD unaware of the reversed steering leaves the road in about a second: a short first episode.
    # seed 9: stamps must stay within a header's int32 seconds (seeds >= 5 once overflowed)
    collect_bag("duckietown", "steering_reversed", "pid;operator", 120, tmp_path / "bag", seed=9, workers=1)
    kinematics = DuckietownConfig().kinematics
    free, _ = read_bag(tmp_path / "bag", kinematics=kinematics, workers=1)
    labelled, report = read_bag(tmp_path / "bag", kinematics=kinematics, workers=1, labels_topic=LABELS_TOPIC)
    assert len(free) == len(labelled) >= 120
    assert not free.reward.any() and not free.is_terminal.any()  # what every method but the oracle sees
    assert (labelled.reward[~labelled.is_first] != 0).mean() > 0.9  # arriving at a frame pays (or costs) something
    assert labelled.reward[labelled.is_first].tolist() == [0.0] * labelled.num_episodes
    episodes = json.loads((tmp_path / "bag" / "worker_0" / "episodes.json").read_text())
    assert [e["behaviour"] for e in episodes][:2] == ["pid", "operator"]  # taken in turn, episode by episode
    assert [e["start_stamp"] for e in episodes] == report.episode_stamps
    assert sum(e["steps"] for e in episodes) == 120
    np.testing.assert_array_equal(free.image, labelled.image)
