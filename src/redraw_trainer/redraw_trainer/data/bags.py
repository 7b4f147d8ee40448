"""Recorded bags -> training arrays: our logger's bags, a plain `ros2 bag record`, or a ROS 1 `.bag`.

Reads rosbag2 (mcap or sqlite3) and ROS 1 bags with rosbags, each message decoded with the bag's own
message definitions (Duckietown's included); a damaged mcap is read up to the damage. Frames and
commands are paired by `redraw_logger.pairing` (the robot logger's own code), JPEGs decoded through
`redraw_perception` in worker processes. The input is only ever read: results are cached by content
in a user cache directory, never inside the bag.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import os
import re
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from redraw_logger import messages
from redraw_logger.pairing import Command, Frame, Pair, PairingConfig, StampPairer
from redraw_perception import PreprocessConfig
from redraw_perception.preprocess import preprocess_many
from redraw_policy.kinematics import KinematicsConfig, twist_to_action, wheels_to_twist
from redraw_trainer.data.sequences import SequenceData

CAMERA_TYPES = (messages.COMPRESSED_IMAGE,)
COMMAND_TYPES = (messages.TWIST_STAMPED, messages.WHEELS_CMD, messages.TWIST2D)
SHOWN_EXAMPLES = 3  # skip reasons: how many examples a report keeps


class BagError(ValueError):
    """A bag cannot be read or turned into training data (names the file and the topic or field)."""


@dataclass
class BagReport:
    path: str
    format: str = ""  # rosbag2 (mcap/sqlite3) or ros1
    topics: dict[str, dict[str, Any]] = field(default_factory=dict)  # topic -> type, count, duration_s, rate_hz
    camera_topic: str = ""
    command_topic: str = ""
    pairing: dict[str, int] = field(default_factory=dict)
    step_gaps_s: list[float] = field(default_factory=list)
    corrupt_frames: int = 0  # paired frames that could not be used, for any reason (see skipped)
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> frames
    skip_examples: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)  # choices made for the user (one line each)
    episode_stamps: list[int] = field(default_factory=list)  # header stamp of each episode's first row
    warnings: list[str] = field(default_factory=list)  # damage found and what was kept

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RawMessage:
    topic: str
    msgtype: str
    log_time: int
    data: bytes


Deserialize = Callable[[bytes, str], Any]


def _bag_files(path: Path) -> list[Path]:
    return sorted(path.glob("*.mcap")) + sorted(path.glob("*.db3"))


def find_bags(path: Path) -> list[Path]:
    """`path` itself if it is a bag (rosbag2 directory or file, ROS 1 `.bag`), else every bag below it."""
    if path.is_file() or (path / "metadata.yaml").exists() or _bag_files(path):
        return [path]
    found = [p for p in path.rglob("*") if p.is_dir() and ((p / "metadata.yaml").exists() or _bag_files(p))]
    found += [p for p in path.rglob("*.bag") if p.is_file()]
    return sorted(found)


def _normalise(topic: str) -> str:
    return "/" + topic.lstrip("/")


def read_raw(path: Path, report: BagReport) -> tuple[list[RawMessage], Deserialize]:
    """Every message of the bag and a function that decodes one with the bag's own definitions.

    A damaged mcap is read record by record up to the damage (with a warning saying what was kept);
    anything unreadable raises BagError saying why.
    """
    from rosbags.highlevel import AnyReader

    if not path.exists():
        raise BagError(f"{path}: no such file or directory")
    files = [path] if path.is_file() else _bag_files(path)
    if files and all(f.stat().st_size == 0 for f in files):
        raise BagError(f"{path}: 0 bytes; not a bag")
    if path.is_file() and path.suffix not in (".bag", ".mcap", ".db3"):
        raise BagError(f"{path}: not a bag file (expected a ROS 1 .bag, a rosbag2 .mcap/.db3 or a rosbag2 directory)")
    try:
        with AnyReader([path], default_typestore=messages.typestore()) as reader:
            report.format = "rosbag2" if reader.is2 else "ros1"
            for c in reader.connections:
                report.topics.setdefault(_normalise(c.topic), {"type": c.msgtype, "count": 0})
            out = [RawMessage(_normalise(c.topic), c.msgtype, t, bytes(d)) for c, t, d in reader.messages()]
            return out, _deserializer(reader.typestore, reader.is2)
    except Exception as err:  # rosbags raises several error types for damaged bags
        reason = f"{type(err).__name__}: {err}"
        mcaps = sorted(path.glob("*.mcap")) if path.is_dir() else ([path] if path.suffix == ".mcap" else [])
        if not mcaps:
            raise BagError(f"{path}: cannot read bag ({reason})") from err
        report.format = "rosbag2"
        out = []
        for mcap in mcaps:
            out += _stream_mcap(mcap, report)
        if not out:
            raise BagError(f"{path}: not a readable MCAP file ({reason})") from err
        if path.is_dir():
            why = "no metadata.yaml" if not (path / "metadata.yaml").exists() else f"cannot use metadata.yaml ({reason})"
            report.warnings.append(f"{path}: {why}; read the {len(mcaps)} .mcap file(s) directly")
        for m in out:
            report.topics.setdefault(m.topic, {"type": m.msgtype, "count": 0})
        store = messages.typestore()
        return out, store.deserialize_cdr


def _deserializer(store: Any, cdr: bool) -> Deserialize:
    """Decode with the bag's own definitions; CDR types the bag does not define come from ours."""
    fallback = messages.typestore()

    def deserialize(data: bytes, msgtype: str) -> Any:
        if not cdr:
            return store.deserialize_ros1(data, msgtype)
        return (store if msgtype in store.fielddefs else fallback).deserialize_cdr(data, msgtype)

    return deserialize


