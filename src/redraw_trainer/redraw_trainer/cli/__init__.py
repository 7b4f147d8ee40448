"""The `redraw` command line: every step of the sim-to-real pipeline is one sub-command, and each sub-command is
its options and one call into the library (`workflows.py`, `demo.py`).

    redraw demo                                   the pipeline end to end, small scale
    redraw bag info BAG                           what a recording holds and what training gets from it
    redraw adapt --model M.pt --bag BAG --out runs/robot/residual.pt
    redraw train-policy --model M.pt --residual runs/robot/residual.pt --bag BAG --out runs/robot/policy.pt
    redraw adapt --model M.pt --fleet BAGS_BY_ROBOT --out runs/fleet   a residual per robot, in one batched run
    redraw train-policy --fleet runs/fleet                    each robot's policy (ONNX metadata redraw.robot)
    redraw pretrain --preset small --out models/source_small.pt

Presets and overrides: `--preset tiny|small|paper|masks` (repeatable) and `--set section.key=value`
(every key: `redraw config show`). Errors are one line, `redraw <command>: error: ...`, exit 2.
"""

from __future__ import annotations

import argparse
import sys

from redraw_trainer import __version__
from redraw_trainer.cli import config, data, demo, measure, train
from redraw_trainer.core.config import ConfigError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="redraw", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"redraw {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (demo, data, train, measure, config):
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        for line in args.func(args):
            print(line)
        return 0
    except (ConfigError, ValueError, FileNotFoundError, RuntimeError) as err:
        command = " ".join(filter(None, (args.command, getattr(args, "bag_command", None),
                                         getattr(args, "config_command", None))))
        print(f"redraw {command}: error: {err}", file=sys.stderr)
        return 2
