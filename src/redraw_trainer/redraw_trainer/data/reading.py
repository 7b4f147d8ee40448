"""How a robot's recording becomes training data: the bag options every command that reads a bag takes, the
robot's kinematics (its calibration file + the model's action scale), and `load_dataset` for a bag or a `.npz`.

    reading = BagReading(frame_size="320x240", calibration="robot.yaml")
    data = load_dataset("/data/redraw/bags", reading, preprocess, action_scale=(0.5, 4.0))
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redraw_logger.pairing import PairingConfig
from redraw_perception import PreprocessConfig
from redraw_policy.kinematics import KinematicsConfig, load_calibration

from redraw_trainer.data.bags import read_bag, require_rows
from redraw_trainer.data.sequences import SequenceData


@dataclass
class BagReading:
    """How to read a bag: which topics, how to pair frames with commands, the camera and the robot."""

    camera_topic: str | None = None  # camera topic (default: the one .../image/compressed topic)
    cmd_topic: str | None = None  # command topic: TwistStamped, WheelsCmdStamped or Twist2DStamped (default: found by type)
    tolerance: float = 0.022  # largest frame-command stamp difference that pairs them, s
    frame_size: str | None = None  # WIDTHxHEIGHT of the camera's frames when they are not the model's 640x480
    calibration: str | None = None  # the robot's Duckietown kinematics YAML (gain, trim, ...): wheel commands -> (v, omega)
    workers: int = 2  # JPEG decoding processes
    cache_dir: str | None = None  # conversion cache (default: $REDRAW_CACHE_DIR or ~/.cache/redraw/bags)

    def read_options(self, preprocess: PreprocessConfig, action_scale: tuple[float, float]) -> dict[str, Any]:
        """`read_bag`'s keyword arguments; a bad option is a ValueError naming it, before any bag is read."""
        return dict(preprocess=preprocess, kinematics=robot_kinematics(self.calibration, action_scale),
                    pairing=PairingConfig(self.tolerance), camera_topic=self.camera_topic, command_topic=self.cmd_topic,
                    workers=self.workers, cache_dir=self.cache_dir, frame_size=parse_frame_size(self.frame_size))


def parse_frame_size(text: str | None) -> tuple[int, int] | None:
    """`--frame-size WIDTHxHEIGHT` -> (width, height); a ValueError naming the option when it is not one."""
    if not text:
        return None
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"--frame-size {text}: expected WIDTHxHEIGHT, e.g. 640x480") from None
    if w <= 0 or h <= 0:
        raise ValueError(f"--frame-size {text}: width and height must be positive, e.g. 640x480")
    return w, h


def robot_kinematics(calibration: str | None, action_scale: tuple[float, float]) -> KinematicsConfig:
    """The robot's wheels (its calibration file, or Duckietown's defaults) with the model's action scale
    (m/s and rad/s of a normalised action of 1, which the model learned in its simulator)."""
    wheels = load_calibration(calibration) if calibration else {}  # CalibrationError (a ValueError) names the file
    v_max, omega_max = action_scale
    return KinematicsConfig(**{**wheels, "v_max": v_max, "omega_max": omega_max})


def load_dataset(path: str | Path, reading: BagReading, preprocess: PreprocessConfig,
                 action_scale: tuple[float, float]) -> SequenceData:
    """A dataset file (.npz, from `redraw bag convert`) or a bag read with `reading`'s options; a bag that gives
    no rows raises BagError saying why."""
    if str(path).endswith(".npz"):
        return SequenceData.load(path)
    data, report = read_bag(path, **reading.read_options(preprocess, action_scale))
    for notice in report.notices:
        print(f"notice: {notice}")
    return require_rows(data, report)
