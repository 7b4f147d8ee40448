"""Opening recordings: which bags a path holds, and every message of one bag, read up to any damage.

Reads rosbag2 (mcap or sqlite3) and ROS 1 bags with rosbags; a damaged mcap is read record by record up
to the damage. One error path: whatever the OS or a library raises while stat-ing, walking or opening an
input becomes a `BagError` saying `<file>: <reason>` (symbolic link loop, permission denied, not an MCAP
file, ...). The counts read are checked against what the container itself records (metadata.yaml, the
MCAP summary, the SQLite tables, the ROS 1 index) and any shortfall is said, naming which figure is which.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from redraw_logger import messages

STORAGE_SUFFIXES = (".mcap", ".db3")
MAGIC = {  # what each kind of file starts with
    ".mcap": (b"\x89MCAP0\r\n", "not an MCAP file (bad magic)"),
    ".db3": (b"SQLite format 3\x00", "not an SQLite file (bad magic)"),
    ".bag": (b"#ROSBAG V2.0\n", "not a ROS 1 bag (bad magic)"),
}


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
    damaged: bool = False  # the container itself is damaged (truncated, unusable metadata, files missing)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def damage(self, text: str) -> None:
        """A warning about the container itself: the bag is marked damaged."""
        self.warnings.append(text)
        self.damaged = True


@dataclass
class RawMessage:
    topic: str
    msgtype: str
    log_time: int
    data: bytes


Deserialize = Callable[[bytes, str], Any]


@dataclass(frozen=True)
class Bag:
    """One recording: a rosbag2 folder (with or without metadata.yaml), a group of split storage files of
    one recording, a lone .mcap/.db3, or a ROS 1 .bag. `files` are the data files read."""

    path: Path
    kind: str  # "rosbag2" or "ros1"
    files: tuple[Path, ...]
    metadata: bool = False  # a rosbag2 folder with metadata.yaml

    def __str__(self) -> str:
        return str(self.path)

    @property
    def name(self) -> str:
        return self.path.name


# ---------------------------------------------------------------- one error path for the OS

def os_reason(err: OSError) -> str:
    if err.errno == errno.ELOOP:
        return "symbolic link loop (too many levels of symbolic links)"
    if err.errno in (errno.EACCES, errno.EPERM):
        return "permission denied (this user cannot read it)"
    if err.errno == errno.ENOENT:
        return "no such file or directory"
    return (err.strerror or str(err)).lower()


@contextmanager
def guarded(path: Path | str) -> Iterator[None]:
    """Anything the OS raises inside becomes one BagError naming the file involved and the reason."""
    try:
        yield
    except OSError as err:
        raise BagError(f"{err.filename or path}: {os_reason(err)}") from None


def _stat(path: Path) -> os.stat_result:
    with guarded(path):
        return os.stat(path)


def normalise(topic: str) -> str:
    return "/" + topic.lstrip("/")


# ---------------------------------------------------------------- which bags a path holds

def _split_group(file: Path) -> str:
    """rosbag2 names split files <bag>_<index>.<ext>: files differing only in the index are one recording."""
    return re.sub(r"_\d+$", "", file.stem) + file.suffix


def _bags_in(folder: Path) -> list[Bag]:
    with guarded(folder):
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    files, dirs = [], []
    for entry in entries:
        path = Path(entry.path)
        if entry.name == "metadata.yaml" or path.suffix in (*STORAGE_SUFFIXES, ".bag"):
            mode = _stat(path).st_mode  # a link loop or an unreadable link says so here
            (files if stat.S_ISREG(mode) else dirs if stat.S_ISDIR(mode) else []).append(path)
        else:
            with guarded(path):
                if entry.is_dir(follow_symlinks=False):
                    dirs.append(path)
    storage = [f for f in files if f.suffix in STORAGE_SUFFIXES]
    bags: list[Bag] = []
    if any(f.name == "metadata.yaml" for f in files):
        bags.append(Bag(folder, "rosbag2", tuple(storage), metadata=True))
    elif storage:
        groups: dict[str, list[Path]] = {}
        for f in storage:
            groups.setdefault(_split_group(f), []).append(f)
        if len(groups) == 1:
            bags.append(Bag(folder, "rosbag2", tuple(storage)))
        else:
            bags += [Bag(group[0] if len(group) == 1 else folder / key, "rosbag2", tuple(group))
                     for key, group in groups.items()]
    bags += [Bag(f, "ros1", (f,)) for f in files if f.suffix == ".bag"]
    if not bags or all(b.kind == "ros1" for b in bags):  # not a rosbag2 folder: look below
        for d in dirs:
            bags += _bags_in(d)
    return bags


def list_bags(path: Path | str) -> list[Bag]:
    """The bags `path` holds: itself if it is one (rosbag2 folder or file, ROS 1 .bag), else every bag below.

    Raises BagError for a path that cannot be walked (missing, a link loop, not readable) or a file that is
    not a bag by its name."""
    path = Path(path)
    mode = _stat(path).st_mode
    if stat.S_ISDIR(mode):
        return _bags_in(path)
    if path.suffix not in (*STORAGE_SUFFIXES, ".bag"):
        raise BagError(f"{path}: not a bag file (expected a ROS 1 .bag, a rosbag2 .mcap/.db3 or a rosbag2 directory)")
    return [Bag(path, "ros1" if path.suffix == ".bag" else "rosbag2", (path,))]


def find_bags(path: Path | str) -> list[Bag]:
    """Every bag `path` holds (see `list_bags`); an empty list where there is none."""
    return list_bags(path)


def one_bag(path: Path | str | Bag) -> Bag:
    """The single bag at `path`; a BagError naming them when there are none or several."""
    if isinstance(path, Bag):
        return path
    bags = list_bags(path)
    if not bags:
        raise no_bag_here(path)
    if len(bags) > 1:
        raise several_bags(path, bags)
    return bags[0]


def no_bag_here(path: Path | str) -> BagError:
    return BagError(f"{path}: no bag here (expected a rosbag2 directory with metadata.yaml or *.mcap / *.db3, "
                    "or a ROS 1 .bag file)")


def several_bags(path: Path | str, bags: list[Bag]) -> BagError:
    root = Path(path)
    names = ", ".join(f"{b.path.relative_to(root) if b.path != root else b.path.name} ({b.kind})" for b in bags)
    return BagError(f"{path}: holds {len(bags)} bags: {names}; give one bag per path "
                    f"(e.g. redraw bag convert {' '.join(str(b.path) for b in bags[:2])} --out data.npz)")


# ---------------------------------------------------------------- what a file is

def check_files(bag: Bag) -> list[Path]:
    """The bag's data files that hold something; a BagError saying what a file is when it is not a bag."""
    if not bag.files and not bag.metadata:
        raise no_bag_here(bag.path)
    sizes = {f: _stat(f).st_size for f in bag.files}
    if bag.files and not any(sizes.values()):
        raise BagError(f"{bag.path}: 0 bytes; not a bag")
    for f in bag.files:
        if not sizes[f]:
            continue
        magic, what = MAGIC[f.suffix]
        with guarded(f), open(f, "rb") as handle:  # permission denied is said here, before any reader
            head = handle.read(len(magic))
        if head != magic:
            raise BagError(f"{f}: {what}")
    return [f for f in bag.files if sizes[f]]


