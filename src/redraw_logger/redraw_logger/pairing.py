"""Pair camera frames with the command executed for them, by header stamp, and split episodes.

Used online by the logger node and offline by the trainer's bag reader, so both see the same pairs.
A frame and a command pair when their stamps differ by at most `tolerance_s` (authors: 22 ms; our
policy node stamps each command with its frame's stamp). Consecutive pairs must be `min_step_s` to
`max_step_s` apart (10 Hz control: 0.08-0.12 s): closer pairs are dropped, wider gaps start a new episode.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class PairingConfig:
    tolerance_s: float = 0.022
    min_step_s: float = 0.08
    max_step_s: float = 0.12

    @property
    def tolerance_ns(self) -> int:
        return int(round(self.tolerance_s * 1e9))


@dataclass
class Frame:
    stamp: int  # header stamp, ns
    payload: Any  # JPEG bytes, or anything the caller wants carried along


@dataclass
class RecordedCommand:
    """A (v, omega) command as recorded on a topic, at its header stamp; the logger and the bag reader pair it
    with a camera frame (the robot's own command for a frame is `redraw_policy.runtime.DriveCommand`)."""

    stamp: int
    v: float
    omega: float
    payload: Any = None


@dataclass
class Pair:
    frame: Frame
    command: RecordedCommand
    episode: int
    first: bool  # first pair of its episode


@dataclass
class PairingStats:
    frames: int = 0
    commands: int = 0
    paired: int = 0
    unpaired_frames: int = 0
    unpaired_commands: int = 0
    too_close: int = 0  # pairs dropped because they came faster than min_step_s
    out_of_order: int = 0  # pairs dropped because their stamp went backwards
    episodes: int = 0
    step_gaps_s: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, int]:
        return {k: v for k, v in self.__dict__.items() if k != "step_gaps_s"}


class StampPairer:
    """Feed frames and commands in (roughly) stamp order; `pairs` come out in stamp order with episodes."""

    def __init__(self, config: PairingConfig = PairingConfig()) -> None:
        self.config = config
        self.stats = PairingStats()
        self._frames: deque[Frame] = deque()
        self._commands: deque[RecordedCommand] = deque()
        self._last_stamp: int | None = None
        self._episode = -1

    def add_frame(self, frame: Frame) -> list[Pair]:
        self.stats.frames += 1
        match = self._take_nearest(self._commands, frame.stamp)
        if match is None:
            self._frames.append(frame)
            return self._expire(frame.stamp)
        return self._expire(frame.stamp) + self._emit(frame, match)

    def add_command(self, command: RecordedCommand) -> list[Pair]:
        self.stats.commands += 1
        match = self._take_nearest(self._frames, command.stamp)
        if match is None:
            self._commands.append(command)
            return self._expire(command.stamp)
        return self._expire(command.stamp) + self._emit(match, command)

    def new_episode(self) -> None:
        """Force the next pair to start an episode (e.g. the operator pressed start)."""
        self._last_stamp = None

    def flush(self) -> None:
        """Count whatever is still waiting as unpaired (end of recording)."""
        self.stats.unpaired_frames += len(self._frames)
        self.stats.unpaired_commands += len(self._commands)
        self._frames.clear()
        self._commands.clear()

    def _take_nearest(self, queue: deque, stamp: int):
        best, best_gap = None, self.config.tolerance_ns + 1
        for item in queue:
            gap = abs(item.stamp - stamp)
            if gap < best_gap:
                best, best_gap = item, gap
        if best is not None:
            queue.remove(best)
        return best

    def _expire(self, now: int) -> list[Pair]:
        horizon = now - 4 * self.config.tolerance_ns
        while self._frames and self._frames[0].stamp < horizon:
            self._frames.popleft()
            self.stats.unpaired_frames += 1
        while self._commands and self._commands[0].stamp < horizon:
            self._commands.popleft()
            self.stats.unpaired_commands += 1
        return []

    def _emit(self, frame: Frame, command: RecordedCommand) -> list[Pair]:
        stamp = frame.stamp
        first = self._last_stamp is None
        if not first:
            if stamp <= self._last_stamp:
                self.stats.out_of_order += 1
                return []
            gap = (stamp - self._last_stamp) / 1e9
            if gap < self.config.min_step_s:
                self.stats.too_close += 1
                return []
            self.stats.step_gaps_s.append(gap)
            first = gap > self.config.max_step_s
        if first:
            self._episode += 1
            self.stats.episodes += 1
        self._last_stamp = stamp
        self.stats.paired += 1
        return [Pair(frame, command, self._episode, first)]
