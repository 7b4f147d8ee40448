"""`redraw demo`: the sim-to-real pipeline end to end; prints the results table, writes a report."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from redraw_trainer.cli.options import add_fields, given, override_options
from redraw_trainer.core.config import DemoConfig, apply_overrides, load_config
from redraw_trainer.demo import run_demo
from redraw_trainer.measure.report import comparisons_text

OPTIONS = ["model", "out", "gap", "transitions", "episodes", "episode_steps", "oracle_steps", "adapt_steps",
           "policy_updates", "policy_batch", "seeds", "seed", "workers"]


def demo_config(args: argparse.Namespace) -> DemoConfig:
    """The `--scale` preset's demo section, then `--set demo.*`, then the options given (explicit options win)."""
    cfg = apply_overrides(load_config([args.scale]), [o for o in args.set if o.startswith("demo.")])
    return replace(cfg.demo, **given(args, OPTIONS))


def run(args: argparse.Namespace) -> list[str]:
    demo = demo_config(args)
    outcome = run_demo(demo, [o for o in args.set if not o.startswith("demo.")], progress=not args.quiet)
    return [outcome["table"], "", comparisons_text(outcome["results"]), f"report: {Path(demo.out) / 'report.md'}"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="the sim-to-real pipeline end to end; prints a results table, writes a report")
    add_fields(p, DemoConfig, OPTIONS)
    p.add_argument("--scale", choices=["small", "paper"], default="small",
                   help="small: this CPU's budgets and the shipped small model; paper: the paper preset's model "
                        "sizes and budgets (GPU; needs a paper-size model). Options given explicitly win over it")
    override_options(p)
    p.set_defaults(func=run)