def _stream_mcap(path: Path, report: BagReport) -> list[RawMessage]:
    from mcap.exceptions import McapError
    from mcap.reader import NonSeekingReader

    out: list[RawMessage] = []
    with open(path, "rb") as stream:
        reader = NonSeekingReader(stream)
        try:
            for schema, channel, message in reader.iter_messages(log_time_order=False):
                out.append(RawMessage(_normalise(channel.topic), schema.name if schema else "", message.log_time,
                                      bytes(message.data)))
        except (McapError, EOFError, ValueError, OSError, KeyError, AssertionError) as err:
            if out:
                report.warnings.append(f"{path}: truncated after {len(out)} messages ({type(err).__name__}); "
                                       "kept the first part")
    return out


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


def pick_topic(report: BagReport, wanted: str | None, types: tuple[str, ...], role: str, path: Path, option: str) -> str:
    if wanted:
        wanted = _normalise(wanted)
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


def _decode_chunk(args: tuple[dict[str, Any], list[bytes]]) -> list[np.ndarray | str]:
    return preprocess_many(*args)


def decode_frames(payloads: list[bytes], preprocess: PreprocessConfig, workers: int = 2, chunk: int = 256) -> list[np.ndarray | str]:
    """Preprocess JPEGs in `workers` processes (the reason, a string, where a frame cannot be used).

    The pool forks (cheap: no re-import) on Linux; decoding touches only OpenCV and NumPy.
    """
    jobs = [(preprocess.to_dict(), payloads[i : i + chunk]) for i in range(0, len(payloads), chunk)]
    if workers <= 1 or len(jobs) <= 1:
        return [img for job in jobs for img in _decode_chunk(job)]
    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    with ProcessPoolExecutor(workers, mp_context=mp.get_context(method), initializer=_single_threaded) as pool:
        return [img for part in pool.map(_decode_chunk, jobs) for img in part]


def _single_threaded() -> None:
    import cv2

    cv2.setNumThreads(1)  # one process per core already; no thread pools inherited across fork


