"""Config: presets layered by name, `section.key=value` overrides, unknown keys refused."""

import pytest

from redraw_trainer.core.config import Config, ConfigError, load_config


def test_presets_layer_and_overrides_win():
    cfg = load_config(["small"], ["model.cnn_depth=32", "adapt.lr=0.003", "seed=7"])
    assert cfg.model.cnn_depth == 32 and cfg.model.groups == 32 and cfg.adapt.lr == 0.003 and cfg.seed == 7


def test_paper_preset_has_the_authors_sizes():
    cfg = load_config(["paper"])
    assert (cfg.model.cnn_depth, cfg.model.groups, cfg.model.classes, cfg.model.hidden) == (32, 256, 4, 512)


@pytest.mark.parametrize("override, message", [
    ("model.cnn_dept=3", "unknown config key 'model.cnn_dept'"),
    ("model.cnn_depth=deep", "expected int"),
    ("model=3", "is a section"),
    ("novalue", "expected section.key=value"),
])
def test_bad_overrides_are_named(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(["tiny"], [override])


def test_unknown_preset_lists_the_available_ones():
    with pytest.raises(ConfigError, match="no preset 'huge'.*paper"):
        load_config(["huge"])


def test_round_trip_through_dict():
    cfg = load_config(["tiny"], ["adapt.method=finetune"])
    assert Config.from_dict(cfg.to_dict()) == cfg


def test_a_policy_trained_anew_takes_the_presets_actor_critic_not_the_models():
    from redraw_trainer.core.config import with_preset_policy

    stored = Config.from_dict({"model": {"groups": 8}, "policy": {"entropy": 0.003, "hidden": 64}})
    cfg = with_preset_policy(stored, "small")
    assert cfg.policy == load_config(["small"]).policy and cfg.policy.entropy == 3e-4
    assert cfg.model.groups == 8 and cfg.model.reward_inputs == "z"  # the world model's own settings stay
