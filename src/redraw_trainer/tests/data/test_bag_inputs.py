"""Foreign and damaged recordings through the `redraw` command line: ROS 1 Duckietown bags, a corpus of
bad inputs (each a one-line reason or an honest report, never a traceback, and the input left
untouched), and offline replay of a policy over a bag."""

from __future__ import annotations

import hashlib
import io
import multiprocessing as mp
import os
import pwd
import shutil
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from rosbags.rosbag1 import Writer as Writer1
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_types_from_msg, get_typestore

from redraw_logger import messages
from redraw_logger.recorder import EpisodeRecorder
from redraw_policy.kinematics import KinematicsConfig, twist_to_wheels
from redraw_testing.onnx_models import make_onnx_policy
from redraw_testing.scenes import jpeg, road_frame
from redraw_trainer.cli import main
from redraw_trainer.data.bags import read_bag
from redraw_trainer.core.config import DuckietownConfig

MS = 1_000_000
T0 = 5_000 * MS
KIN = DuckietownConfig().kinematics  # what the command line converts with


def frames(n: int, size: tuple[int, int] = (640, 480)) -> list[bytes]:
    return [jpeg(road_frame(*size, shift=0.004 * i)) for i in range(n)]


def steps(n: int = 30):
    """(frame stamp, command stamp, v, omega) of a 10 Hz drive with a varied command."""
    return [(T0 + i * 100 * MS, T0 + i * 100 * MS + 3 * MS, 0.1 + 0.01 * (i % 5), 0.5 * (i % 3 - 1)) for i in range(n)]


# ---------------------------------------------------------------- writers of real bags

def ros2_bag(out: Path, n: int = 30, camera: str = "/duckiebot/image/compressed", payloads: list[bytes] | None = None,
             command: str | None = "/duckiebot/wheels_cmd_executed", wheels: bool = True, stamp_shift: int = 0,
             extra: list[tuple[str, list[bytes]]] = (), storage=StoragePlugin.MCAP, stamps=None) -> Path:
    """A `ros2 bag record` of a camera and (Duckietown wheel or Twist) commands; every message is real CDR."""
    store = messages.typestore()
    writer = Writer(out, version=8, storage_plugin=storage)
    writer.open()
    cam = writer.add_connection(camera, messages.COMPRESSED_IMAGE, typestore=store) if camera else None
    cmd_type = messages.WHEELS_CMD if wheels else messages.TWIST_STAMPED
    cmd = writer.add_connection(command, cmd_type, typestore=store) if command else None
    others = [(writer.add_connection(t, messages.COMPRESSED_IMAGE, typestore=store), data) for t, data in extra]
    payloads = payloads or frames(n)
    for i, (fs, cs, v, w) in enumerate(stamps or steps(n)):
        received = 100 * 10**9 + i * 100 * MS  # log time: when the recorder got it (always increasing)
        if cam:
            writer.write(cam, received, messages.compressed_image(fs, payloads[i % len(payloads)]))
        for conn, data in others:
            writer.write(conn, received + MS, messages.compressed_image(fs + MS, data[i % len(data)]))
        if cmd:
            cs += stamp_shift
            payload = messages.wheels_cmd(cs, *twist_to_wheels(v, w, KIN)) if wheels else messages.twist_stamped(cs, v, w)
            writer.write(cmd, received + 4 * MS, payload)
    writer.close()
    return out


DUCKIETOWN_ROS1 = {  # Duckietown's ROS 1 definitions (duckietown_msgs), Header with seq as ROS 1 has it
    "duckietown_msgs/msg/WheelsCmdStamped": "Header header\nfloat32 vel_left\nfloat32 vel_right\n",
    "duckietown_msgs/msg/Twist2DStamped": "Header header\nfloat32 v\nfloat32 omega\n",
}


