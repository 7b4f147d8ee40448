"""Duckiebot kinematics: normalised action <-> (v, omega) <-> wheel duty cycles.

The conversion matches gym-duckietown's `DuckietownEnv.step` (gain, trim, radius, k, limit), so the
simulator wrapper and the robot's policy node turn a model action into the same wheel commands.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class KinematicsConfig:
    """Differential-drive parameters. Defaults are Duckietown's (DuckietownEnv and the DB21 robot)."""

    baseline: float = 0.1  # distance between the wheels, m
    radius: float = 0.0318  # wheel radius, m
    k: float = 27.0  # motor constant
    gain: float = 1.0
    trim: float = 0.0  # >0 makes the right wheel faster
    limit: float = 1.0  # duty-cycle limit
    v_max: float = 1.0  # m/s for a normalised forward action of 1 (DuckietownEnv passes v through)
    omega_max: float = 1.0  # rad/s for a normalised turn action of 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def action_to_twist(action: np.ndarray, cfg: KinematicsConfig = KinematicsConfig()) -> tuple[float, float]:
    """Normalised action (forward, turn) in [-1, 1]^2 -> (v m/s, omega rad/s). Clips to the action box."""
    forward, turn = np.clip(np.asarray(action, dtype=np.float64).reshape(2), -1.0, 1.0)
    return float(forward * cfg.v_max), float(turn * cfg.omega_max)


def twist_to_action(v: float, omega: float, cfg: KinematicsConfig = KinematicsConfig()) -> np.ndarray:
    """(v m/s, omega rad/s) -> normalised action; inverse of action_to_twist inside the action box."""
    return np.array([v / cfg.v_max, omega / cfg.omega_max], dtype=np.float32)


def twist_to_wheels(v: float, omega: float, cfg: KinematicsConfig = KinematicsConfig()) -> tuple[float, float]:
    """(v, omega) -> (vel_left, vel_right) duty cycles, clamped to +-limit, as DuckietownEnv computes them."""
    k_r_inv = (cfg.gain + cfg.trim) / cfg.k
    k_l_inv = (cfg.gain - cfg.trim) / cfg.k
    omega_r = (v + 0.5 * omega * cfg.baseline) / cfg.radius
    omega_l = (v - 0.5 * omega * cfg.baseline) / cfg.radius
    u_r = float(np.clip(omega_r * k_r_inv, -cfg.limit, cfg.limit))
    u_l = float(np.clip(omega_l * k_l_inv, -cfg.limit, cfg.limit))
    return u_l, u_r


def wheels_to_twist(vel_left: float, vel_right: float, cfg: KinematicsConfig = KinematicsConfig()) -> tuple[float, float]:
    """(vel_left, vel_right) duty cycles -> (v, omega); inverse of twist_to_wheels where nothing clamped.

    Used to read bags whose only command record is Duckietown's WheelsCmdStamped.
    """
    omega_r = vel_right * cfg.k / (cfg.gain + cfg.trim)
    omega_l = vel_left * cfg.k / (cfg.gain - cfg.trim)
    v = cfg.radius * (omega_r + omega_l) / 2.0
    omega = cfg.radius * (omega_r - omega_l) / cfg.baseline
    return float(v), float(omega)


def action_to_wheels(action: np.ndarray, cfg: KinematicsConfig = KinematicsConfig()) -> tuple[float, float]:
    """Normalised action -> wheel duty cycles (the path both the simulator and the robot take)."""
    return twist_to_wheels(*action_to_twist(action, cfg), cfg)


# What a Duckietown kinematics calibration file may set that describes the robot. v_max and omega_max are
# left out on purpose: here they scale the *model's* normalised action and come from the exported model.
CALIBRATION_KEYS = ("gain", "trim", "baseline", "radius", "k", "limit")
CALIBRATION_DIR = "/data/config/calibrations/kinematics"


class CalibrationError(ValueError):
    """A kinematics calibration file could not be used (names the file and the field)."""


def calibration_path(veh: str, directory: str = CALIBRATION_DIR) -> str:
    """Where Duckietown keeps a robot's kinematics calibration: `<dir>/<veh>.yaml` (`default.yaml` as fallback)."""
    from pathlib import Path

    own = Path(directory) / f"{veh}.yaml"
    return str(own if own.is_file() or not (Path(directory) / "default.yaml").is_file() else Path(directory) / "default.yaml")


def load_calibration(path: str) -> dict[str, float]:
    """Read gain, trim, baseline, radius, k, limit from a Duckietown kinematics YAML (other keys ignored)."""
    import yaml

    try:
        with open(path) as f:
            data = yaml.safe_load(f) or {}
    except OSError as err:
        raise CalibrationError(f"{path}: cannot read kinematics calibration ({err.strerror})") from err
    except yaml.YAMLError as err:
        raise CalibrationError(f"{path}: not valid YAML ({err})") from err
    if not isinstance(data, dict):
        raise CalibrationError(f"{path}: expected a mapping of calibration keys, found {type(data).__name__}")
    values = {}
    for key in CALIBRATION_KEYS:
        if key in data:
            value = data[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise CalibrationError(f"{path}: field '{key}' is {value!r}, expected a number")
            values[key] = float(value)
    return values
