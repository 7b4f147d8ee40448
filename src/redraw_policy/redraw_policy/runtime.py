"""ROS-free policy runtime: JPEG -> shared preprocessing -> ONNX policy -> safe (v, omega) and wheels.

`OnnxPolicy` loads a model exported by `redraw export`, checks its input contract and metadata against
the preprocessing in use, and refuses a mismatch with a ContractError naming the file and the field.
`PolicyRunner` adds kinematics and the safety rules (non-finite output -> zero command, clamping).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from redraw_perception import ContractError, PreprocessConfig, Preprocessor
from redraw_policy.history import CommandHistory
from redraw_policy.kinematics import KinematicsConfig, action_to_twist, twist_to_action, twist_to_wheels

REQUIRED_METADATA = ("redraw.preprocess", "redraw.action")


class OnnxPolicy:
    """An exported frame -> action model, run with onnxruntime."""

    def __init__(self, path: str | Path, preprocess: PreprocessConfig | None = None, threads: int = 1) -> None:
        import onnxruntime as ort

        self.path = Path(path)
        if not self.path.is_file():
            raise ContractError(f"{self.path}: no such model file")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime raises its own error types for unreadable models
            raise ContractError(f"{self.path}: cannot load ONNX model ({err})") from err
        self.metadata = self._read_metadata()
        self.preprocess = PreprocessConfig.from_dict(self.metadata["redraw.preprocess"], source=str(self.path))
        if preprocess is not None:
            preprocess.check_matches(self.preprocess, source=str(self.path))
        self.preprocessor = Preprocessor(self.preprocess)
        self._check_io()
        self.kinematics = self.metadata.get("redraw.kinematics")

    def _read_metadata(self) -> dict[str, Any]:
        raw = self.session.get_modelmeta().custom_metadata_map
        for key in REQUIRED_METADATA:
            if key not in raw:
                raise ContractError(f"{self.path}: model metadata lacks '{key}'; export it with `redraw export`")
        try:
            return {k: json.loads(v) for k, v in raw.items() if k.startswith("redraw.")}
        except json.JSONDecodeError as err:
            raise ContractError(f"{self.path}: model metadata is not valid JSON ({err})") from err

    def _check_io(self) -> None:
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        image_shape = ", ".join(map(str, self.preprocess.out_shape))
        expected = f"a uint8 image [N, {image_shape}], then optionally a float32 command history [N, k*2]"
        got = [(i.name, i.type, i.shape) for i in inputs]
        if not 1 <= len(inputs) <= 2 or inputs[0].type != "tensor(uint8)" or list(inputs[0].shape[1:]) != list(self.preprocess.out_shape):
            raise ContractError(f"{self.path}: inputs are {got}, expected {expected}")
        history_dim = inputs[1].shape[-1] if len(inputs) == 2 else 0
        if len(inputs) == 2 and (inputs[1].type != "tensor(float)" or not isinstance(history_dim, int) or history_dim % 2):
            raise ContractError(f"{self.path}: inputs are {got}, expected {expected}")
        if len(outputs) != 1 or outputs[0].shape[-1] != 2:
            raise ContractError(f"{self.path}: output is {[(o.name, o.shape) for o in outputs]}, expected [N, 2] actions")
        self.input_name, self.output_name = inputs[0].name, outputs[0].name
        self.history_name = inputs[1].name if len(inputs) == 2 else None
        self.history_steps = history_dim // 2  # commands the model reads beside the frame (0: the frame alone)

    def act_preprocessed(self, image: np.ndarray, history: np.ndarray | None = None) -> np.ndarray:
        """(S, S, 3) uint8 model input [+ (k*2,) commands sent, newest first] -> raw action (2,) float32 (unchecked)."""
        feed = {self.input_name: image[None]}
        if self.history_name is not None:
            feed[self.history_name] = np.zeros((1, 2 * self.history_steps), np.float32) if history is None else history[None]
        return self.session.run([self.output_name], feed)[0][0]


@dataclass
class DriveCommand:
    """What the robot should do for one camera frame."""

    action: np.ndarray  # normalised, after safety
    v: float
    omega: float
    wheels: tuple[float, float]
    ok: bool  # False: the model's output was unusable and this is a zero command
    error: str = ""
    timings_ms: dict[str, float] = field(default_factory=dict)


def zero_command(error: str = "") -> DriveCommand:
    return DriveCommand(np.zeros(2, np.float32), 0.0, 0.0, (0.0, 0.0), ok=not error, error=error)


class PolicyRunner:
    """JPEG bytes -> DriveCommand, with the same preprocessing and kinematics the simulator trained with."""

    def __init__(self, policy: OnnxPolicy, kinematics: KinematicsConfig | None = None) -> None:
        self.policy = policy
        if kinematics is None:
            stored = policy.kinematics or {}
            kinematics = KinematicsConfig(**{k: v for k, v in stored.items() if k in KinematicsConfig.__dataclass_fields__})
        self.kinematics = kinematics
        self.sent = CommandHistory(policy.history_steps)  # what the model reads beside each frame

    def reset(self) -> None:
        """The robot stands (start, or after the wheels were stopped): no command is in flight."""
        self.sent.reset()

    def sent_instead(self, v: float, omega: float, stepped: bool = True) -> None:
        """The command actually sent for the last frame was (v, omega), not the policy's (replaying a bag: the
        model reads what the robot did); `stepped=False`: the policy did not run on that frame (rejected)."""
        action = twist_to_action(v, omega, self.kinematics)
        self.sent.replace_newest(action) if stepped else self.sent.push(action)

    def step_jpeg(self, data: bytes | memoryview) -> DriveCommand:
        """Raises redraw_perception.PreprocessError for a bad frame (the caller stops the wheels)."""
        t0 = time.perf_counter()
        image = self.policy.preprocessor.from_jpeg(data)
        t1 = time.perf_counter()
        command = self.step_image(image)
        command.timings_ms["preprocess"] = (t1 - t0) * 1e3
        return command

    def step_image(self, image: np.ndarray) -> DriveCommand:
        t0 = time.perf_counter()
        action = self.policy.act_preprocessed(image, self.sent.before_next())
        inference_ms = (time.perf_counter() - t0) * 1e3
        if action.shape != (2,) or not np.all(np.isfinite(action)):
            command = zero_command(f"model output {action.tolist()} is not a finite 2-vector; wheels stopped")
            command.timings_ms["inference"] = inference_ms
            self.sent.push(command.action)
            return command
        action = np.clip(action, -1.0, 1.0).astype(np.float32)
        v, omega = action_to_twist(action, self.kinematics)
        command = DriveCommand(action, v, omega, twist_to_wheels(v, omega, self.kinematics), ok=True)
        command.timings_ms["inference"] = inference_ms
        self.sent.push(action)
        return command
