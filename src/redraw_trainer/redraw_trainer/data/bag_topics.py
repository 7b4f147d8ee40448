"""Describing a bag's topics (type, count, duration, rate) and choosing the camera and command topics."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from redraw_logger import messages
from redraw_trainer.data.bag_open import Bag, BagError, BagReport, Deserialize, RawMessage, normalise, one_bag, read_raw

CAMERA_TYPES = (messages.COMPRESSED_IMAGE,)
COMMAND_TYPES = (messages.TWIST_STAMPED, messages.WHEELS_CMD, messages.TWIST2D)


def message_stamp(msg: Any, log_time: int) -> int:
    header = getattr(msg, "header", None)
    return messages.stamp_ns(header) if header is not None and hasattr(header, "stamp") else log_time


def describe_topics(raw: list[RawMessage], deserialize: Deserialize, report: BagReport) -> None:
    """Count, duration and rate per topic, from header stamps where messages have them (else log times)."""
    stamps: dict[str, list[int]] = {}
    for m in raw:
        try:
            stamp = message_stamp(deserialize(m.data, m.msgtype), m.log_time)
        except Exception:  # undecodable or unknown type: the log time still dates it
            stamp = m.log_time
        stamps.setdefault(m.topic, []).append(stamp)
    for topic, info in report.topics.items():
        times = np.array(sorted(stamps.get(topic, [])), dtype=np.int64)
        info["count"] = int(len(times))
        duration = float(times[-1] - times[0]) / 1e9 if len(times) > 1 else 0.0
        info["duration_s"] = round(duration, 3)
        info["rate_hz"] = round((len(times) - 1) / duration, 2) if duration > 0 else 0.0


def count_messages(raw: list[RawMessage], report: BagReport) -> None:
    """Messages per topic, which is all `pick_topic` needs (cheap: nothing decoded; `describe_topics` says more)."""
    for topic, count in Counter(m.topic for m in raw).items():
        report.topics[topic]["count"] = count


def pick_topic(report: BagReport, wanted: str | None, types: tuple[str, ...], role: str, path: Path | Bag,
               option: str) -> str:
    if wanted:
        wanted = normalise(wanted)
        if wanted not in report.topics:
            raise BagError(f"{path}: no {role} topic '{wanted}' (topics: {sorted(report.topics)})")
        if report.topics[wanted]["type"] not in types:
            raise BagError(f"{path}: topic '{wanted}' has type {report.topics[wanted]['type']}, expected one of {list(types)}")
        return wanted
    candidates = [t for t, info in report.topics.items() if info["type"] in types and info["count"] > 0]
    if not candidates:
        raise BagError(f"{path}: no {role} topic of type {' or '.join(types)} with messages (topics: "
                       f"{ {t: i['type'] for t, i in report.topics.items()} }); record one, or name it with {option}")
    preferred = "image/compressed" if role == "camera" else ""

    def rank(t: str):  # a TwistStamped command already carries (v, omega): preferred over raw wheel commands
        return (not t.endswith(preferred), report.topics[t]["type"] != messages.TWIST_STAMPED, -report.topics[t]["count"], t)

    chosen = sorted(candidates, key=rank)[0]
    if role == "camera" and not chosen.endswith(preferred):
        report.notices.append(f"camera topic {chosen} taken: no .../image/compressed topic in the bag "
                              f"(choose another with {option})")
    elif len(candidates) > 1:
        report.notices.append(f"{role} topic {chosen} taken of {sorted(candidates)} (choose another with {option})")
    return chosen


def inspect_bag(path: str | Path | Bag) -> BagReport:
    """Topics (type, count, duration, rate) of one readable bag, with no requirement on what it holds, and
    the damage its reading found (`warnings`, `damaged`). A path holding several bags is a BagError
    naming them: see `redraw_trainer.data.bag_open.list_bags`."""
    bag = one_bag(path)
    report = BagReport(str(bag.path))
    raw, deserialize = read_raw(bag, report)
    describe_topics(raw, deserialize, report)
    return report
