"""`redraw config show`: every configuration key and value after presets and overrides."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Iterator

from redraw_trainer.cli.options import config_from, config_options


def show(args: argparse.Namespace) -> Iterator[str]:
    for section, values in dataclasses.asdict(config_from(args)).items():
        if isinstance(values, dict):
            yield from (f"{section}.{key}: {value}" for key, value in values.items())
        else:
            yield f"{section}: {values}"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("config", help="show the configuration: every key and value (`config show --preset P`)")
    commands = p.add_subparsers(dest="config_command", required=True, metavar="{show}")
    p = commands.add_parser("show", help="print every config key and value after presets and --set overrides")
    config_options(p)
    p.set_defaults(func=show)
