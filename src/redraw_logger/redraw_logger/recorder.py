"""The logger's logic: pair frames with commands, mark episodes, write chunked bags. ROS-free."""

from __future__ import annotations

from pathlib import Path

from redraw_logger import messages
from redraw_logger.bag_writer import ChunkedBagWriter, Topics
from redraw_logger.pairing import RecordedCommand, Frame, Pair, PairingConfig, StampPairer


class EpisodeRecorder:
    """Call `on_frame` / `on_command` as messages arrive; paired steps go to the bag, episodes marked."""

    def __init__(self, out_dir: str | Path, topics: Topics = Topics(), pairing: PairingConfig = PairingConfig(),
                 max_bytes: int = 256 * 2**20, max_seconds: float = 300.0, wheels: bool = False,
                 recording: bool = True) -> None:
        self.writer = ChunkedBagWriter(out_dir, topics, max_bytes=max_bytes, max_seconds=max_seconds, wheels=wheels)
        self.pairer = StampPairer(pairing)
        self.recording = recording
        self._open_episode: int | None = None
        self._last_stamp = 0

    @property
    def stats(self):
        return self.pairer.stats

    def on_frame(self, stamp: int, jpeg: bytes, fmt: str = "jpeg", frame_id: str = "camera") -> None:
        if self.recording:
            self._write(self.pairer.add_frame(Frame(stamp, (jpeg, fmt, frame_id))))

    def on_command(self, stamp: int, v: float, omega: float, wheels: tuple[float, float] | None = None) -> None:
        if self.recording:
            self._write(self.pairer.add_command(RecordedCommand(stamp, v, omega, wheels)))

    def on_label(self, stamp: int, **labels: float | bool) -> None:
        """Simulator recordings: labels (reward, terminal) of the frame stamped `stamp`, on the labels topic."""
        if self.recording:
            self.writer.write("labels", stamp, messages.json_string({"stamp_ns": stamp, **labels}))

    def start(self) -> None:
        """Start recording; the next pair begins a new episode."""
        self.recording = True
        self.pairer.new_episode()

    def stop(self) -> None:
        self.recording = False
        self._end_episode()

    def close(self) -> None:
        self.pairer.flush()
        self._end_episode()
        self.writer.close()

    def _end_episode(self) -> None:
        if self._open_episode is not None:
            self.writer.write("episode", self._last_stamp, messages.episode_marker("end", self._open_episode, self._last_stamp))
            self._open_episode = None

    def _write(self, pairs: list[Pair]) -> None:
        for pair in pairs:
            stamp = pair.frame.stamp
            if pair.first:
                self._end_episode()
                self.writer.write("episode", stamp, messages.episode_marker("start", pair.episode, stamp))
                self._open_episode = pair.episode
            jpeg, fmt, frame_id = pair.frame.payload
            self.writer.write("camera", stamp, messages.compressed_image(stamp, jpeg, fmt, frame_id))
            command = pair.command
            self.writer.write("command", command.stamp, messages.twist_stamped(command.stamp, command.v, command.omega))
            if self.writer.wheels and command.payload is not None:
                self.writer.write("wheels", command.stamp, messages.wheels_cmd(command.stamp, *command.payload))
            self._last_stamp = stamp
