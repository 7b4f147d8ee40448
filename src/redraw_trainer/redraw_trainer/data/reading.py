"""How a robot's recording becomes training data: the bag options every command that reads a bag takes, the
robot's kinematics (its calibration file + the model's action scale), and `load_dataset` for a bag or a `.npz`.

    reading = BagReading(frame_size="320x240", calibration="robot.yaml")
    data = load_dataset("/data/redraw/bags", reading, preprocess, action_scale=(0.5, 4.0))
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from redraw_logger.pairing import PairingConfig
from redraw_perception import PreprocessConfig
from redraw_policy.kinematics import KinematicsConfig, load_calibration

from redraw_trainer.data.bags import BagReport, read_bag, require_rows
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

    def frame_wh(self) -> tuple[int, int] | None:
        """`frame_size` as (width, height); ValueError naming the option when it is not WxH with both > 0."""
        if not self.frame_size:
            return None
        try:
            w, h = (int(v) for v in self.frame_size.lower().split("x"))
        except ValueError:
            raise ValueError(f"--frame-size {self.frame_size!r}: expected WIDTHxHEIGHT, e.g. 640x480") from None
        if w <= 0 or h <= 0:
            raise ValueError(f"--frame-size {self.frame_size!r}: width and height must be positive, e.g. 640x480")
        return w, h


def robot_kinematics(calibration: str | None, action_scale: tuple[float, float]) -> KinematicsConfig:
    """The robot's wheels (its calibration file, or Duckietown's defaults) with the model's action scale
    (m/s and rad/s of a normalised action of 1, which the model learned in its simulator)."""
    wheels = load_calibration(calibration) if calibration else {}  # CalibrationError (a ValueError) names the file
    v_max, omega_max = action_scale
    return KinematicsConfig(**{**wheels, "v_max": v_max, "omega_max": omega_max})


def read_robot_bag(path: str | Path, reading: BagReading, preprocess: PreprocessConfig,
                   action_scale: tuple[float, float]) -> tuple[SequenceData, BagReport]:
    """A bag read with `reading`'s options; the data may have 0 rows (the report says why)."""
    return read_bag(path, preprocess, robot_kinematics(reading.calibration, action_scale),
                    PairingConfig(reading.tolerance), reading.camera_topic, reading.cmd_topic, reading.workers,
                    cache_dir=reading.cache_dir, frame_size=reading.frame_wh())


def load_dataset(path: str | Path, reading: BagReading, preprocess: PreprocessConfig,
                 action_scale: tuple[float, float]) -> SequenceData:
    """A dataset file (.npz, from `redraw bag convert`) or a bag; a bag that gives no rows raises BagError."""
    if str(path).endswith(".npz"):
        return SequenceData.load(path)
    data, report = read_robot_bag(path, reading, preprocess, action_scale)
    for notice in report.notices:
        print(f"notice: {notice}")
    return require_rows(data, report)
