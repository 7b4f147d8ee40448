"""Chunked rosbag2 writing (mcap storage, metadata version 8) with rosbags.

Each chunk is a complete bag directory `<out>/<prefix>_<NNNN>/`, closed (metadata.yaml written) when it
reaches `max_bytes` or `max_seconds`. A power cut loses at most the open chunk; a crash or SIGINT
leaves every closed chunk readable by `ros2 bag` and rosbags.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rosbags.rosbag2 import StoragePlugin, Writer

from redraw_logger import messages


class WriterError(RuntimeError):
    """A bag could not be written (names the directory)."""


@dataclass(frozen=True)
class Topics:
    """The topic names a bag is written under: those of the Duckietown ROS 2 stack in the vehicle namespace."""

    camera: str = "/duckiebot/image/compressed"
    command: str = "/duckiebot/policy/cmd"
    wheels: str = "/duckiebot/wheels_cmd_executed"
    episode: str = "/duckiebot/redraw/episode"
    labels: str = ""  # simulator recordings only: per-step reward labels (JSON std_msgs/String), for the oracle

    @classmethod
    def for_vehicle(cls, veh: str) -> "Topics":
        return cls(f"/{veh}/image/compressed", f"/{veh}/policy/cmd", f"/{veh}/wheels_cmd_executed", f"/{veh}/redraw/episode")


class ChunkedBagWriter:
    def __init__(self, out_dir: str | Path, topics: Topics = Topics(), prefix: str = "redraw",
                 max_bytes: int = 256 * 2**20, max_seconds: float = 300.0, wheels: bool = False) -> None:
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.topics, self.prefix, self.wheels = topics, prefix, wheels
        self.max_bytes, self.max_ns = max_bytes, int(max_seconds * 1e9)
        self.closed: list[Path] = []
        self._writer: Writer | None = None
        self._index = len(list(self.out_dir.glob(f"{prefix}_*")))
        self._bytes = 0
        self._start_ns: int | None = None

    def _open(self, stamp: int) -> Writer:
        path = self.out_dir / f"{self.prefix}_{self._index:04d}"
        self._index += 1
        writer = Writer(path, version=8, storage_plugin=StoragePlugin.MCAP)
        try:
            writer.open()
        except Exception as err:
            raise WriterError(f"{path}: cannot open bag for writing ({err})") from err
        store = messages.typestore()
        self._connections = {
            "camera": writer.add_connection(self.topics.camera, messages.COMPRESSED_IMAGE, typestore=store),
            "command": writer.add_connection(self.topics.command, messages.TWIST_STAMPED, typestore=store),
            "episode": writer.add_connection(self.topics.episode, messages.STRING, typestore=store),
        }
        if self.topics.labels:
            self._connections["labels"] = writer.add_connection(self.topics.labels, messages.STRING, typestore=store)
        if self.wheels:
            self._connections["wheels"] = writer.add_connection(self.topics.wheels, messages.WHEELS_CMD, typestore=store)
        self._writer, self._path, self._bytes, self._start_ns = writer, path, 0, stamp
        return writer

    def write(self, kind: str, stamp: int, data: bytes) -> None:
        """Write serialised `data` on the connection `kind` (camera, command, wheels, episode) at `stamp`."""
        if self._writer is not None and (self._bytes >= self.max_bytes or stamp - self._start_ns >= self.max_ns):
            self.close_chunk()
        writer = self._writer or self._open(stamp)
        writer.write(self._connections[kind], stamp, data)
        self._bytes += len(data)

    def close_chunk(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self.closed.append(self._path)
            self._writer = None

    def close(self) -> None:
        self.close_chunk()
