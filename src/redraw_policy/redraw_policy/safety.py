"""Safety watchdog: the wheels stop when camera frames go stale."""

from __future__ import annotations


class StaleFrameWatchdog:
    """Tracks when the last camera frame arrived; `stale(now)` once it is older than `timeout_s`."""

    def __init__(self, timeout_s: float = 0.25) -> None:
        self.timeout_s = timeout_s
        self.last_frame: float | None = None

    def frame(self, now: float) -> None:
        self.last_frame = now

    def stale(self, now: float) -> bool:
        return self.last_frame is None or now - self.last_frame > self.timeout_s
