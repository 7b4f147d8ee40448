"""The policy node's logic, without ROS: frames in, commands out, stale frames and bad models stop the wheels."""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from redraw_perception import ContractError, PreprocessError
from redraw_policy.kinematics import KinematicsConfig
from redraw_policy.runtime import DriveCommand, OnnxPolicy, PolicyRunner, zero_command
from redraw_policy.safety import StaleFrameWatchdog


@dataclass
class ControllerConfig:
    model_path: str = ""
    threads: int = 1
    stale_timeout_s: float = 0.25
    # the robot's calibration (gain, trim, baseline, radius, k, limit) over the model's stored kinematics
    calibration: dict[str, float] = field(default_factory=dict)
    min_period_s: float = 0.0  # rate limit: frames closer than this to the last command are skipped


class PolicyController:
    """Owns the runner; every public method returns the DriveCommand to publish (or None)."""

    def __init__(self, config: ControllerConfig) -> None:
        self.config = config
        self.watchdog = StaleFrameWatchdog(config.stale_timeout_s)
        self.runner: PolicyRunner | None = None
        self.model_mtime: float | None = None
        self.timings_ms: deque[dict[str, float]] = deque(maxlen=5000)  # per frame: preprocess, inference
        self.frames = 0
        self.zero_commands = 0
        self.last_command_time: float | None = None
        self.last_error = ""
        self.last_error_time: float | None = None
        if config.model_path:
            self.load_model(config.model_path)

    def load_model(self, path: str) -> None:
        """Load (or swap to) a model; on failure the previous model stays and ContractError propagates."""
        policy = OnnxPolicy(path, threads=self.config.threads)
        stored = {k: v for k, v in (policy.kinematics or {}).items() if k in KinematicsConfig.__dataclass_fields__}
        self.runner = PolicyRunner(policy, KinematicsConfig(**{**stored, **self.config.calibration}))
        self.config.model_path = path
        self.model_mtime = os.stat(path).st_mtime

    def set_calibration(self, **values: float) -> None:
        """Change calibration values (e.g. gain, trim) at run time; the next command uses them."""
        unknown = set(values) - set(KinematicsConfig.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown kinematics fields {sorted(unknown)}")
        self.config.calibration = {**self.config.calibration, **{k: float(v) for k, v in values.items()}}
        if self.runner is not None:
            self.runner.kinematics = replace(self.runner.kinematics, **self.config.calibration)

    def model_file_changed(self) -> bool:
        path = Path(self.config.model_path)
        return bool(self.config.model_path) and path.is_file() and path.stat().st_mtime != self.model_mtime

    def on_frame(self, data: bytes | memoryview, now: float) -> DriveCommand | None:
        """A camera frame arrived at `now` (monotonic seconds)."""
        if self.last_command_time is not None and now - self.last_command_time < self.config.min_period_s:
            return None
        self.frames += 1
        if self.runner is None:
            return self._zero("no model loaded; set the model_path parameter", now)
        try:
            command = self.runner.step_jpeg(data)
        except PreprocessError as err:
            return self._zero(f"camera frame rejected: {err}", now)
        self.watchdog.frame(now)
        self.last_command_time = now
        self.timings_ms.append(command.timings_ms)
        if not command.ok:
            self.zero_commands += 1
            self.last_error, self.last_error_time = command.error, now
        return command

    def on_tick(self, now: float) -> DriveCommand | None:
        """Periodic check: a zero command while frames are stale."""
        if self.watchdog.stale(now):
            return self._zero(f"no camera frame for more than {self.config.stale_timeout_s:.2f} s", now)
        return None

    def status(self, now: float, recent_s: float = 2.0) -> tuple[str, str]:
        """('OK' | 'WARN' | 'ERROR', why) for diagnostics: no model and stale frames are errors,
        a rejected frame or model output within the last `recent_s` a warning, driving OK."""
        if self.runner is None:
            return "ERROR", "no model loaded; set the model_path parameter"
        if self.watchdog.last_frame is None:
            return "ERROR", "no camera frame received yet; wheels stopped"
        if self.watchdog.stale(now):
            return "ERROR", f"camera frames stale ({now - self.watchdog.last_frame:.2f} s since the last); wheels stopped"
        if self.last_error_time is not None and now - self.last_error_time <= recent_s:
            return "WARN", self.last_error
        return "OK", "driving"

    def _zero(self, error: str, now: float) -> DriveCommand:
        if self.runner is not None:
            self.runner.reset()  # the wheels stop: the commands the model reads next say the robot stands
        self.zero_commands += 1
        self.last_error, self.last_error_time = error, now
        return zero_command(error)

    def latency_stats(self, window: int = 1000) -> dict[str, float]:
        """p50/p99 over the last `window` frames: total compute and each stage (preprocess, inference)."""
        recent = list(self.timings_ms)[-window:]
        if not recent:
            return {}
        series = {"": [sum(t.values()) for t in recent]}
        series.update({f"{stage}_": [t[stage] for t in recent] for stage in recent[-1]})
        stats = {}
        for prefix, values in series.items():
            stats[f"{prefix}p50_ms"] = float(np.percentile(values, 50))
            stats[f"{prefix}p99_ms"] = float(np.percentile(values, 99))
        return stats


__all__ = ["ContractError", "ControllerConfig", "PolicyController"]
