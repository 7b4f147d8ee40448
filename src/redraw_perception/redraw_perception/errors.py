"""Errors raised by preprocessing: each message names the source, the field and what was expected.

A `PreprocessError` also carries a typed `reason` (a `Reject` member) and, for a frame of the wrong size,
the `size` found and the `expected` one, so callers (the bag reader counting skipped frames) never parse
the message text.
"""

from __future__ import annotations

from enum import Enum


class Reject(str, Enum):
    """Why preprocessing refused its input."""

    EMPTY = "empty payload"  # 0 bytes where a JPEG was expected
    UNDECODABLE = "not a decodable JPEG"
    FRAME_SIZE = "frame size"  # decoded, but not the configured camera frame size (see size / expected)
    FRAME_SHAPE = "frame shape"  # a decoded array that is not HxWx3 uint8
    CONFIG = "config"  # an invalid PreprocessConfig
    CALIBRATION = "calibration"  # an unreadable or incomplete camera calibration


class PreprocessError(ValueError):
    """A frame could not be turned into a model input (bad JPEG, empty payload, wrong size).

    `size` and `expected` are (width, height) for `Reject.FRAME_SIZE`, else None. Picklable, so a
    worker process can hand one back.
    """

    def __init__(self, message: str, reason: Reject = Reject.CONFIG, size: tuple[int, int] | None = None,
                 expected: tuple[int, int] | None = None) -> None:
        super().__init__(message)
        self.reason = Reject(reason)
        self.size = size
        self.expected = expected

    def __reduce__(self):
        return (type(self), (str(self), self.reason, self.size, self.expected))


class ContractError(ValueError):
    """Two preprocessing contracts disagree (e.g. a model trained with other pixels than these)."""