def default_cache_dir() -> Path:
    """Where bag conversions are cached: $REDRAW_CACHE_DIR, else $XDG_CACHE_HOME/redraw/bags, else ~/.cache/redraw/bags."""
    if os.environ.get("REDRAW_CACHE_DIR"):
        return Path(os.environ["REDRAW_CACHE_DIR"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "redraw" / "bags"


def _cache_key(path: Path, *parts: Any) -> str:
    h = hashlib.sha256(str(path.resolve()).encode())
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for f in files:
        st = f.stat()
        h.update(f"{f.relative_to(path) if f != path else f.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    h.update(json.dumps(parts, sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


def read_bag(
    path: str | Path,
    preprocess: PreprocessConfig = PreprocessConfig(),
    kinematics: KinematicsConfig = KinematicsConfig(),
    pairing: PairingConfig = PairingConfig(),
    camera_topic: str | None = None,
    command_topic: str | None = None,
    workers: int = 2,
    cache_dir: str | Path | None = None,
    frame_size: tuple[int, int] | None = None,
    labels_topic: str | None = None,
) -> tuple[SequenceData, BagReport]:
    """Bag (or a directory of bags) -> (SequenceData, BagReport). The data may have 0 rows: see `require_rows`.

    `frame_size` (width, height): the camera's frame size when it differs from the preprocessing's
    (the same crop fractions are applied, then the frame is resized to the model input).
    `labels_topic`: simulator recordings only, the per-frame reward/terminal labels (for an oracle);
    without it every row is reward-free, as real data is.
    """
    path = Path(path)
    if not path.exists():
        raise BagError(f"{path}: no such file or directory")
    bags = find_bags(path)
    if not bags:
        raise BagError(f"{path}: no bag here (expected a rosbag2 directory with metadata.yaml or *.mcap / *.db3, "
                       "or a ROS 1 .bag file)")
    if frame_size is not None:
        preprocess = replace(preprocess, frame_width=int(frame_size[0]), frame_height=int(frame_size[1]))
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    key = _cache_key(path, preprocess.to_dict(), asdict(kinematics), asdict(pairing), camera_topic, command_topic, labels_topic)
    cached = cache / f"{key}.npz"
    if cached.exists():
        try:
            data = SequenceData.load(cached)
            return data, BagReport(**data.meta["bag_report"])
        except Exception:  # a damaged cache entry is rebuilt
            pass
    parts, reports = [], []
    for bag in bags:
        data, report = _read_one(bag, preprocess, kinematics, pairing, camera_topic, command_topic, workers, labels_topic)
        parts.append(data)
        reports.append(report)
    data = SequenceData.concatenate([p for p in parts if len(p)]) if any(len(p) for p in parts) else parts[0]
    report = _merge_reports(path, reports)
    if frame_size is not None:
        report.notices.append(f"frames read as {frame_size[0]}x{frame_size[1]} (--frame-size), cropped by the same "
                              "fractions and resized to the model input")
    data.meta = {"source": str(path), "preprocess": preprocess.to_dict(), "kinematics": asdict(kinematics),
                 "pairing": asdict(pairing), "bag_report": report.to_dict()}
    if len(data):
        try:
            data.save(cached)
        except OSError as err:
            report.warnings.append(f"{cached}: cache not written ({err.strerror or err})")
    return data, report


def require_rows(data: SequenceData, report: BagReport, minimum: int = 1) -> SequenceData:
    """Raise BagError saying why when a bag gave fewer than `minimum` training rows."""
    if len(data) >= minimum:
        return data
    why = []
    if report.pairing.get("paired", 0) == 0:
        why.append(f"no frame on {report.camera_topic} was within the pairing tolerance of a command on "
                   f"{report.command_topic} (pairing: {report.pairing})")
    if report.skipped:
        why.append("frames skipped: " + "; ".join(f"{k}: {v}" for k, v in report.skipped.items()))
    raise BagError(f"{report.path}: {len(data)} training rows, need at least {minimum}; " + "; ".join(why or ["no usable steps"]))


def _merge_reports(path: Path, reports: list[BagReport]) -> BagReport:
    merged = BagReport(str(path), format=reports[0].format, camera_topic=reports[0].camera_topic,
                       command_topic=reports[0].command_topic)
    for r in reports:
        for topic, info in r.topics.items():
            entry = merged.topics.setdefault(topic, {**info, "count": 0, "duration_s": 0.0})
            entry["count"] += info["count"]
            entry["duration_s"] = round(entry["duration_s"] + info.get("duration_s", 0.0), 3)
        for k, v in r.pairing.items():
            merged.pairing[k] = merged.pairing.get(k, 0) + v
        for k, v in r.skipped.items():
            merged.skipped[k] = merged.skipped.get(k, 0) + v
        merged.skip_examples += r.skip_examples[: SHOWN_EXAMPLES - len(merged.skip_examples)]
        merged.step_gaps_s += r.step_gaps_s
        merged.episode_stamps += r.episode_stamps
        merged.corrupt_frames += r.corrupt_frames
        merged.notices += [n for n in r.notices if n not in merged.notices]
        merged.warnings += r.warnings
    return merged


def inspect_bag(path: str | Path) -> BagReport:
    """Topics (type, count, duration, rate) of any readable bag, with no requirement on what it holds."""
    reports = []
    for bag in find_bags(Path(path)) or [Path(path)]:
        report = BagReport(str(bag))
        raw, deserialize = read_raw(bag, report)
        describe_topics(raw, deserialize, report)
        reports.append(report)
    return _merge_reports(Path(path), reports)


def read_pairs(path: Path, kinematics: KinematicsConfig, pairing: PairingConfig, camera_topic: str | None,
               command_topic: str | None, labels_topic: str | None = None) -> tuple[list[Pair], BagReport, dict[int, dict]]:
    """One bag -> (frame/command pairs in stamp order, report, labels by stamp from `labels_topic`).

    Frame payloads are the raw JPEG bytes; labels stay empty without a labels topic (real data).
    """
    report = BagReport(str(path))
    raw, deserialize = read_raw(path, report)
    labels: dict[int, dict] = {}
    if labels_topic:
        for m in raw:
            if m.topic == _normalise(labels_topic):
                payload = json.loads(deserialize(m.data, m.msgtype).data)
                labels[int(payload["stamp_ns"])] = payload
        if not labels:
            raise BagError(f"{path}: no labels on topic '{labels_topic}' (a simulator recording has them; real data does not)")
    count_messages(raw, report)
    report.camera_topic = pick_topic(report, camera_topic, CAMERA_TYPES, "camera", path, "--camera-topic")
    report.command_topic = pick_topic(report, command_topic, COMMAND_TYPES, "command", path, "--cmd-topic")
    command_type = report.topics[report.command_topic]["type"]
    events: list[tuple[int, int, Any]] = []  # (stamp, kind, item) in arrival (log) order
    undecodable: Counter[str] = Counter()
    for m in raw:
        if m.topic not in (report.camera_topic, report.command_topic):
            continue
        try:
            msg = deserialize(m.data, m.msgtype)
        except Exception as err:  # rosbags raises assorted errors on bad bytes
            if not undecodable[m.topic]:
                report.warnings.append(f"{path}: topic {m.topic}: undecodable {m.msgtype} at log time {m.log_time} "
                                       f"({type(err).__name__}: {err})")
            undecodable[m.topic] += 1
            continue
        stamp = messages.stamp_ns(msg.header)
        if m.topic == report.camera_topic:
            events.append((stamp, 0, Frame(stamp, bytes(msg.data))))
        elif command_type == messages.WHEELS_CMD:
            events.append((stamp, 1, Command(stamp, *wheels_to_twist(msg.vel_left, msg.vel_right, kinematics))))
        elif command_type == messages.TWIST2D:
            events.append((stamp, 1, Command(stamp, float(msg.v), float(msg.omega))))
        else:
            events.append((stamp, 1, Command(stamp, msg.twist.linear.x, msg.twist.angular.z)))
    for topic, count in undecodable.items():
        if count > 1:
            report.warnings.append(f"{path}: topic {topic}: {count} undecodable messages skipped in all")
    backwards = _count_backwards(events)
    if backwards:
        report.warnings.append(f"{path}: field header.stamp goes backwards {backwards} time(s) on "
                               f"{report.camera_topic} / {report.command_topic}; out-of-order steps dropped")
    pairer = StampPairer(pairing)
    pairs: list[Pair] = []
    for _, _, item in events:
        pairs += pairer.add_frame(item) if isinstance(item, Frame) else pairer.add_command(item)
    pairer.flush()
    report.pairing = pairer.stats.summary()
    report.step_gaps_s = pairer.stats.step_gaps_s
    return pairs, report, labels


def _read_one(path: Path, preprocess: PreprocessConfig, kinematics: KinematicsConfig, pairing: PairingConfig,
              camera_topic: str | None, command_topic: str | None, workers: int,
              labels_topic: str | None = None) -> tuple[SequenceData, BagReport]:
    pairs, report, labels = read_pairs(path, kinematics, pairing, camera_topic, command_topic, labels_topic)
    images = decode_frames([p.frame.payload for p in pairs], preprocess, workers)
    _check_frame_sizes(images, preprocess, report, path)
    return _to_sequences(pairs, images, kinematics, report, preprocess, labels), report


_SIZE = re.compile(r"frame is about (\d+)x(\d+), expected (\d+)x(\d+)")


def _check_frame_sizes(images: list[np.ndarray | str], preprocess: PreprocessConfig, report: BagReport, path: Path) -> None:
    """Every frame of another size than the preprocessing's: a clear error naming both and the option."""
    reasons = [img for img in images if isinstance(img, str)]
    sizes = Counter(m.groups()[:2] for m in map(_SIZE.search, reasons) if m)
    if images and sum(sizes.values()) == len(images):
        (w, h), _ = sizes.most_common(1)[0]
        raise BagError(f"{path}: topic {report.camera_topic}: every frame is about {w}x{h}, the preprocessing expects "
                       f"{preprocess.frame_width}x{preprocess.frame_height}; if this camera records {w}x{h}, pass "
                       f"--frame-size {w}x{h} (same crop fractions, resized to the model input)")


def _skip_kind(reason: str) -> str:
    match = _SIZE.search(reason)
    if match:
        return f"frame size {match.group(1)}x{match.group(2)} (expected {match.group(3)}x{match.group(4)})"
    return re.sub(r"\(\d+ bytes, starts [0-9a-f]+\) ", "", reason)


def _count_backwards(events: list[tuple[int, int, Any]]) -> int:
    count, last = 0, {0: -1, 1: -1}
    for stamp, kind, _ in events:
        if stamp < last[kind]:
            count += 1
        last[kind] = max(last[kind], stamp)
    return count


def _to_sequences(pairs: list[Pair], images: list[np.ndarray | str], kinematics: KinematicsConfig, report: BagReport,
                  preprocess: PreprocessConfig, labels: dict[int, dict] | None = None) -> SequenceData:
    """Rows per SequenceData's convention; an unusable frame ends its episode (the next frame starts one).

    With `labels` (simulator recordings), each row gets the reward and termination of arriving at its frame.
    """
    rows_img, rows_act, rows_first, rows_reward, rows_terminal = [], [], [], [], []
    missing_labels = 0
    prev_action = None
    for pair, image in zip(pairs, images):
        if isinstance(image, str):
            report.corrupt_frames += 1
            kind = _skip_kind(image)
            report.skipped[kind] = report.skipped.get(kind, 0) + 1
            if len(report.skip_examples) < SHOWN_EXAMPLES:
                report.skip_examples.append(f"frame stamped {pair.frame.stamp}: {image}")
            prev_action = None
            continue
        first = pair.first or prev_action is None
        rows_img.append(image)
        rows_act.append(np.zeros(2, np.float32) if first else prev_action)
        rows_first.append(first)
        if first:
            report.episode_stamps.append(pair.frame.stamp)
        label = (labels or {}).get(pair.frame.stamp)
        missing_labels += bool(labels) and label is None
        rows_reward.append(0.0 if first or label is None else float(label["reward"]))
        rows_terminal.append(bool(label and label.get("terminal")))
        prev_action = np.clip(twist_to_action(pair.command.v, pair.command.omega, kinematics), -1, 1).astype(np.float32)
    if missing_labels:
        report.warnings.append(f"{report.path}: {missing_labels} frames have no label; their reward is 0")
    n = len(rows_img)
    shape = preprocess.out_shape
    return SequenceData(
        image=np.stack(rows_img) if n else np.zeros((0, *shape), np.uint8),
        action=np.stack(rows_act) if n else np.zeros((0, 2), np.float32),
        reward=np.array(rows_reward, np.float32),  # all zero without labels: real data carries no reward
        is_first=np.array(rows_first, bool),
        is_terminal=np.array(rows_terminal, bool),
    )
