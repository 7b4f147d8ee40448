"""The `redraw` command line: refusals that say what to run instead, the reward check, options that mean one
thing everywhere, and a CLI that stays thin (its functions short, its logic in the library)."""

import json
import math
from pathlib import Path

import ast

import pytest

from redraw_trainer.cli import build_parser, main
from redraw_trainer.cli.demo import demo_config
from redraw_trainer.cli.options import field_help
from redraw_trainer.core.config import PolicyConfig
from redraw_trainer.demo import PAPER_PRETRAIN

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

    from redraw_trainer.model.checkpoint import save_world_model

    from conftest import point_data

    model = save_world_model(tmp_path / "m.pt", copy.deepcopy(pretrained), tiny_config, 1)
    point_data(400, seed=3).save(tmp_path / "d.npz")
    out = tmp_path / "robot" / "residual.pt"
    assert main(["adapt", "--model", str(model), "--bag", str(tmp_path / "d.npz"), "--method", "residual",
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


def test_explicit_options_win_over_the_scale_preset():
    args = build_parser().parse_args(["demo", "--scale", "paper", "--transitions", "500", "--set", "demo.episodes=3"])
    demo = demo_config(args)
    assert (demo.transitions, demo.episodes) == (500, 3)  # given explicitly
    assert (demo.preset, demo.policy_updates, demo.policy_batch) == ("paper", 20_000, 1024)  # the paper preset's
    small = demo_config(build_parser().parse_args(["demo"]))
    assert (small.preset, small.transitions, small.policy_updates, small.model) == ("small", 10_000, 1000, "")


def test_option_help_comes_from_the_config_fields_comments():
    helps = field_help(PolicyConfig)
    assert helps["horizon"] == "imagined steps per update"
    assert helps["executed_log_prob"].startswith("REINFORCE") and "False: of the raw sample" in helps["executed_log_prob"]
    demo_help = build_parser()._subparsers._group_actions[0].choices["demo"].format_help()
    assert "imagined trajectories per actor-critic update (default: 256)" in " ".join(demo_help.split())


def test_a_bag_is_given_the_same_way_and_with_the_same_options_to_every_command_that_reads_one():
    parser = build_parser()
    bag_options = ["--camera-topic", "C", "--cmd-topic", "K", "--tolerance", "0.03", "--frame-size", "320x240",
                   "--calibration", "robot.yaml", "--cache-dir", "cache", "--workers", "1"]
    for command in (["adapt", "--model", "m.pt", "--out", "a.pt"], ["train-policy", "--model", "m.pt", "--out", "p.pt"],
                    ["bag", "info"], ["bag", "convert", "--out", "d.npz"], ["replay", "--policy", "p.onnx", "--out", "r"]):
        where = ["B"] if command[0] == "bag" else ["--bag", "B"]
        args = parser.parse_args(command + where + bag_options)
        # convert: one bag per path, several paths; adapt: --bag once per robot (one: the one-robot adapt as ever)
        bag = args.bag[0] if command[:2] == ["bag", "convert"] or command[0] == "adapt" else args.bag
        assert (bag, args.frame_size, args.calibration, args.cache_dir, args.workers) == \
            ("B", "320x240", "robot.yaml", "cache", 1), command
    assert parser.parse_args(["train-policy", "--model", "m", "--out", "p", "--data", "d.npz"]).bag == "d.npz"  # old name


def test_adapt_without_out_is_refused_before_any_training(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["adapt", "--model", "m.pt", "--bag", "b"])
    assert exit_info.value.code == 2 and "--out" in capsys.readouterr().err


def test_bag_without_a_sub_command_names_the_sub_commands(capsys):
    with pytest.raises(SystemExit):
        main(["bag"])
    assert "{info,convert}" in capsys.readouterr().err


def test_a_bad_frame_size_names_the_option(tmp_path, capsys):
    (tmp_path / "b").mkdir()
    assert main(["bag", "convert", str(tmp_path / "b"), "--out", str(tmp_path / "d.npz"), "--frame-size", "0x0"]) == 2
    assert "--frame-size 0x0" in capsys.readouterr().err


def test_the_command_line_is_thin():
    """Each sub-command is its options and one call into the library: no function over 40 lines, no import
    inside a function."""
    for path in sorted((ROOT / "src/redraw_trainer/redraw_trainer/cli").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef):
                assert node.end_lineno - node.lineno < 40, f"{path.name}:{node.name} has {node.end_lineno - node.lineno} lines"
                assert not any(isinstance(n, (ast.Import, ast.ImportFrom)) for n in ast.walk(node)), f"{path.name}:{node.name}"
