"""rosbag2 -> training arrays: our logger's bags or a plain `ros2 bag record` of camera and command topics.

Reads mcap or sqlite3 bags with rosbags (a truncated mcap is read up to the damage), pairs frames with
commands using `redraw_logger.pairing` (the robot logger's own code), decodes JPEGs through
`redraw_perception` in worker processes, and returns SequenceData with the preprocessing attached.
Results are cached by content, so a second read is near free.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from redraw_logger import messages
from redraw_logger.pairing import Command, Frame, PairingConfig, StampPairer
from redraw_perception import PreprocessConfig
from redraw_perception.preprocess import preprocess_many
from redraw_policy.kinematics import KinematicsConfig, twist_to_action, wheels_to_twist
from redraw_trainer.data.sequences import SequenceData

COMMAND_TYPES = (messages.TWIST_STAMPED, messages.WHEELS_CMD)


class BagError(ValueError):
    """A bag cannot be turned into training data (names the file and the topic or field)."""


@dataclass
class BagReport:
    path: str
    topics: dict[str, dict[str, Any]] = field(default_factory=dict)  # topic -> type, count
    camera_topic: str = ""
    command_topic: str = ""
    pairing: dict[str, int] = field(default_factory=dict)
    step_gaps_s: list[float] = field(default_factory=list)
    corrupt_frames: int = 0
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RawMessage:
    topic: str
    msgtype: str
    log_time: int
    data: bytes


def _bag_files(path: Path) -> list[Path]:
    return sorted(path.glob("*.mcap")) + sorted(path.glob("*.db3"))


def find_bags(path: Path) -> list[Path]:
    """`path` itself if it is a bag, else every bag directory below it (logger chunks, worker folders)."""
    if path.is_file() or (path / "metadata.yaml").exists() or _bag_files(path):
        return [path]
    return sorted(p for p in path.rglob("*") if p.is_dir() and "redraw-cache" not in p.parts
                  and ((p / "metadata.yaml").exists() or _bag_files(p)))


def read_raw(path: Path, report: BagReport) -> list[RawMessage]:
    """Every message of the bag; for a damaged mcap, everything before the damage (with a warning)."""
    from rosbags.highlevel import AnyReader

    if not path.exists():
        raise BagError(f"{path}: no such bag directory")
    try:
        with AnyReader([path], default_typestore=messages.typestore()) as reader:
            for c in reader.connections:
                report.topics.setdefault(c.topic, {"type": c.msgtype, "count": 0})
            out = [RawMessage(c.topic, c.msgtype, t, bytes(d)) for c, t, d in reader.messages()]
            return out
    except Exception as err:  # rosbags raises several error types for damaged bags
        mcaps = sorted(path.glob("*.mcap")) if path.is_dir() else ([path] if path.suffix == ".mcap" else [])
        if not mcaps:
            raise BagError(f"{path}: cannot read bag ({type(err).__name__}: {err})") from err
        report.warnings.append(f"{path}: {type(err).__name__}: {err}; reading the mcap record by record instead")
        out = []
        for mcap in mcaps:
            out += _stream_mcap(mcap, report)
        return out


def _stream_mcap(path: Path, report: BagReport) -> list[RawMessage]:
    from mcap.exceptions import McapError
    from mcap.reader import NonSeekingReader

    out: list[RawMessage] = []
    with open(path, "rb") as stream:
        reader = NonSeekingReader(stream)
        try:
            for schema, channel, message in reader.iter_messages(log_time_order=False):
                out.append(RawMessage(channel.topic, schema.name if schema else "", message.log_time, bytes(message.data)))
        except (McapError, EOFError, ValueError, OSError, KeyError) as err:
            report.warnings.append(f"{path}: damaged after {len(out)} messages ({type(err).__name__}: {err}); "
                                   "kept everything before the damage")
    return out


def _pick_topic(report: BagReport, wanted: str | None, types: tuple[str, ...], role: str, path: Path) -> str:
    candidates = [t for t, info in report.topics.items() if info["type"] in types]
    if wanted:
        if wanted not in report.topics:
            raise BagError(f"{path}: no {role} topic '{wanted}' (topics: {sorted(report.topics)})")
        if report.topics[wanted]["type"] not in types:
            raise BagError(f"{path}: topic '{wanted}' has type {report.topics[wanted]['type']}, expected one of {list(types)}")
        return wanted
    if not candidates:
        raise BagError(f"{path}: no {role} topic of type {' or '.join(types)} (topics: "
                       f"{ {t: i['type'] for t, i in report.topics.items()} })")
    return sorted(candidates, key=lambda t: (not t.endswith("image/compressed"), t))[0]


def _decode_chunk(args: tuple[dict[str, Any], list[bytes]]) -> list[np.ndarray | None]:
    return preprocess_many(*args)


def decode_frames(payloads: list[bytes], preprocess: PreprocessConfig, workers: int = 2, chunk: int = 256) -> list[np.ndarray | None]:
    """Preprocess JPEGs in `workers` processes (None where a frame is corrupt).

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