def load_metadata(folder: Path) -> tuple[dict[str, Any] | None, str]:
    """metadata.yaml's `rosbag2_bagfile_information`, or None and why it cannot be used (one line)."""
    import yaml

    meta = folder / "metadata.yaml"
    with guarded(meta):
        text = meta.read_text(errors="replace")
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        return None, f"{meta}: metadata.yaml is not valid YAML" + (f" (line {mark.line + 1})" if mark else "")
    info = doc.get("rosbag2_bagfile_information") if isinstance(doc, dict) else None
    if not isinstance(info, dict):
        return None, f"{meta}: metadata.yaml has no rosbag2_bagfile_information"
    missing = [p for p in info.get("relative_file_paths") or [] if not (folder / str(p)).exists()]
    if missing:
        return None, f"{meta}: {len(missing)} split file(s) missing ({', '.join(map(str, missing))})"
    return info, ""


# ---------------------------------------------------------------- reading

def read_raw(path: Path | str | Bag, report: BagReport) -> tuple[list[RawMessage], Deserialize]:
    """Every message of one bag and a function that decodes one with the bag's own definitions.

    A damaged mcap is read record by record up to the damage; metadata.yaml that cannot be used, or whose
    topics do not match the storage file's, is passed over for the storage files themselves. Every such
    step is a warning (or a notice) in `report`; anything unreadable raises BagError saying why.
    """
    bag = one_bag(path)
    files = check_files(bag)
    recorded: dict[str, dict[str, int]] = {}  # source -> topic -> count the container records
    if bag.metadata:
        info, why = load_metadata(bag.path)
        if info is not None:
            recorded["metadata.yaml"] = _metadata_counts(info)
            try:
                out, deserialize, fmt, _ = _any_reader([bag.path], report)
            except Exception:  # noqa: BLE001 (the storage files are read below, saying what is wrong)
                out = None
            if out is not None and len(out) >= sum(recorded["metadata.yaml"].values()):
                report.format = fmt
                return out, deserialize
            if out is not None and files:
                through = len(out)
                out, deserialize = _read_files(bag, files, report, recorded)
                report.notices.append(
                    f"{bag.path}: metadata.yaml records {sum(recorded['metadata.yaml'].values())} messages, but "
                    f"{through} were read through it ({_disagreement(bag.path, files)}); read the storage "
                    f"file(s) directly: {len(out)} messages")
                _check_counts(bag, out, recorded, report)
                return out, deserialize
        elif not files:
            raise BagError(f"{why}; no data file to read")
        else:
            report.damage(f"{why}; read the {len(files)} storage file(s) directly")
    elif bag.kind == "rosbag2" and bag.path.is_dir():
        report.damage(f"{bag.path}: no metadata.yaml; read the {len(files)} {_kinds(files)} file(s) directly")
    if not files:
        raise BagError(f"{bag.path}: metadata.yaml lists no data file here")
    out, deserialize = _read_files(bag, files, report, recorded)
    _check_counts(bag, out, recorded, report)
    return out, deserialize


