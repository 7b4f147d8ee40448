"""ROS-free policy runtime: JPEG -> shared preprocessing -> ONNX policy -> safe (v, omega) and wheels.

`OnnxPolicy` loads a model exported by `redraw export`, checks its input contract and metadata against
the preprocessing in use, and refuses a mismatch with a ContractError naming the file and the field.
`PolicyRunner` adds kinematics and the safety rules (non-finite output -> zero command, clamping).
A file exported with its prior also feeds the reality-gap meter (`gap_meter.py`); older files (one input,
one output) load and drive as before, without the meter.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from redraw_perception import ContractError, PreprocessConfig, Preprocessor
from redraw_policy.gap_meter import METER_INPUTS, METER_OUTPUTS, GapMeter, MeterContract
from redraw_policy.history import CommandHistory
from redraw_policy.kinematics import KinematicsConfig, action_to_twist, twist_to_wheels

REQUIRED_METADATA = ("redraw.preprocess", "redraw.action")
HISTORY_INPUT = "history"  # the last k commands sent, newest first (models that read them)


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
            metadata = {k: json.loads(v) for k, v in raw.items() if k.startswith("redraw.")}
        except json.JSONDecodeError as err:
            raise ContractError(f"{self.path}: model metadata is not valid JSON ({err})") from err
        for key in REQUIRED_METADATA:
            if not isinstance(metadata[key], dict):
                raise ContractError(f"{self.path}: model metadata '{key}' is {metadata[key]!r}, expected a mapping; "
                                    "export a policy trained on frames with a preprocessing record")
        return metadata

    def _check_io(self) -> None:
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        self.meter = MeterContract.from_model(self.metadata, {i.name: (i.type, i.shape) for i in inputs},
                                              {o.name: o.shape for o in outputs}, str(self.path))
        history = [i for i in inputs if i.name == HISTORY_INPUT]
        extra_in = (set(METER_INPUTS) if self.meter else set()) | {HISTORY_INPUT}
        images = [i for i in inputs if i.name not in extra_in]
        if len(images) != 1 or images[0].type != "tensor(uint8)" or list(images[0].shape[1:]) != list(self.preprocess.out_shape):
            got = [(i.name, i.type, i.shape) for i in inputs]
            raise ContractError(f"{self.path}: inputs are {got}, expected a uint8 image [N, {', '.join(map(str, self.preprocess.out_shape))}]"
                                f", then optionally a float32 '{HISTORY_INPUT}' [N, k*2]"
                                + ("" if self.meter else f" (a file with the meter's inputs declares them in 'redraw.reality_gap')"))
        width = history[0].shape[-1] if history else 0
        if history and (history[0].type != "tensor(float)" or not isinstance(width, int) or width % 2):
            raise ContractError(f"{self.path}: input '{HISTORY_INPUT}' is {history[0].type} {history[0].shape}, expected "
                                f"float32 [N, k*2] (the last k commands sent)")
        self.history_steps = width // 2  # commands the model reads beside the frame (0: the frame alone)
        actions = [o for o in outputs if o.name not in (set(METER_OUTPUTS) if self.meter else set())]
        if len(actions) != 1 or actions[0].shape[-1] != 2:
            raise ContractError(f"{self.path}: output is {[(o.name, o.shape) for o in outputs]}, expected [N, 2] actions")
        self.input_name, self.output_name = images[0].name, actions[0].name
        self._outputs = [self.output_name, *METER_OUTPUTS] if self.meter else [self.output_name]
        self._idle_meter = GapMeter(self.meter).inputs() if self.meter else {}

    def act_preprocessed(self, image: np.ndarray, history: np.ndarray | None = None) -> np.ndarray:
        """(S, S, 3) uint8 model input [+ (k*2,) commands sent, newest first] -> raw action (2,) float32 (unchecked)."""
        return self.run(image, history)[self.output_name][0]

    def run(self, image: np.ndarray, history: np.ndarray | None = None,
            meter_inputs: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
        """(S, S, 3) uint8 [+ the commands sent (k*2,); None: zeros, standing] -> every output by name (batch of
        one). A meter file needs its meter inputs: without `meter_inputs` it gets a first frame's (the meter is
        off; the action does not depend on them)."""
        feeds = {self.input_name: image[None], **(meter_inputs if meter_inputs is not None else self._idle_meter)}
        if self.history_steps:
            feeds[HISTORY_INPUT] = (np.zeros(2 * self.history_steps, np.float32) if history is None else history)[None]
        return dict(zip(self._outputs, self.session.run(self._outputs, feeds)))


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
    reality_gap: float | None = None  # this frame's meter reading (nats), when metered


def zero_command(error: str = "") -> DriveCommand:
    return DriveCommand(np.zeros(2, np.float32), 0.0, 0.0, (0.0, 0.0), ok=not error, error=error)


class PolicyRunner:
    """JPEG bytes -> DriveCommand, with the same preprocessing and kinematics the simulator trained with.
    `meter`: feed the reality-gap meter (when the file carries it; `self.meter` is None otherwise)."""

    def __init__(self, policy: OnnxPolicy, kinematics: KinematicsConfig | None = None, meter: bool = True,
                 meter_window: int = 50) -> None:
        self.policy = policy
        if kinematics is None:
            stored = policy.kinematics or {}
            kinematics = KinematicsConfig(**{k: v for k, v in stored.items() if k in KinematicsConfig.__dataclass_fields__})
        self.kinematics = kinematics
        self.sent = CommandHistory(policy.history_steps)  # what the model reads beside each frame
        self.meter = GapMeter(policy.meter, meter_window) if meter and policy.meter else None

    def reset(self) -> None:
        """The robot stands (start, or after the wheels were stopped): no command is in flight, and the meter
        starts again."""
        self.sent.reset()
        if self.meter:
            self.meter.reset()

    def skipped(self, sent: np.ndarray) -> None:
        """The robot sent `sent` (normalised) for a frame the policy did not run on (a rejected frame in a
        recording): the commands the model reads next include it; the meter starts again."""
        self.sent.push(sent)
        if self.meter:
            self.meter.reset()

    def step_jpeg(self, data: bytes | memoryview, now: float | None = None,
                  sent: np.ndarray | None = None) -> DriveCommand:
        """Raises redraw_perception.PreprocessError for a bad frame (the caller stops the wheels)."""
        t0 = time.perf_counter()
        image = self.policy.preprocessor.from_jpeg(data)
        t1 = time.perf_counter()
        command = self.step_image(image, now, sent)
        command.timings_ms["preprocess"] = (t1 - t0) * 1e3
        return command

    def step_image(self, image: np.ndarray, now: float | None = None, sent: np.ndarray | None = None) -> DriveCommand:
        """`now`: the frame's time in seconds (the meter's step rules); `sent`: the command the robot executed for
        this frame when it is not this policy's (a recording replayed): the model then reads what the robot did."""
        t0 = time.perf_counter()
        outputs = self.policy.run(image, self.sent.before_next(), self.meter.inputs(now) if self.meter else None)
        action = outputs[self.policy.output_name][0]
        inference_ms = (time.perf_counter() - t0) * 1e3
        if action.shape != (2,) or not np.all(np.isfinite(action)):
            command = zero_command(f"model output {action.tolist()} is not a finite 2-vector; wheels stopped")
        else:
            action = np.clip(action, -1.0, 1.0).astype(np.float32)
            v, omega = action_to_twist(action, self.kinematics)
            command = DriveCommand(action, v, omega, twist_to_wheels(v, omega, self.kinematics), ok=True)
        command.timings_ms["inference"] = inference_ms
        executed = command.action if sent is None else np.asarray(sent, np.float32)
        self.sent.push(executed)
        if self.meter:  # the prior's commands for the next frame: the last k sent, or the one just sent
            t1 = time.perf_counter()
            command.reality_gap = self.meter.record(outputs, self.sent.before_next() if self.sent.steps else executed)
            command.timings_ms["meter"] = (time.perf_counter() - t1) * 1e3
        return command