def _cache_key(path: Path, *parts: Any) -> str:
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file() and "redraw-cache" not in p.parts):
        st = f.stat()
        h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns}".encode())
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
) -> tuple[SequenceData, BagReport]:
    """Bag directory (or several chunks under one directory) -> (SequenceData, BagReport)."""
    path = Path(path)
    if not path.exists():
        raise BagError(f"{path}: no such bag directory")
    bags = find_bags(path)
    if not bags:
        raise BagError(f"{path}: no rosbag2 bag here (expected metadata.yaml or *.mcap / *.db3)")
    cache = Path(cache_dir) if cache_dir else path / "redraw-cache"
    key = _cache_key(path, preprocess.to_dict(), asdict(kinematics), asdict(pairing), camera_topic, command_topic)
    cached = cache / f"{key}.npz"
    if cached.exists():
        data = SequenceData.load(cached)
        return data, BagReport(**data.meta["bag_report"])
    parts, reports = [], []
    for bag in bags:
        data, report = _read_one(bag, preprocess, kinematics, pairing, camera_topic, command_topic, workers)
        parts.append(data)
        reports.append(report)
    data = SequenceData.concatenate([p for p in parts if len(p)]) if any(len(p) for p in parts) else parts[0]
    report = _merge_reports(path, reports)
    data.meta = {"source": str(path), "preprocess": preprocess.to_dict(), "kinematics": asdict(kinematics),
                 "pairing": asdict(pairing), "bag_report": report.to_dict()}
    try:
        data.save(cached)
    except OSError as err:
        report.warnings.append(f"{cached}: cache not written ({err})")
    return data, report


def _merge_reports(path: Path, reports: list[BagReport]) -> BagReport:
    merged = BagReport(str(path), camera_topic=reports[0].camera_topic, command_topic=reports[0].command_topic)
    for r in reports:
        for topic, info in r.topics.items():
            entry = merged.topics.setdefault(topic, {"type": info["type"], "count": 0})
            entry["count"] += info["count"]
        for k, v in r.pairing.items():
            merged.pairing[k] = merged.pairing.get(k, 0) + v
        merged.step_gaps_s += r.step_gaps_s
        merged.corrupt_frames += r.corrupt_frames
        merged.warnings += r.warnings
    return merged


def _read_one(path: Path, preprocess: PreprocessConfig, kinematics: KinematicsConfig, pairing: PairingConfig,
              camera_topic: str | None, command_topic: str | None, workers: int) -> tuple[SequenceData, BagReport]:
    report = BagReport(str(path))
    raw = read_raw(path, report)
    for m in raw:
        entry = report.topics.setdefault(m.topic, {"type": m.msgtype, "count": 0})
        entry["count"] += 1
    report.camera_topic = _pick_topic(report, camera_topic, (messages.COMPRESSED_IMAGE,), "camera", path)
    report.command_topic = _pick_topic(report, command_topic, COMMAND_TYPES, "command", path)
    store = messages.typestore()
    command_type = report.topics[report.command_topic]["type"]
    events: list[tuple[int, int, Any]] = []  # (stamp, order, item)
    for m in raw:
        if m.topic not in (report.camera_topic, report.command_topic):
            continue
        try:
            msg = store.deserialize_cdr(m.data, m.msgtype)
        except Exception as err:  # rosbags raises assorted errors on bad CDR
            report.warnings.append(f"{path}: topic {m.topic}: undecodable {m.msgtype} at log time {m.log_time} ({err}); skipped")
            continue
        stamp = messages.stamp_ns(msg.header)
        if m.topic == report.camera_topic:
            events.append((stamp, 0, Frame(stamp, bytes(msg.data))))
        elif command_type == messages.WHEELS_CMD:
            v, omega = wheels_to_twist(msg.vel_left, msg.vel_right, kinematics)
            events.append((stamp, 1, Command(stamp, v, omega)))
        else:
            events.append((stamp, 1, Command(stamp, msg.twist.linear.x, msg.twist.angular.z)))
    backwards = _count_backwards(events)
    if backwards:
        report.warnings.append(f"{path}: field header.stamp goes backwards {backwards} time(s) on "
                               f"{report.camera_topic} / {report.command_topic}; out-of-order steps dropped")
    pairer = StampPairer(pairing)
    pairs = []
    for _, _, item in events:  # arrival (log) order, as the robot's logger saw them
        pairs += pairer.add_frame(item) if isinstance(item, Frame) else pairer.add_command(item)
    pairer.flush()
    report.pairing = pairer.stats.summary()
    report.step_gaps_s = pairer.stats.step_gaps_s
    images = decode_frames([p.frame.payload for p in pairs], preprocess, workers)
    return _to_sequences(pairs, images, kinematics, report, preprocess), report


def _count_backwards(events: list[tuple[int, int, Any]]) -> int:
    count, last = 0, {0: -1, 1: -1}
    for stamp, kind, _ in events:
        if stamp < last[kind]:
            count += 1
        last[kind] = max(last[kind], stamp)
    return count


def _to_sequences(pairs, images, kinematics: KinematicsConfig, report: BagReport, preprocess: PreprocessConfig) -> SequenceData:
    """Rows per SequenceData's convention; a corrupt frame ends its episode (the next frame starts one)."""
    rows_img, rows_act, rows_first = [], [], []
    prev_action = None
    for pair, image in zip(pairs, images):
        if image is None:
            report.corrupt_frames += 1
            prev_action = None
            continue
        first = pair.first or prev_action is None
        rows_img.append(image)
        rows_act.append(np.zeros(2, np.float32) if first else prev_action)
        rows_first.append(first)
        prev_action = np.clip(twist_to_action(pair.command.v, pair.command.omega, kinematics), -1, 1).astype(np.float32)
    n = len(rows_img)
    shape = preprocess.out_shape
    return SequenceData(
        image=np.stack(rows_img) if n else np.zeros((0, *shape), np.uint8),
        action=np.stack(rows_act) if n else np.zeros((0, 2), np.float32),
        reward=np.zeros(n, np.float32),  # reward-free: real data carries no reward labels
        is_first=np.array(rows_first, bool),
        is_terminal=np.zeros(n, bool),
    )