def _kinds(files: list[Path]) -> str:
    return "/".join(sorted({f.suffix for f in files}))


def _any_reader(paths: list[Path], report: BagReport) -> tuple[list[RawMessage], Deserialize, str, dict[str, int]]:
    """Messages, decoder, format and (ROS 1 only: its index's) message count per topic."""
    from rosbags.highlevel import AnyReader

    with AnyReader(paths, default_typestore=messages.typestore()) as reader:
        index: Counter[str] = Counter()
        for c in reader.connections:
            report.topics.setdefault(normalise(c.topic), {"type": c.msgtype, "count": 0})
            if not reader.is2:
                index[normalise(c.topic)] += c.msgcount
        out = [RawMessage(normalise(c.topic), c.msgtype, t, bytes(d)) for c, t, d in reader.messages()]
        return out, _deserializer(reader.typestore, reader.is2), "rosbag2" if reader.is2 else "ros1", dict(index)


def _read_files(bag: Bag, files: list[Path], report: BagReport,
                recorded: dict[str, dict[str, int]]) -> tuple[list[RawMessage], Deserialize]:
    """The storage files (or the ROS 1 bag) without metadata.yaml; a damaged mcap is salvaged."""
    try:
        out, deserialize, report.format, index = _any_reader(files, report)
        if index:
            recorded["the ROS 1 index"] = index
        return out, deserialize
    except Exception as err:  # noqa: BLE001 (rosbags raises several error types for damaged bags)
        reason = f"{type(err).__name__}: {err}".splitlines()[0]
        mcaps = [f for f in files if f.suffix == ".mcap"]
        if not mcaps:
            raise BagError(f"{bag.path}: cannot read bag ({reason})") from None
    report.format = "rosbag2"
    out = []
    for mcap in mcaps:
        out += _stream_mcap(mcap, report)
    if not out:
        raise BagError(f"{bag.path}: not a readable MCAP file ({reason})")
    for m in out:
        report.topics.setdefault(m.topic, {"type": m.msgtype, "count": 0})
    return out, messages.typestore().deserialize_cdr


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
    with guarded(path), open(path, "rb") as stream:
        reader = NonSeekingReader(stream)
        try:
            for schema, channel, message in reader.iter_messages(log_time_order=False):
                out.append(RawMessage(normalise(channel.topic), schema.name if schema else "", message.log_time,
                                      bytes(message.data)))
        except (McapError, EOFError, ValueError, OSError, KeyError, AssertionError) as err:
            if out:
                report.damage(f"{path}: truncated after {len(out)} messages ({type(err).__name__}); "
                              "kept the first part")
    return out


