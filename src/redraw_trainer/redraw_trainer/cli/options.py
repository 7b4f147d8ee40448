"""Options shared by the sub-commands, each declared once: config presets and overrides, the bag options, and
options derived from config dataclass fields (name, type, default and help from the field and its comment)."""

from __future__ import annotations

import argparse
import dataclasses
import inspect
from functools import cache
from typing import Any

from redraw_trainer.core.config import Config, load_config
from redraw_trainer.data.reading import BagReading


@cache
def field_help(cls: type) -> dict[str, str]:
    """A dataclass's field comments by field name: `name: T = v  # help`, continued on the `#` lines right below
    it; `#` lines above a field without a comment of its own are that field's help."""
    names = {f.name for f in dataclasses.fields(cls)}
    helps: dict[str, str] = {}
    pending: list[str] = []  # comment lines waiting for the next field
    last = None  # the field whose trailing comment may continue on the next lines
    for line in inspect.getsource(cls).splitlines()[1:]:
        code, _, comment = line.partition("#")
        name = code.split(":")[0].strip()
        if name in names and code.startswith("    ") and not code.startswith("     "):
            text = comment.strip() or " ".join(pending)
            helps[name], pending, last = text, [], name if comment.strip() else None
        elif not code.strip() and comment.strip():
            if last:
                helps[last] += " " + comment.strip()
            else:
                pending.append(comment.strip())
        else:
            pending, last = [], None
    return helps


def add_fields(parser: argparse.ArgumentParser, cls: type, names: list[str]) -> None:
    """`--<field-name>` for each named field of `cls`; the help shows the class's default, but the parsed value
    is None unless given, so a caller can tell an explicit option from a default."""
    known = {f.name for f in dataclasses.fields(cls)}
    defaults = cls()
    for name in names:
        assert name in known, f"{cls.__name__} has no field {name}"
        default = getattr(defaults, name)
        kind = type(default)
        text = field_help(cls).get(name, "").replace("%", "%%")
        flag = "--" + name.replace("_", "-")
        if kind is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, dest=name,
                                help=f"{text} (default: {default})")
        else:
            parser.add_argument(flag, type=kind if kind in (int, float) else str, default=None, dest=name,
                                metavar=name.split("_")[-1].upper(), help=f"{text} (default: {default!r})"
                                if default not in ("", None) else text)


def given(args: argparse.Namespace, names: list[str]) -> dict[str, Any]:
    """The options of `names` that were given on the command line."""
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}


def override_options(parser: argparse.ArgumentParser) -> None:
    """--set KEY=VALUE (repeatable) and --quiet."""
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="config override section.key=value, repeatable (every key: `redraw config show`)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars or stage timings")


def config_options(parser: argparse.ArgumentParser) -> None:
    """--preset (repeatable), --seed, and the override options."""
    parser.add_argument("--preset", action="append", default=None,
                        help="config preset(s), layered in order (tiny | small | paper | masks; default: small)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: the preset's, 0)")
    override_options(parser)


def config_from(args: argparse.Namespace) -> Config:
    """The config tree from the presets, the overrides and --seed."""
    cfg = load_config(args.preset or ["small"], args.set)
    if args.seed is not None:
        cfg.seed = args.seed
    return cfg


BAG_FIELDS = [f.name for f in dataclasses.fields(BagReading)]


def bag_options(parser: argparse.ArgumentParser) -> None:
    """The options of every command that reads a bag (`BagReading`'s fields)."""
    add_fields(parser.add_argument_group("reading the bag"), BagReading, BAG_FIELDS)


def bag_reading(args: argparse.Namespace) -> BagReading:
    return BagReading(**given(args, BAG_FIELDS))
