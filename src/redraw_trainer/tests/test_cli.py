"""The `redraw` command line: refusals that say what to run instead, and the reward check."""

import json
import math
from pathlib import Path

from redraw_trainer.cli import PAPER_PRETRAIN, main

ROOT = Path(__file__).resolve().parents[3]


def test_demo_at_paper_scale_refuses_without_a_paper_size_model(tmp_path, capsys):
    assert main(["demo", "--scale", "paper", "--model", str(tmp_path / "none.pt")]) == 2
    assert PAPER_PRETRAIN in capsys.readouterr().err


def test_demo_at_paper_scale_refuses_the_small_model(capsys):
    assert main(["demo", "--scale", "paper", "--model", str(ROOT / "models/source_small.pt")]) == 2
    err = capsys.readouterr().err
    assert "not a paper-size model" in err and "groups 32 (paper: 256)" in err and PAPER_PRETRAIN in err


def test_reward_check_drives_the_three_behaviours_and_prints_what_the_model_predicts(tmp_path, capsys):
    out = tmp_path / "check.json"
    assert main(["reward-check", "--model", str(ROOT / "models/source_small.pt"), "--episodes", "1", "--steps", "20",
                 "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "| drive |" in text and "| stand |" in text and "| leave |" in text and "correlation" in text
    result = json.loads(out.read_text())
    true = {name: f["true_return"] for name, f in result["scenarios"].items()}
    assert true["drive"] > true["stand"] > true["leave"], true  # the simulator's own ranking of the behaviours
    assert result["scenarios"]["leave"]["steps"] < 20  # a hard turn leaves the road and ends the episode
    assert all(math.isfinite(f["imagined_return"]) for f in result["scenarios"].values())


def test_adapt_writes_the_adapter_its_curves_and_tensorboard_scalars(tmp_path, pretrained, tiny_config, capsys):
    import copy

    from redraw_trainer.train import save_world_model

    from conftest import point_data

    model = save_world_model(tmp_path / "m.pt", copy.deepcopy(pretrained), tiny_config, 1)
    point_data(400, seed=3).save(tmp_path / "d.npz")
    out = tmp_path / "robot" / "residual.pt"
    assert main(["adapt", "--model", str(model), "--data", str(tmp_path / "d.npz"), "--method", "residual",
                 "--out", str(out), "--set", "adapt.steps=20", "--set", "adapt.log_every=10", "--quiet"]) == 0
    rows = [json.loads(line) for line in (tmp_path / "robot" / "residual_adapt.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [10, 20] and "adapt/kl" in rows[0]
    assert out.is_file() and list((tmp_path / "robot" / "tb" / "residual_adapt").glob("events.out.tfevents.*"))


def test_version_and_config_show_list_every_key_after_presets_and_overrides(capsys):
    import pytest

    from redraw_trainer import __version__

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0 and capsys.readouterr().out.strip() == f"redraw {__version__}"
    assert main(["config", "show", "--preset", "tiny", "--set", "policy.entropy=0.001"]) == 0
    lines = dict(line.split(": ", 1) for line in capsys.readouterr().out.splitlines())
    assert lines["policy.entropy"] == "0.001" and lines["model.groups"] == "16"  # the override, then tiny's value
    assert {"policy.executed_log_prob", "model.reward_inputs", "adapt.lr", "pretrain.workers", "seed"} <= set(lines)
    assert main(["config", "show", "--set", "policy.entropi=1"]) == 2
    assert "unknown config key 'policy.entropi'" in capsys.readouterr().err


def test_the_shipped_model_is_the_default_from_any_working_directory(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["reward-check", "--episodes", "1", "--steps", "3"]) == 0
    assert "| drive | 3.0 |" in capsys.readouterr().out


def test_every_option_of_every_sub_command_says_what_it_does():
    import argparse

    from redraw_trainer.cli import build_parser

    def parsers(parser: argparse.ArgumentParser, name: str = "redraw"):
        yield name, parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub_name, sub in action.choices.items():
                    yield from parsers(sub, f"{name} {sub_name}")

    missing = [f"{name} {'/'.join(action.option_strings)}" for name, parser in parsers(build_parser())
               for action in parser._actions
               if action.option_strings and action.help is None and not isinstance(action, argparse._HelpAction)]
    assert not missing, missing
