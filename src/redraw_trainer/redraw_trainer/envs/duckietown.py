"""gym-duckietown as a Gymnasium lane-following environment, seen and driven as the robot is.

Observations pass through `redraw_perception.Preprocessor` (the robot's own preprocessing) and
actions through `redraw_policy.kinematics` (the robot's own conversion to wheel duty cycles). Control
runs at 10 Hz, the robot's loop; the simulator integrates physics at its own rate in between.
Reward, per 0.1 s step on the road: a survival bonus, plus progress along the lane, minus lateral and
heading error; leaving the road ends the episode with a penalty. The bonus makes the ranking the one a
user expects: driving the lane (about +1 per step) > standing still (about +0.4) > leaving the road.
Without it, penalties accumulated on the road made leaving it at once the best-paid behaviour.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
from collections.abc import Callable

from typing import Any

import cv2
import gymnasium as gym
import numpy as np

from redraw_perception import PreprocessConfig, Preprocessor
from redraw_policy.kinematics import action_to_wheels

from redraw_trainer.core.config import DuckietownConfig

WheelTransform = Callable[[float, float], tuple[float, float]]


def _quiet_import_simulator() -> type:
    """Import gym_duckietown's Simulator without its noise (pyglet's option dict, version DEBUG lines, gym's
    banner); an import error still raises, and log handlers created meanwhile write to the real stderr."""
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        from gym_duckietown.simulator import Simulator
    loggers = [logging.root, *(lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger))]
    for handler in (h for lg in loggers for h in lg.handlers):
        if isinstance(handler, logging.StreamHandler) and handler.stream is sink:
            handler.setStream(sys.stderr)
    return Simulator


def _headless() -> None:
    """Render with EGL, no display; skip pyglet's per-call GL error checks (a third of render time)."""
    os.environ.setdefault("PYGLET_HEADLESS", "true")
    import pyglet

    pyglet.options["debug_gl"] = False


class DuckietownLaneEnv(gym.Env):
    """Lane following in gym-duckietown. `info` carries the lane pose for evaluation and PID baselines."""

    metadata = {"render_modes": ["rgb_array"]}

    def __init__(self, config: DuckietownConfig | None = None, preprocess: PreprocessConfig = PreprocessConfig(),
                 seed: int | None = None) -> None:
        _headless()
        Simulator = _quiet_import_simulator()

        from redraw_trainer.envs import numpy_compat

        numpy_compat.apply()
        for name in ("gym-duckietown", "duckietown_world", "typing", "nodes"):  # they log every step at DEBUG
            logging.getLogger(name).setLevel(logging.WARNING)
        config = config or DuckietownConfig()
        self.config = config
        self.preprocessor = Preprocessor(preprocess)
        self.kinematics = config.kinematics
        skip = int(round(config.physics_hz / config.control_hz))
        if abs(skip * config.control_hz - config.physics_hz) > 1e-6:
            raise ValueError(f"physics_hz {config.physics_hz} must be a multiple of control_hz {config.control_hz}")
        self.sim = Simulator(
            map_name=config.map_name, domain_rand=config.domain_rand, frame_rate=config.physics_hz,
            frame_skip=skip, camera_width=config.render_width, camera_height=config.render_height,
            max_steps=10**9, seed=seed if seed is not None else 0, accept_start_angle_deg=20,
        )
        self.dt = 1.0 / config.control_hz
        self.wheel_transforms: list[WheelTransform] = []  # reality gaps on wheel commands
        self.camera_adjusters: list[Callable[[Any], None]] = []  # reality gaps on the camera pose
        self.observation_space = gym.spaces.Box(0, 255, preprocess.out_shape, np.uint8)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        self._t = 0
        self.last_wheels = (0.0, 0.0)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        if seed is not None:
            self.sim.seed(seed)
        self.sim.reset()
        for adjust in self.camera_adjusters:
            adjust(self.sim)
        self._t = 0
        return self._observe(), self._info()

    def wheels_for(self, action: np.ndarray) -> tuple[float, float]:
        """Normalised action -> the wheel duty cycles actually applied (kinematics, then any gaps)."""
        left, right = action_to_wheels(np.asarray(action, np.float64), self.kinematics)
        for transform in self.wheel_transforms:
            left, right = transform(left, right)
        return float(np.clip(left, -1, 1)), float(np.clip(right, -1, 1))

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        action = np.asarray(action, np.float64)
        if not np.all(np.isfinite(action)):
            raise ValueError(f"DuckietownLaneEnv.step: action {action} is not finite")
        self.last_wheels = self.wheels_for(action)
        _, _, done, _ = self.sim.step(np.array(self.last_wheels))
        self._t += 1
        after = self._lane_pose()
        offroad = done or after is None
        progress = 0.0 if offroad else self.sim.speed * self.dt * after["dot_dir"]
        reward = -self.config.offroad_penalty if offroad else self._lane_reward(after, progress)
        info = self._info(after)
        info["offroad"] = offroad
        info["progress_m"] = progress
        info["in_lane"] = not offroad and abs(after["dist"]) < 0.1 if after else False
        truncated = self._t >= self.config.episode_steps and not offroad
        return self._observe(), float(reward), bool(offroad), bool(truncated), info

    def _lane_reward(self, lane: dict[str, float], progress_m: float) -> float:
        c = self.config
        return (c.alive_bonus + c.progress_scale * progress_m
                - c.lateral_scale * abs(lane["dist"]) - c.heading_scale * abs(lane["angle_rad"]))

    def _lane_pose(self) -> dict[str, float] | None:
        from gym_duckietown.exceptions import NotInLane

        try:
            lp = self.sim.get_lane_pos2(self.sim.cur_pos, self.sim.cur_angle)
        except NotInLane:
            return None
        return {"dist": float(lp.dist), "dot_dir": float(lp.dot_dir), "angle_rad": float(lp.angle_rad)}

    def _info(self, lane: dict[str, float] | None = None) -> dict[str, Any]:
        lane = lane if lane is not None else self._lane_pose()
        return {"lane": lane, "pos": np.array(self.sim.cur_pos), "angle": float(self.sim.cur_angle), "t": self._t}

    def _observe(self) -> np.ndarray:
        self.last_frame = self.sim.render_obs()  # the raw camera render, for bags and reports
        return self.preprocessor.from_rgb(self.last_frame)

    def render(self) -> np.ndarray:
        return self.sim.render_obs()

    def close(self) -> None:
        self.sim.close()


def camera_jpeg(render_rgb: np.ndarray, width: int = 640, height: int = 480, quality: int = 90) -> bytes:
    """The simulator's render as the robot's camera would send it."""
    frame = cv2.resize(render_rgb, (width, height), interpolation=cv2.INTER_LINEAR)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()


def lane_pid_policy(kp: float = 20.0, ka: float = 6.0, forward: float = 0.5, omega_max: float = 4.0,
                    noise: float = 0.0, rng: np.random.Generator | None = None):
    """A privileged lane-pose PD controller (the simulator's lane-follower baseline), optionally noisy.

    turn = (kp * lateral + ka * heading) / omega_max, in the simulator's lane-pose signs (checked
    empirically: a positive turn makes the lane-relative heading decrease).
    """
    rng = rng or np.random.default_rng()

    def policy(obs: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        lane = info.get("lane")
        if lane is None:
            action = np.array([forward * 0.5, 0.0])
        else:
            omega = kp * lane["dist"] + ka * lane["angle_rad"]
            action = np.array([forward, omega / omega_max])
        if noise > 0:
            action = action + rng.normal(0.0, noise, 2)
        return np.clip(action, -1.0, 1.0).astype(np.float32)

    return policy