# ---------------------------------------------------------------- counts the container records

def _metadata_counts(info: dict[str, Any]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for entry in info.get("topics_with_message_count") or []:
        try:
            counts[normalise(entry["topic_metadata"]["name"])] += int(entry["message_count"])
        except (KeyError, TypeError, ValueError):
            continue
    return dict(counts)


def _file_counts(f: Path) -> dict[str, int] | None:
    """Messages per topic as the file's own index records (MCAP summary, SQLite tables); None if unknown."""
    try:
        if f.suffix == ".mcap":
            from mcap.reader import make_reader

            with open(f, "rb") as handle:
                summary = make_reader(handle).get_summary()
            if summary is None or summary.statistics is None:
                return None
            counts: Counter[str] = Counter()
            for cid, n in summary.statistics.channel_message_counts.items():
                counts[normalise(summary.channels[cid].topic)] += n
            return dict(counts)
        import sqlite3

        with sqlite3.connect(f"{f.resolve().as_uri()}?mode=ro&immutable=1", uri=True) as db:
            rows = db.execute("SELECT topics.name, count(messages.id) FROM topics LEFT JOIN messages "
                              "ON topics.id = messages.topic_id GROUP BY topics.id").fetchall()
        counts = Counter()
        for name, n in rows:
            counts[normalise(name)] += n
        return dict(counts)
    except Exception:  # noqa: BLE001 (no index to compare with: nothing to say)
        return None


def _check_counts(bag: Bag, out: list[RawMessage], recorded: dict[str, dict[str, int]], report: BagReport) -> None:
    """Where fewer messages were read than the container records, say so, naming each figure's source."""
    if bag.kind == "rosbag2":
        per_file = [_file_counts(f) for f in bag.files]
        if per_file and all(c is not None for c in per_file):
            total: Counter[str] = Counter()
            for c in per_file:
                total.update(c)
            recorded["the " + ("MCAP summary" if _kinds(list(bag.files)) == ".mcap" else "storage index")] = dict(total)
    read = Counter(m.topic for m in out)
    for source, counts in recorded.items():
        short = {t: (read.get(t, 0), n) for t, n in counts.items() if read.get(t, 0) < n}
        if short:
            detail = ", ".join(f"{t} {got} of {n}" for t, (got, n) in sorted(short.items()))
            report.damage(f"{bag.path}: {source} records {sum(counts.values())} messages, {len(out)} were read "
                          f"(read of recorded: {detail})")


def _disagreement(folder: Path, files: list[Path]) -> str:
    """Why rosbags matched no storage topic to metadata.yaml's: which field of the topics differs."""
    from rosbags.rosbag2 import Reader

    try:
        with Reader(folder) as meta_reader:
            listed = {(c.topic, c.msgtype): c.ext for c in meta_reader.connections}
        stored = {}
        for f in files:
            with Reader(f) as file_reader:
                stored.update({(c.topic, c.msgtype): c.ext for c in file_reader.connections})
    except Exception:  # noqa: BLE001
        return "its topics do not match the storage file's"
    fields = set()
    for key, ext in listed.items():
        other = stored.get(key)
        if other is None:
            fields.add("topic names or types")
        elif other.serialization_format != ext.serialization_format:
            fields.add("serialization formats")
        elif other.offered_qos_profiles != ext.offered_qos_profiles:
            fields.add("QoS profiles (offered_qos_profiles)")
    what = " and ".join(sorted(fields)) or "topics"
    return f"metadata.yaml and the storage file disagree on the topics' {what}, so rosbags matched no message to them"
