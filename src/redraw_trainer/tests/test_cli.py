"""The `redraw` command line: refusals that say what to run instead."""

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
