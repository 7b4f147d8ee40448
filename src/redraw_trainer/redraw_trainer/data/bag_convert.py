"""Pairing a bag's frames with its commands and converting them to training arrays (cached by content).

Frames and commands are paired by `redraw_logger.pairing` (the robot logger's own code), JPEGs decoded
through `redraw_perception` in worker processes. The input is only ever read: results are cached by
content in a user cache directory, never inside the bag.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import os
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np

from redraw_logger import messages
from redraw_logger.pairing import RecordedCommand, Frame, Pair, PairingConfig, StampPairer
from redraw_perception import PreprocessConfig, PreprocessError
from redraw_perception.errors import Reject
from redraw_perception.preprocess import preprocess_many
from redraw_policy.kinematics import KinematicsConfig, twist_to_action, wheels_to_twist
from redraw_trainer.data.bag_open import (Bag, BagError, BagReport, guarded, list_bags, no_bag_here, normalise,
                                          one_bag, read_raw)
from redraw_trainer.data.bag_topics import CAMERA_TYPES, COMMAND_TYPES, count_messages, pick_topic
from redraw_trainer.data.sequences import SequenceData

SHOWN_EXAMPLES = 3  # skip reasons: how many examples a report keeps
Decoded = np.ndarray | PreprocessError  # a model input, or why the frame cannot be one


def _decode_chunk(args: tuple[dict[str, Any], list[bytes]]) -> list[Decoded]:
    return preprocess_many(*args)


def decode_frames(payloads: list[bytes], preprocess: PreprocessConfig, workers: int = 2, chunk: int = 256) -> list[Decoded]:
    """Preprocess JPEGs in `workers` processes (a PreprocessError, with its typed reason, where a frame
    cannot be used). The pool forks (cheap: no re-import, no `__main__` guard needed) on Linux; decoding touches
    only OpenCV and NumPy. OpenCV is kept single-threaded in this process too, before any decode: a child
    forked from a process whose OpenCV thread pool had run can block for ever in `cv2.setNumThreads`.
    """
    _single_threaded()
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


def _cache_key(path: Path, bags: list[Bag], *parts: Any) -> str:
    h = hashlib.sha256(str(path.resolve()).encode())
    for bag in bags:
        files = list(bag.files) + ([bag.path / "metadata.yaml"] if bag.metadata else [])
        for f in files:
            with guarded(f):
                st = f.stat()
            h.update(f"{f}:{st.st_size}:{st.st_mtime_ns}".encode())
    h.update(json.dumps(parts, sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


def read_bag(
    path: str | Path | Bag,
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
    """Bag (or a directory of bags, concatenated) -> (SequenceData, BagReport). The data may have 0 rows:
    see `require_rows`.

    `frame_size` (width, height): the camera's frame size when it differs from the preprocessing's
    (the same crop fractions are applied, then the frame is resized to the model input).
    `labels_topic`: simulator recordings only, the per-frame reward/terminal labels (for an oracle);
    without it every row is reward-free, as real data is.
    """
    bags = [path] if isinstance(path, Bag) else list_bags(path)
    path = path.path if isinstance(path, Bag) else Path(path)
    if not bags:
        raise no_bag_here(path)
    if frame_size is not None:
        w, h = (int(v) for v in frame_size)
        if w <= 0 or h <= 0:
            raise BagError(f"--frame-size {w}x{h}: width and height must be positive (e.g. 640x480)")
        preprocess = replace(preprocess, frame_width=w, frame_height=h)
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    key = _cache_key(path, bags, preprocess.to_dict(), asdict(kinematics), asdict(pairing), camera_topic, command_topic,
                     labels_topic)
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
    report = merge_reports(path, reports)
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


def merge_reports(path: Path, reports: list[BagReport]) -> BagReport:
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
        merged.damaged |= r.damaged
    return merged


def read_pairs(path: Path | Bag, kinematics: KinematicsConfig, pairing: PairingConfig, camera_topic: str | None,
               command_topic: str | None, labels_topic: str | None = None) -> tuple[list[Pair], BagReport, dict[int, dict]]:
    """One bag -> (frame/command pairs in stamp order, report, labels by stamp from `labels_topic`).

    Frame payloads are the raw JPEG bytes; labels stay empty without a labels topic (real data).
    """
    bag = one_bag(path)
    path = bag.path
    report = BagReport(str(path))
    raw, deserialize = read_raw(bag, report)
    labels: dict[int, dict] = {}
    if labels_topic:
        for m in raw:
            if m.topic == normalise(labels_topic):
                payload = json.loads(deserialize(m.data, m.msgtype).data)
                labels[int(payload["stamp_ns"])] = payload
        if not labels:
            raise BagError(f"{path}: no labels on topic '{labels_topic}' (a simulator recording has them; real data does not)")
    count_messages(raw, report)
    report.camera_topic = pick_topic(report, camera_topic, CAMERA_TYPES, "camera", path, "--camera-topic")
    try:
        report.command_topic = pick_topic(report, command_topic, COMMAND_TYPES, "command", path, "--cmd-topic")
    except BagError as err:  # the choice of camera made so far is still said
        raise BagError("; ".join([str(err), *(f"note: {n}" for n in report.notices)])) from None
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
            events.append((stamp, 1, RecordedCommand(stamp, *wheels_to_twist(msg.vel_left, msg.vel_right, kinematics))))
        elif command_type == messages.TWIST2D:
            events.append((stamp, 1, RecordedCommand(stamp, float(msg.v), float(msg.omega))))
        else:
            events.append((stamp, 1, RecordedCommand(stamp, msg.twist.linear.x, msg.twist.angular.z)))
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


def _read_one(bag: Bag, preprocess: PreprocessConfig, kinematics: KinematicsConfig, pairing: PairingConfig,
              camera_topic: str | None, command_topic: str | None, workers: int,
              labels_topic: str | None = None) -> tuple[SequenceData, BagReport]:
    pairs, report, labels = read_pairs(bag, kinematics, pairing, camera_topic, command_topic, labels_topic)
    images = decode_frames([p.frame.payload for p in pairs], preprocess, workers)
    _check_frame_sizes(images, preprocess, report, bag.path)
    return _to_sequences(pairs, images, kinematics, report, preprocess, labels), report


def _check_frame_sizes(images: list[Decoded], preprocess: PreprocessConfig, report: BagReport, path: Path) -> None:
    """Every frame of another size than the preprocessing's: a clear error naming both and the option."""
    sizes = Counter(img.size for img in images if isinstance(img, PreprocessError) and img.reason is Reject.FRAME_SIZE)
    if images and sum(sizes.values()) == len(images):
        (w, h), _ = sizes.most_common(1)[0]
        raise BagError(f"{path}: topic {report.camera_topic}: every frame is about {w}x{h}, the preprocessing expects "
                       f"{preprocess.frame_width}x{preprocess.frame_height}; if this camera records {w}x{h}, pass "
                       f"--frame-size {w}x{h} (same crop fractions, resized to the model input)")


