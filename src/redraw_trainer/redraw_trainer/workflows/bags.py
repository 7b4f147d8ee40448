"""What `redraw bag info` and `redraw bag convert` print and decide; the command line only parses options
(`data/reading.py`'s `BagReading` turns them into the reader's arguments).

`info` lists every bag a path holds, each on its own (topics, the damage its reading found, what training
needs, then the dataset it gives); `convert` takes one bag per path and concatenates the paths given.
Every failure is a BagError (one line; the command line prints it and exits 2).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from redraw_trainer.data.bag_convert import merge_reports, read_bag, require_rows
from redraw_trainer.data.bag_open import Bag, BagError, BagReport, list_bags, no_bag_here, one_bag
from redraw_trainer.data.bag_topics import CAMERA_TYPES, COMMAND_TYPES, inspect_bag
from redraw_trainer.data.sequences import SequenceData
from redraw_policy.runtime import OnnxPolicy
from redraw_trainer.measure.plots import stamp_gap_histogram
from redraw_trainer.measure.reality_gap import episode_gaps, format_gaps

Print = Callable[[str], None]


def print_dataset(data: SequenceData, report: BagReport, out: Print = print, shown: tuple[str, ...] = ()) -> None:
    """Pairing, rows, skipped frames, notices and warnings (those not in `shown`, already printed)."""
    gaps = np.array(report.step_gaps_s)
    rate = f"{1.0 / np.median(gaps):.1f} Hz" if len(gaps) else "n/a"
    out(f"camera: {report.camera_topic}   command: {report.command_topic}   paired step rate: {rate}")
    out("pairing: " + ", ".join(f"{k}={v}" for k, v in report.pairing.items()))
    out(f"dataset: {len(data)} rows, {data.num_episodes} episodes, frames skipped: {report.corrupt_frames}")
    for reason, count in report.skipped.items():
        out(f"  skipped {count}: {reason}")
    for example in report.skip_examples:
        out(f"  e.g. {example}")
    for notice in report.notices:
        if notice not in shown:
            out(f"notice: {notice}")
    for warning in report.warnings:
        if warning not in shown:
            out(f"warning: {warning}")


def print_topics(report: BagReport, out: Print = print) -> None:
    """The header (marked DAMAGED when the reading found damage), every topic, the damage and the choices."""
    mark = f"   DAMAGED: {len(report.warnings)} problem(s), see the warnings below" if report.damaged else ""
    out(f"bag: {report.path} ({report.format}){mark}")
    out(f"  {'topic':<44} {'type':<40} {'msgs':>7} {'duration':>9} {'rate':>9}")
    for topic, info in sorted(report.topics.items()):
        out(f"  {topic:<44} {info['type']:<40} {info['count']:>7} {info.get('duration_s', 0.0):>8.1f}s "
            f"{info.get('rate_hz', 0.0):>7.1f}Hz")
    for warning in report.warnings:
        out(f"warning: {warning}")
    for notice in report.notices:
        out(f"notice: {notice}")
    for role, types in (("camera", CAMERA_TYPES), ("command", COMMAND_TYPES)):
        found = [t for t, i in report.topics.items() if i["type"] in types and i["count"]]
        out(f"training needs a {role} topic ({' or '.join(types)}): " + (", ".join(found) if found else "MISSING"))


def bag_info(path: str | Path, read_options: dict[str, Any], plots: str | Path | None = None, out: Print = print,
             meter: str | Path | None = None) -> int:
    """`redraw bag info`: each bag the path holds, on its own. Exit 0 when a bag reads (damaged or not);
    a path holding no readable bag raises BagError (exit 2). `meter`: an exported policy whose reality-gap meter
    reads every episode (does the model predict this robot?)."""
    bags = list_bags(path)
    if not bags:
        raise no_bag_here(path)
    if len(bags) > 1:
        out(f"{path}: {len(bags)} bags, each described on its own (convert takes one bag per path)")
    readable = 0
    for i, bag in enumerate(bags):
        if i:
            out("")
        try:
            report = inspect_bag(bag)
        except BagError as err:
            if len(bags) == 1:
                raise
            out(f"bag: {bag.path} ({bag.kind})   UNREADABLE: {err}")
            continue
        readable += 1
        _info_one(bag, report, read_options, plots if len(bags) == 1 else (Path(plots) / bag.name if plots else None),
                  out, meter)
    if not readable:
        raise BagError(f"{path}: none of its {len(bags)} bags can be read (see above)")
    return 0


def _info_one(bag: Bag, report: BagReport, read_options: dict[str, Any], plots: str | Path | None, out: Print,
              meter: str | Path | None = None) -> None:
    print_topics(report, out)
    try:
        data, full = read_bag(bag, **read_options)
    except BagError as err:
        out(f"training: this bag gives no dataset: {err}")
        return
    print_dataset(data, full, out, shown=tuple(report.warnings + report.notices))
    if len(data) == 0:
        out("training: this bag gives no dataset (0 rows); see the pairing and skip counts above")
    if plots:
        target = Path(plots) / "stamp_gaps.png"
        stamp_gap_histogram(full.step_gaps_s, target, title=str(bag.path))
        out(f"stamp-gap histogram: {target}")
    if meter and len(data):
        contract = OnnxPolicy(meter).meter
        rows = episode_gaps(bag.path, meter, read_options["camera_topic"], read_options["command_topic"],
                            read_options["pairing"], read_options["kinematics"])
        out(f"reality-gap meter of {meter}, per episode (KL posterior || prior, nats/frame):")
        for line in format_gaps(rows, contract.threshold if contract else None):
            out(line)


def bag_convert(paths: str | Path | list[str | Path], read_options: dict[str, Any], target: str | Path,
                out: Print = print) -> int:
    """`redraw bag convert`: one bag per path (a folder of several is refused, naming them); the paths'
    rows are concatenated into one dataset file."""
    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    bags = [one_bag(p) for p in paths]  # every path checked before any is read
    parts, reports = [], []
    for bag in bags:
        data, report = read_bag(bag, **read_options)
        if len(bags) > 1:
            out(f"bag: {bag.path}")
        print_dataset(data, report, out)
        require_rows(data, report)
        parts.append(data)
        reports.append(report)
    data = parts[0] if len(parts) == 1 else SequenceData.concatenate(parts)
    if len(parts) > 1:
        report = merge_reports(Path(paths[0]), reports)
        data.meta = {**parts[0].meta, "source": [str(b.path) for b in bags], "bag_report": report.to_dict()}
    data.save(target)
    out(f"{len(data)} rows, {data.num_episodes} episodes -> {target}")
    return 0