def ros1_bag(out: Path, n: int = 30, command: str = "wheels") -> Path:
    """What the Duckietown daffy stack records: ROS 1 CompressedImage + WheelsCmdStamped or Twist2DStamped."""
    store = get_typestore(Stores.ROS1_NOETIC)
    for name, text in DUCKIETOWN_ROS1.items():
        store.register(get_types_from_msg(text, name))
    T = store.types

    def header(stamp: int):
        return T["std_msgs/msg/Header"](seq=0, stamp=T["builtin_interfaces/msg/Time"](sec=stamp // 10**9, nanosec=stamp % 10**9),
                                        frame_id="")

    with Writer1(out) as writer:
        cam = writer.add_connection("/duckiebot/camera_node/image/compressed", "sensor_msgs/msg/CompressedImage", typestore=store)
        msgtype = "duckietown_msgs/msg/WheelsCmdStamped" if command == "wheels" else "duckietown_msgs/msg/Twist2DStamped"
        topic = "/duckiebot/wheels_driver_node/wheels_cmd_executed" if command == "wheels" else "/duckiebot/car_cmd_switch_node/cmd"
        cmd = writer.add_connection(topic, msgtype, typestore=store)
        payloads = frames(n)
        for i, (fs, cs, v, w) in enumerate(steps(n)):
            image = T["sensor_msgs/msg/CompressedImage"](header=header(fs), format="jpeg", data=np.frombuffer(payloads[i], np.uint8))
            writer.write(cam, fs, store.serialize_ros1(image, "sensor_msgs/msg/CompressedImage"))
            if command == "wheels":
                left, right = twist_to_wheels(v, w, KIN)
                message = T[msgtype](header=header(cs), vel_left=left, vel_right=right)
            else:
                message = T[msgtype](header=header(cs), v=v, omega=w)
            writer.write(cmd, cs + MS, store.serialize_ros1(message, msgtype))
    return out


# ---------------------------------------------------------------- helpers

def fingerprint(path: Path) -> dict[str, str]:
    """Every file under `path` (or the file itself) with the hash of its bytes."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return {str(f.relative_to(path.parent)): hashlib.sha256(f.read_bytes()).hexdigest() for f in files} if path.exists() else {}


def run(capsys, *argv: str) -> tuple[int, str]:
    code, out, err = run3(capsys, *argv)
    return code, out + err


def run3(capsys, *argv: str) -> tuple[int, str, str]:
    """Exit code, stdout, stderr; a failure (exit 2) is exactly one line on stderr, never a traceback."""
    code = main(list(argv))
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert "Traceback" not in text
    assert code in (0, 2), f"exit {code}: {text}"
    if code == 2:
        assert len(captured.err.strip().splitlines()) == 1, f"not one line:\n{captured.err}"
    return code, captured.out, captured.err


def error_reason(err: str) -> str:
    """The reason of a `redraw bag <command>: error: <reason>` line, whatever the command."""
    return err.strip().split(": error: ", 1)[1]


# ---------------------------------------------------------------- ROS 1

@pytest.mark.parametrize("command", ["wheels", "car_cmd"])
def test_ros1_duckietown_bag_gives_the_same_rows_as_the_equivalent_rosbag2(tmp_path, command):
    ros1 = ros1_bag(tmp_path / "daffy.bag", command=command)
    ros2 = ros2_bag(tmp_path / "ros2", wheels=command == "wheels", command="/duckiebot/cmd")
    data1, report1 = read_bag(ros1, kinematics=KIN, workers=1)
    data2, report2 = read_bag(ros2, kinematics=KIN, workers=1)
    assert report1.format == "ros1" and report2.format == "rosbag2"
    assert len(data1) == len(data2) == 30 and data1.num_episodes == 1
    np.testing.assert_array_equal(data1.image, data2.image)
    np.testing.assert_allclose(data1.action, data2.action, atol=1e-5)
    np.testing.assert_array_equal(data1.is_first, data2.is_first)
    assert report1.camera_topic == "/duckiebot/camera_node/image/compressed"


def test_ros1_bag_through_info_and_convert(tmp_path, capsys):
    bag = ros1_bag(tmp_path / "daffy.bag")
    before = fingerprint(bag)
    code, text = run(capsys, "bag", "info", str(bag))
    assert code == 0 and "(ros1)" in text and "duckietown_msgs/msg/WheelsCmdStamped" in text
    assert "dataset: 30 rows, 1 episodes" in text and "10.0Hz" in text
    code, text = run(capsys, "bag", "convert", str(bag), "--out", str(tmp_path / "d.npz"))
    assert code == 0 and (tmp_path / "d.npz").exists()
    assert fingerprint(bag) == before and sorted(os.listdir(tmp_path)) == ["bag-cache", "d.npz", "daffy.bag"]


# ---------------------------------------------------------------- the bad-input corpus

def _truncate(path: Path, fraction: float) -> Path:
    (mcap,) = path.rglob("*.mcap")
    with open(mcap, "r+b") as handle:
        handle.truncate(int(mcap.stat().st_size * fraction))
    return path


def _logger_bag(out: Path) -> Path:
    recorder = EpisodeRecorder(out)
    for fs, cs, v, w in steps(40):
        recorder.on_frame(fs, frames(1)[0])
        recorder.on_command(cs, v, w)
    recorder.close()
    return out / "redraw_0000"


def _split_without_metadata(out: Path) -> Path:
    a = ros2_bag(out / "tmp_a", n=20)
    b = ros2_bag(out / "tmp_b", n=20, stamps=[(fs + 10_000 * MS, cs + 10_000 * MS, v, w) for fs, cs, v, w in steps(20)])
    target = out / "split"
    target.mkdir()
    for i, src in enumerate((a, b)):
        (mcap,) = src.glob("*.mcap")
        mcap.rename(target / f"split_{i}.mcap")
    return target


def _without_data(bag: Path) -> Path:
    for mcap in bag.glob("*.mcap"):
        mcap.unlink()
    return bag


def _with(path: Path, write) -> Path:
    write(path)
    return path


def _symlink_pair(out: Path) -> Path:
    """Two .mcap names in one folder, each a symbolic link to the other."""
    out.mkdir()
    (out / "a.mcap").symlink_to("b.mcap")
    (out / "b.mcap").symlink_to("a.mcap")
    return out


def _self_loop(out: Path) -> Path:
    out.symlink_to(out.name)
    return out


TALKER_QOS_FILE = "deadline:\n    sec: 2147483647\n    nsec: 4294967295"  # what the storage file records


def talker_bag(out: Path, storage=StoragePlugin.MCAP) -> Path:
    """rosbag2's own `talker` test bags, re-created: 10 std_msgs/String on /topic, 10 rcl_interfaces/Log on
    /rosout, none on /parameter_events. As in the upstream bags, the storage file records each topic's QoS
    with "infinite" durations (2147483647 s, 4294967295 ns) while metadata.yaml writes them as 0: rosbags
    matches metadata topics to storage topics by type, serialization format *and* QoS, finds none,
    and yields no message at all."""
    from rosbags.interfaces import Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime

    forever = QosTime(sec=2147483647, nsec=4294967295)

    def qos(durability):
        return [Qos(history=QosHistory.UNKNOWN, depth=0, reliability=QosReliability.RELIABLE, durability=durability,
                    deadline=forever, lifespan=forever, liveliness=QosLiveliness.AUTOMATIC,
                    liveliness_lease_duration=forever, avoid_ros_namespace_conventions=False)]

    store = get_typestore(Stores.ROS2_JAZZY)
    T = store.types
    writer = Writer(out, version=8, storage_plugin=storage)
    writer.open()
    rosout = writer.add_connection("/rosout", "rcl_interfaces/msg/Log", typestore=store,
                                   offered_qos_profiles=qos(QosDurability.TRANSIENT_LOCAL))
    writer.add_connection("/parameter_events", "rcl_interfaces/msg/ParameterEvent", typestore=store,
                          offered_qos_profiles=qos(QosDurability.VOLATILE))
    topic = writer.add_connection("/topic", "std_msgs/msg/String", typestore=store,
                                  offered_qos_profiles=qos(QosDurability.VOLATILE))
    t0 = 1_585_866_235_112_411_371
    for i in range(10):
        t = t0 + i * 500 * MS
        stamp = T["builtin_interfaces/msg/Time"](sec=t // 10**9, nanosec=t % 10**9)
        log = T["rcl_interfaces/msg/Log"](stamp=stamp, level=20, name="talker", msg=f"Publishing: 'Hello, world! {i}'",
                                          file="talker.cpp", function="operator()", line=41)
        writer.write(rosout, t, store.serialize_cdr(log, "rcl_interfaces/msg/Log"))
        writer.write(topic, t + MS // 5, store.serialize_cdr(T["std_msgs/msg/String"](data=f"Hello, world! {i}"),
                                                            "std_msgs/msg/String"))
    writer.close()
    meta = out / "metadata.yaml"
    text = meta.read_text()
    assert "2147483647" in text
    meta.write_text(text.replace("2147483647", "0").replace("4294967295", "0"))  # metadata.yaml's zeros
    return out


def _with_missing_split(bag: Path) -> Path:
    """metadata.yaml lists a second split file that is not there."""
    meta = yaml.safe_load((bag / "metadata.yaml").read_text())
    files = meta["rosbag2_bagfile_information"]["relative_file_paths"]
    files.append(files[0].replace(".mcap", "_1.mcap"))
    (bag / "metadata.yaml").write_text(yaml.safe_dump(meta))
    return bag


def _two_bags(out: Path, kind: str) -> Path:
    """A folder holding a ROS 1 bag and a rosbag2 bag, or two unrelated rosbag2 bags: one records the
    camera only, the other the commands only (merged, they would look trainable)."""
    out.mkdir()
    if kind == "ros1+ros2":
        ros1_bag(out / "daffy.bag")
        ros2_bag(out / "camera_only", command=None)
    else:
        ros2_bag(out / "camera_only", command=None)
        ros2_bag(out / "commands_only", camera=None)
    return out


def _text_folder(out: Path) -> Path:
    out.mkdir()
    (out / "notes.txt").write_text("not a bag\n")
    (out / "sub").mkdir()
    (out / "sub" / "readme.md").write_text("# nothing\n")
    return out


CORPUS = {
    # name: (make(tmp) -> input path, info exit code, convert exit code, text the user must see)
    "zero-byte mcap": (lambda t: _with(t / "empty.mcap", lambda p: p.write_bytes(b"")), 2, 2, "0 bytes; not a bag"),
    "random-bytes mcap": (lambda t: _with(t / "noise.mcap", lambda p: p.write_bytes(np.random.default_rng(0).bytes(5000))),
                          2, 2, "noise.mcap: not an MCAP file (bad magic)"),
    "truncated mcap": (lambda t: _truncate(_logger_bag(t / "cut"), 0.6), 0, 0, "kept the first part"),
    "mcap cut to its header": (lambda t: _truncate(_logger_bag(t / "cut"), 0.002), 2, 2, "not a readable MCAP file"),
    "missing data file": (lambda t: _without_data(ros2_bag(t / "b")), 2, 2, "1 split file(s) missing (b.mcap)"),
    "garbage metadata": (lambda t: _with(ros2_bag(t / "b"), lambda p: (p / "metadata.yaml").write_text("{not: [yaml")),
                         0, 0, "metadata.yaml is not valid YAML (line 1)"),
    "split files without metadata": (_split_without_metadata, 0, 0, "no metadata.yaml; read the 2 .mcap file(s) directly"),
    "ROS 1 bag": (lambda t: ros1_bag(t / "daffy.bag"), 0, 0, "(ros1)"),
    "truncated ROS 1 bag": (lambda t: _with(ros1_bag(t / "cut.bag"), lambda p: p.write_bytes(p.read_bytes()[:3000])),
                            2, 2, "cannot read bag"),
    "text file named .bag": (lambda t: _with(t / "notes.bag", lambda p: p.write_text("hello\n" * 100)), 2, 2,
                             "not a ROS 1 bag (bad magic)"),
    "random-bytes sqlite3": (lambda t: _with(t / "x.db3", lambda p: p.write_bytes(np.random.default_rng(1).bytes(4096))),
                             2, 2, "x.db3: not an SQLite file"),
    "wrong frame size": (lambda t: ros2_bag(t / "small", payloads=frames(4, (160, 120))), 0, 2,
                         "every frame is about 160x120, the preprocessing expects 640x480; if this camera records 160x120, "
                         "pass --frame-size 160x120"),
    "mixed frame sizes": (lambda t: ros2_bag(t / "mixed", payloads=frames(2) + frames(2, (160, 120))), 0, 0,
                          "skipped 14: frame size 160x120 (expected 640x480)"),
    "corrupt JPEGs only": (lambda t: ros2_bag(t / "junk", payloads=[b"\xff\xd8garbage"]), 0, 2,
                           "not a decodable JPEG: 30"),
    "no camera topic": (lambda t: ros2_bag(t / "nocam", camera=None), 0, 2, "training needs a camera topic"),
    "no command topic": (lambda t: ros2_bag(t / "nocmd", command=None), 0, 2, "training needs a command topic"),
    "unrelated topics only": (lambda t: ros2_bag(t / "other", camera=None, command=None, extra=[("/crops", frames(1, (28, 28)))]),
                              0, 2, "duckietown_msgs/msg/Twist2DStamped): MISSING"),
    "commands never within tolerance": (lambda t: ros2_bag(t / "late", stamp_shift=45 * MS), 0, 2,
                                        "no frame on /duckiebot/image/compressed was within the pairing tolerance"),
    "duplicate stamps": (lambda t: ros2_bag(t / "dup", stamps=[s for s in steps(15) for _ in range(2)]), 0, 0,
                         "out_of_order=15"),
    "out-of-order stamps": (lambda t: ros2_bag(t / "back", stamps=steps(30)[:20] + steps(30)[10:20]), 0, 0,
                            "header.stamp goes backwards"),
    "a crop stream beside the camera": (lambda t: ros2_bag(t / "crops", extra=[("/duckiebot/crops", frames(1, (28, 28)))]),
                                        0, 0, "camera: /duckiebot/image/compressed"),
    "only a non-standard camera topic": (lambda t: ros2_bag(t / "cam2", camera="/duckiebot/front/jpeg"), 0, 0,
                                         "camera topic /duckiebot/front/jpeg taken: no .../image/compressed topic"),
    "topic recorded without a leading slash": (lambda t: ros2_bag(t / "noslash", camera="duckiebot/image/compressed"),
                                               0, 0, "camera: /duckiebot/image/compressed"),
    "empty folder": (lambda t: _with(t / "nothing", lambda p: p.mkdir()), 2, 2, "no bag here"),
    "no such path": (lambda t: t / "missing", 2, 2, "no such file or directory"),
    # issue 26: every input gets an honest answer
    "symlink loop between two .mcap": (lambda t: _symlink_pair(t / "links"), 2, 2, "symbolic link loop"),
    "path that is a symlink loop": (lambda t: _self_loop(t / "loop"), 2, 2, "symbolic link loop"),
    "talker bag (mcap)": (lambda t: talker_bag(t / "talker"), 0, 2, "metadata.yaml records 20 messages"),
    "talker bag (sqlite3)": (lambda t: talker_bag(t / "talker", StoragePlugin.SQLITE3), 0, 2,
                             "metadata.yaml records 20 messages"),
    "half-truncated talker bag": (lambda t: _truncate(talker_bag(t / "talker"), 0.5), 0, 2, "DAMAGED"),
    "talker bag cut inside its data": (lambda t: _truncate(talker_bag(t / "talker"), 0.3), 2, 2,
                                       "not a readable MCAP file"),
    "metadata lists a missing split file": (lambda t: _with_missing_split(ros2_bag(t / "b")), 0, 0,
                                            "split file(s) missing"),
    "all-zero mcap": (lambda t: _with(t / "zeros.mcap", lambda p: p.write_bytes(bytes(4096))), 2, 2,
                      "not an MCAP file (bad magic)"),
    "random-bytes mcap in a folder": (lambda t: _with(t / "f", lambda p: (p.mkdir(), (p / "x.mcap").write_bytes(
        np.random.default_rng(2).bytes(5000)))), 2, 2, "x.mcap: not an MCAP file (bad magic)"),
    "all-zero sqlite3": (lambda t: _with(t / "zeros.db3", lambda p: p.write_bytes(bytes(4096))), 2, 2,
                         "not an SQLite file"),
    "folder of text files": (lambda t: _text_folder(t / "texts"), 2, 2, "no bag here"),
    "a ROS 1 and a rosbag2 bag in one folder": (lambda t: _two_bags(t / "both", "ros1+ros2"), 0, 2,
                                                "holds 2 bags"),
    "two unrelated rosbag2 bags in one folder": (lambda t: _two_bags(t / "two", "ros2+ros2"), 0, 2, "holds 2 bags"),
    "non-standard camera and no command": (lambda t: ros2_bag(t / "cam2", camera="/duckiebot/front/jpeg", command=None),
                                           0, 2, "camera topic /duckiebot/front/jpeg taken"),
}


@pytest.mark.parametrize("case", sorted(CORPUS))
def test_bad_input_gets_a_clear_answer_and_is_left_untouched(tmp_path, capsys, case):
    make, info_code, convert_code, expected = CORPUS[case]
    inputs = tmp_path / "in"
    inputs.mkdir()
    source = make(inputs)
    before = fingerprint(source)
    code_i, info_out, info_err = run3(capsys, "bag", "info", str(source), "--workers", "1")
    code_c, conv_out, conv_err = run3(capsys, "bag", "convert", str(source), "--out", str(tmp_path / "out.npz"),
                                      "--workers", "1")
    info, convert = info_out + info_err, conv_out + conv_err
    assert (code_i, code_c) == (info_code, convert_code), f"{case}: exit codes {code_i}, {code_c}\n{info}\n{convert}"
    assert expected in info + convert, f"{case}: expected {expected!r} in\n{info}\n{convert}"
    if code_i and code_c:  # info and convert agree on why
        assert error_reason(info_err) == error_reason(conv_err), f"{case}:\n{info_err}\n{conv_err}"
    if code_i == 0 and any(w in info for w in ("truncated after", "not valid YAML", "file(s) missing", "no metadata.yaml")):
        assert "DAMAGED" in info, f"{case}: damage found but not marked\n{info}"
    if code_c:  # a failure is one clear line that names the input
        (line,) = [line for line in convert.splitlines() if line.startswith("redraw bag convert: error:")]
        assert source.name in line or "tmp" in line
    assert (tmp_path / "out.npz").exists() == (code_c == 0)
    assert fingerprint(source) == before, f"{case}: the input changed"


def test_wrong_frame_size_converts_with_the_option_it_names(tmp_path, capsys):
    bag = ros2_bag(tmp_path / "small", payloads=frames(4, (160, 120)))
    code, text = run(capsys, "bag", "convert", str(bag), "--out", str(tmp_path / "d.npz"), "--frame-size", "160x120")
    assert code == 0 and "30 rows" in text and "frames read as 160x120" in text


def test_camera_topic_option_ignores_the_leading_slash(tmp_path, capsys):
    bag = ros2_bag(tmp_path / "b", extra=[("/duckiebot/other/image/compressed", frames(2))])
    for name in ("duckiebot/other/image/compressed", "/duckiebot/other/image/compressed"):
        code, text = run(capsys, "bag", "info", str(bag), "--camera-topic", name)
        assert code == 0 and "camera: /duckiebot/other/image/compressed" in text


def test_info_writes_its_plot_only_under_out(tmp_path, capsys):
    bag = ros2_bag(tmp_path / "b")
    code, _ = run(capsys, "bag", "info", str(bag), "--out", str(tmp_path / "plots"))
    assert code == 0 and (tmp_path / "plots" / "stamp_gaps.png").stat().st_size > 1000
    assert not (bag / "stamp_gaps.png").exists()


# ---------------------------------------------------------------- issue 26: counts, damage, several bags, access

@pytest.mark.parametrize("storage", [StoragePlugin.MCAP, StoragePlugin.SQLITE3])
def test_talker_bag_counts_are_true_and_say_which_figure_is_which(tmp_path, capsys, storage):
    from redraw_trainer.data.bags import inspect_bag

    bag = talker_bag(tmp_path / "talker", storage)
    report = inspect_bag(bag)
    assert {t: i["count"] for t, i in report.topics.items()} == {"/topic": 10, "/rosout": 10, "/parameter_events": 0}
    assert report.topics["/topic"]["duration_s"] == pytest.approx(4.5)
    code, text = run(capsys, "bag", "info", str(bag))
    (line,) = [line for line in text.splitlines() if line.strip().startswith("/topic ")]
    assert code == 0 and line.split()[2] == "10", text
    assert "metadata.yaml records 20 messages" in text and "QoS" in text


def test_half_truncated_talker_bag_is_marked_damaged_not_healthier(tmp_path, capsys):
    intact = talker_bag(tmp_path / "intact")
    cut = talker_bag(tmp_path / "cut")
    _truncate(cut, 0.5)  # the summary is gone, the messages are all there
    code_a, text_a = run(capsys, "bag", "info", str(intact))
    code_b, text_b = run(capsys, "bag", "info", str(cut))
    assert code_a == code_b == 0 and "DAMAGED" not in text_a and "DAMAGED" in text_b.splitlines()[0]
    assert "truncated after 20 messages" in text_b
    rows = [[line.split()[2] for line in text.splitlines() if line.strip().startswith(("/topic ", "/rosout "))]
            for text in (text_a, text_b)]
    assert rows[0] == rows[1] == ["10", "10"]


@pytest.mark.parametrize("damage, warning", [
    ("truncated", "kept the first part"),
    ("garbage metadata", "metadata.yaml is not valid YAML (line 1)"),
    ("missing split", "split file(s) missing"),
    ("no metadata", "no metadata.yaml; read the 2 .mcap file(s) directly"),
])
def test_info_prints_the_damage_the_inspection_found(tmp_path, capsys, damage, warning):
    make = {"truncated": lambda: _truncate(_logger_bag(tmp_path / "cut"), 0.6),
            "garbage metadata": lambda: _with(ros2_bag(tmp_path / "b"),
                                              lambda p: (p / "metadata.yaml").write_text("{not: [yaml")),
            "missing split": lambda: _with_missing_split(ros2_bag(tmp_path / "b")),
            "no metadata": lambda: _split_without_metadata(tmp_path)}[damage]
    code, out, err = run3(capsys, "bag", "info", str(make()), "--workers", "1")
    header = [line for line in out.splitlines() if line.startswith("bag: ")]
    assert code == 0 and len(header) == 1 and "DAMAGED" in header[0], out
    assert sum(warning in line for line in out.splitlines() if line.startswith("warning:")) == 1, out


def test_info_lists_each_bag_of_a_folder_and_never_mixes_their_topics(tmp_path, capsys):
    folder = _two_bags(tmp_path / "two", "ros2+ros2")
    code, out, _ = run3(capsys, "bag", "info", str(folder), "--workers", "1")
    headers = [line for line in out.splitlines() if line.startswith("bag: ")]
    assert code == 0 and len(headers) == 2 and "camera_only" in headers[0] and "commands_only" in headers[1], out
    assert not any(line.startswith("dataset:") for line in out.splitlines())
    assert out.count("training: this bag gives no dataset") == 2


def test_convert_takes_one_bag_per_path_and_lists_the_bags_of_a_folder(tmp_path, capsys):
    folder = tmp_path / "drives"
    folder.mkdir()
    a, b = ros2_bag(folder / "a"), ros1_bag(folder / "b.bag")
    code, _, err = run3(capsys, "bag", "convert", str(folder), "--out", str(tmp_path / "d.npz"))
    assert code == 2 and "holds 2 bags" in err and "a (rosbag2)" in err and "b.bag (ros1)" in err
    code, out, _ = run3(capsys, "bag", "convert", str(a), str(b), "--out", str(tmp_path / "d.npz"), "--workers", "1")
    assert code == 0 and "60 rows, 2 episodes" in out


@pytest.mark.parametrize("size", ["0x0", "640x0", "-640x480"])
def test_frame_size_option_is_named_when_it_is_wrong(tmp_path, capsys, size):
    bag = ros2_bag(tmp_path / "b", n=4)
    code, _, err = run3(capsys, "bag", "convert", str(bag), "--out", str(tmp_path / "d.npz"), f"--frame-size={size}")
    assert code == 2 and f"--frame-size {size}" in err and "positive" in err


def _as_nobody(argv: list[str], warm_up: list[str]) -> tuple[int, str]:
    """Run `redraw` in a forked child that drops root for `nobody` (root ignores file permissions).

    The interpreter lives under /root, which `nobody` cannot enter: the child runs `warm_up` as root
    first so every module is imported before it gives up its rights."""
    nobody = pwd.getpwnam("nobody")
    parent, child = mp.get_context("fork").Pipe()

    def target():
        sys.stdout = sys.stderr = io.StringIO()
        main(warm_up)
        sys.stdout = sys.stderr = buffer = io.StringIO()
        os.setgroups([])
        os.setgid(nobody.pw_gid)
        os.setuid(nobody.pw_uid)
        try:
            code = main(argv)
        except BaseException:  # noqa: BLE001 (reported to the parent, which fails the test)
            import traceback

            traceback.print_exc(file=buffer)
            code = 1
        child.send((code, buffer.getvalue()))

    process = mp.get_context("fork").Process(target=target)
    process.start()
    code, text = parent.recv() if parent.poll(120) else (None, "child gave no answer")
    process.join(10)
    return code, text


@pytest.mark.parametrize("kind", ["rosbag2 folder", "ROS 1 bag"])
def test_a_file_the_user_cannot_read_is_one_clear_line(kind):
    if os.geteuid() != 0:
        pytest.skip("needs root to drop to an unprivileged user (as a user, chmod the file yourself)")
    try:
        pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no unprivileged user 'nobody' on this machine")
    root = Path(tempfile.mkdtemp(prefix="redraw-unreadable-"))  # under /tmp: `nobody` may enter it
    try:
        root.chmod(0o755)
        good = ros2_bag(root / "good", n=4)
        bag = ros2_bag(root / "private", n=4) if kind == "rosbag2 folder" else ros1_bag(root / "private.bag", n=4)
        secret = next(bag.glob("*.mcap")) if bag.is_dir() else bag
        for p in [root, *root.rglob("*")]:
            p.chmod(0o755 if p.is_dir() else 0o644)
        secret.chmod(0o600)
        cache = root / "cache"
        cache.mkdir(mode=0o777)
        cache.chmod(0o777)
        before = fingerprint(bag)
        for command in ("info", "convert"):
            extra = ["--out", str(cache / "d.npz")] if command == "convert" else []
            code, text = _as_nobody(["bag", command, str(bag), "--workers", "1", "--cache-dir", str(cache), *extra],
                                    ["bag", "info", str(good), "--workers", "1", "--cache-dir", str(cache)])
            assert "Traceback" not in text and code == 2, text
            (line,) = text.strip().splitlines()
            assert line.startswith(f"redraw bag {command}: error: {secret}: permission denied"), line
        assert fingerprint(bag) == before
    finally:
        shutil.rmtree(root, ignore_errors=True)


# ---------------------------------------------------------------- replay

def test_replay_writes_a_plot_a_video_and_an_agreement_line(tmp_path, capsys):
    bag = ros2_bag(tmp_path / "drive", n=30, wheels=False, command="/duckiebot/policy/cmd")
    policy = make_onnx_policy(tmp_path / "p.onnx", scale=(0, 0), bias=(0.3, 0.1))  # (0.15 m/s, 0.4 rad/s)
    before = fingerprint(bag)
    code, text = run(capsys, "replay", "--bag", str(bag), "--policy", str(policy), "--out", str(tmp_path / "replay"))
    assert code == 0 and "replayed 30 frames (0 rejected)" in text
    plot = cv2.imread(str(tmp_path / "replay" / "commands.png"))
    assert plot is not None and plot.std() > 5
    video = cv2.VideoCapture(str(tmp_path / "replay" / "replay.mp4"))
    shown = []
    while True:
        ok, image = video.read()
        if not ok:
            break
        shown.append(image)
    assert len(shown) == 30 and shown[0].shape == (240, 320, 3)
    summary = yaml.safe_load((tmp_path / "replay" / "summary.json").read_text())
    # the recorded turn is -0.5, 0 or +0.5 rad/s; the policy always turns left: it agrees on the left turns only
    assert summary["turn_direction_agrees"] == pytest.approx(0.5)
    assert summary["mean_abs_dv"] == pytest.approx(np.mean([abs(0.15 - v) for _, _, v, _ in steps(30)]), abs=1e-4)
    assert fingerprint(bag) == before


def test_replay_of_two_episodes_far_apart_reads_per_episode_and_caps_the_video(tmp_path, capsys):
    """Two recorder windows 100,000 s apart: two episodes (never one line across the gap), the one the policy
    disagrees with most named first in summary.json, and the video held to --video-frames."""
    near = steps(30)  # omega -0.5 / 0 / +0.5: the policy's constant +0.4 rad/s is near it a third of the time
    far = [(fs + 100_000 * 10**9, cs + 100_000 * 10**9, 0.1, -2.0) for fs, cs, _, _ in steps(40)]  # hard right
    bag = ros2_bag(tmp_path / "drive", n=70, wheels=False, command="/duckiebot/policy/cmd", stamps=near + far)
    policy = make_onnx_policy(tmp_path / "p.onnx", scale=(0, 0), bias=(0.3, 0.1))  # (0.15 m/s, 0.4 rad/s)
    out = tmp_path / "replay"
    code, text = run(capsys, "replay", "--bag", str(bag), "--policy", str(policy), "--out", str(out),
                     "--worst", "2", "--video-frames", "25")
    assert code == 0 and "replayed 70 frames (0 rejected) in 2 episode(s)" in text
    summary = yaml.safe_load((out / "summary.json").read_text())
    assert summary["episodes"] == 2
    worst = summary["worst_episodes"]
    assert [(w["episode"], w["frames"]) for w in worst] == [(1, 40), (0, 30)]  # the hard right turn first
    assert worst[0]["duration_s"] == pytest.approx(3.9) and worst[1]["duration_s"] == pytest.approx(2.9)
    assert worst[0]["mean_abs_domega"] == pytest.approx(2.4, abs=1e-3) and worst[0]["disagreement"] > worst[1]["disagreement"]
    video = cv2.VideoCapture(str(out / "replay.mp4"))
    count = 0
    while video.read()[0]:
        count += 1
    assert count == summary["video"]["frames"] and count <= 25 and summary["video"]["stride"] == 3  # 70 frames / 25
    for picture in ("commands.png", "worst_episodes.png", "agreement.png"):
        image = cv2.imread(str(out / picture))
        assert image is not None and image.std() > 5, picture


def test_replay_refuses_a_model_with_another_input_contract(tmp_path, capsys):
    from redraw_perception import PreprocessConfig

    bag = ros2_bag(tmp_path / "drive", n=5, wheels=False)
    policy = make_onnx_policy(tmp_path / "p.onnx", preprocess=PreprocessConfig(out_width=32, out_height=32),
                              drop_metadata=("redraw.action",))
    code, text = run(capsys, "replay", "--bag", str(bag), "--policy", str(policy), "--out", str(tmp_path / "r"))
    assert code == 2 and "p.onnx: model metadata lacks 'redraw.action'" in text


@pytest.mark.parametrize("command", ["adapt", "train-policy"])
def test_training_commands_refuse_a_bag_that_gives_no_rows_and_say_why(tmp_path, capsys, command):
    root = Path(__file__).resolve().parents[4]
    bag = ros2_bag(tmp_path / "small", payloads=frames(4, (160, 120)))
    argv = {"adapt": ["adapt", "--model", str(root / "models/source_small.pt"), "--bag", str(bag), "--method", "residual",
                      "--out", str(tmp_path / "a.pt")],
            "train-policy": ["train-policy", "--model", str(root / "models/source_small.pt"), "--data", str(bag),
                             "--out", str(tmp_path / "p.pt")]}[command]
    code, text = run(capsys, *argv)
    assert code == 2 and "--frame-size 160x120" in text


def test_wheel_commands_are_read_with_the_robots_calibration(tmp_path, capsys):
    """A daffy bag records duty cycles; (v, omega) come back only with the robot's own gain and trim."""
    calibrated = KinematicsConfig(**{**KIN.__dict__, "gain": 1.2, "trim": 0.1})
    store = messages.typestore()
    bag = tmp_path / "trimmed"
    writer = Writer(bag, version=8, storage_plugin=StoragePlugin.MCAP)
    writer.open()
    cam = writer.add_connection("/duckiebot/image/compressed", messages.COMPRESSED_IMAGE, typestore=store)
    cmd = writer.add_connection("/duckiebot/wheels_cmd_executed", messages.WHEELS_CMD, typestore=store)
    payloads = frames(2)
    for i, (fs, cs, v, w) in enumerate(steps(10)):
        writer.write(cam, fs, messages.compressed_image(fs, payloads[i % 2]))
        writer.write(cmd, cs + MS, messages.wheels_cmd(cs, *twist_to_wheels(v, w, calibrated)))
    writer.close()
    (tmp_path / "kinematics.yaml").write_text("gain: 1.2\ntrim: 0.1\nbaseline: 0.1\n")
    code, _ = run(capsys, "bag", "convert", str(bag), "--out", str(tmp_path / "d.npz"), "--calibration",
                  str(tmp_path / "kinematics.yaml"))
    data = np.load(tmp_path / "d.npz")
    expected = [[v / KIN.v_max, w / KIN.omega_max] for _, _, v, w in steps(10)][:-1]
    assert code == 0 and np.allclose(data["action"][1:], expected, atol=1e-5)
    code, text = run(capsys, "bag", "convert", str(bag), "--out", str(tmp_path / "e.npz"), "--calibration", str(tmp_path / "none.yaml"))
    assert code == 2 and "none.yaml: cannot read kinematics calibration" in text