def _skip_kind(err: PreprocessError) -> str:
    """What a skipped frame is counted under: its typed reason (with the sizes for a wrong frame size)."""
    if err.reason is Reject.FRAME_SIZE and err.size and err.expected:
        return f"frame size {err.size[0]}x{err.size[1]} (expected {err.expected[0]}x{err.expected[1]})"
    if err.reason is Reject.UNDECODABLE:
        return "image payload is not a decodable JPEG"
    return str(err)


def _count_backwards(events: list[tuple[int, int, Any]]) -> int:
    count, last = 0, {0: -1, 1: -1}
    for stamp, kind, _ in events:
        if stamp < last[kind]:
            count += 1
        last[kind] = max(last[kind], stamp)
    return count


def _to_sequences(pairs: list[Pair], images: list[Decoded], kinematics: KinematicsConfig, report: BagReport,
                  preprocess: PreprocessConfig, labels: dict[int, dict] | None = None) -> SequenceData:
    """Rows per SequenceData's convention; an unusable frame ends its episode (the next frame starts one).

    With `labels` (simulator recordings), each row gets the reward and termination of arriving at its frame.
    """
    rows_img, rows_act, rows_first, rows_reward, rows_terminal = [], [], [], [], []
    missing_labels = 0
    prev_action = None
    for pair, image in zip(pairs, images):
        if isinstance(image, PreprocessError):
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
