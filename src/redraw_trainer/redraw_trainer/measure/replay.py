"""Offline replay: run the robot runtime over a recorded bag's frames and compare with what was driven.

What a user checks before putting a new policy on the robot: the policy node's own code path
(JPEG -> `redraw_perception` -> onnxruntime -> kinematics, `redraw_policy.runtime.PolicyRunner`) on
every paired camera frame, its (v, omega) beside the recorded command over time (a plot), the frames
with both overlaid (an MP4), and a one-line agreement summary.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from redraw_logger.pairing import PairingConfig
from redraw_perception import PreprocessError
from redraw_policy.runtime import OnnxPolicy, PolicyRunner
from redraw_trainer.data.bags import BagError, find_bags, read_pairs
from redraw_trainer.measure.plots import command_traces

VIDEO_SIZE = (320, 240)


@dataclass
class ReplayResult:
    frames: int
    rejected: int
    agreement: dict[str, float]
    plot: Path
    video: Path
    summary: str


def _overlay(jpeg: bytes, recorded: tuple[float, float], policy: tuple[float, float], t: float, scale: tuple[float, float]) -> np.ndarray:
    """The camera frame with the recorded (green) and the policy's (orange) command drawn as arrows."""
    frame = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    frame = cv2.resize(frame, VIDEO_SIZE, interpolation=cv2.INTER_AREA) if frame is not None else np.zeros((*VIDEO_SIZE[::-1], 3), np.uint8)
    w, h = VIDEO_SIZE
    base = (w // 2, h - 10)
    for (v, omega), colour in ((recorded, (60, 200, 60)), (policy, (0, 140, 255))):
        length = 70 * float(np.clip(v / scale[0], -1, 1))
        angle = float(np.clip(omega / scale[1], -1, 1)) * np.pi / 3  # omega > 0 turns left
        tip = (int(base[0] - length * np.sin(angle)), int(base[1] - length * np.cos(angle)))
        cv2.arrowedLine(frame, base, tip, colour, 3, tipLength=0.25)
    cv2.putText(frame, f"t={t:6.2f}s", (5, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1)
    cv2.putText(frame, f"recorded v={recorded[0]:+.2f} w={recorded[1]:+.2f}", (5, 32), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (60, 200, 60), 1)
    cv2.putText(frame, f"policy   v={policy[0]:+.2f} w={policy[1]:+.2f}", (5, 48), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 140, 255), 1)
    return frame


def agreement(recorded: np.ndarray, policy: np.ndarray) -> dict[str, float]:
    """How close the policy's (v, omega) is to the recorded commands, frame by frame."""
    turning = np.abs(recorded[:, 1]) > 1e-3
    same_turn = np.sign(recorded[turning, 1]) == np.sign(policy[turning, 1])
    corr = float(np.corrcoef(recorded[:, 1], policy[:, 1])[0, 1]) if len(recorded) > 2 and recorded[:, 1].std() > 0 and policy[:, 1].std() > 0 else float("nan")
    return {
        "turn_direction_agrees": float(same_turn.mean()) if turning.any() else float("nan"),
        "mean_abs_dv": float(np.abs(recorded[:, 0] - policy[:, 0]).mean()),
        "mean_abs_domega": float(np.abs(recorded[:, 1] - policy[:, 1]).mean()),
        "omega_correlation": corr,
    }


def replay_bag(bag: str | Path, policy_path: str | Path, out: str | Path, camera_topic: str | None = None,
               command_topic: str | None = None, pairing: PairingConfig = PairingConfig(), fps: float = 10.0) -> ReplayResult:
    """Run the policy over the bag's paired frames; write commands.png, replay.mp4 and summary.json under `out`."""
    runner = PolicyRunner(OnnxPolicy(policy_path))
    kin = runner.kinematics
    bags = find_bags(Path(bag))
    if not bags:
        raise BagError(f"{bag}: no bag here")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    video = out / "replay.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), fps, VIDEO_SIZE)
    if not writer.isOpened():
        raise RuntimeError(f"{video}: OpenCV cannot write MP4 here")
    times, recorded, commanded, rejected = [], [], [], 0
    try:
        for path in bags:
            pairs, _, _ = read_pairs(path, kin, pairing, camera_topic, command_topic)
            for pair in pairs:
                try:
                    command = runner.step_jpeg(pair.frame.payload)
                except PreprocessError:
                    rejected += 1
                    continue
                times.append(pair.frame.stamp / 1e9)
                recorded.append((pair.command.v, pair.command.omega))
                commanded.append((command.v, command.omega))
                writer.write(_overlay(pair.frame.payload, recorded[-1], commanded[-1], times[-1] - times[0], (kin.v_max, kin.omega_max)))
    finally:
        writer.release()
    if not times:
        raise BagError(f"{bag}: no paired camera frame the policy could run on ({rejected} rejected)")
    t = np.array(times) - times[0]
    rec, pol = np.array(recorded), np.array(commanded)
    plot = command_traces(t, {"recorded": rec, "policy (replayed)": pol}, out / "commands.png",
                          f"{Path(policy_path).name} replayed on {Path(bag).name}")
    scores = agreement(rec, pol)
    summary = (f"replayed {len(t)} frames ({rejected} rejected): turn direction agrees on "
               f"{scores['turn_direction_agrees']:.0%} of turning frames, mean |dv| {scores['mean_abs_dv']:.3f} m/s, "
               f"mean |domega| {scores['mean_abs_domega']:.3f} rad/s, omega correlation {scores['omega_correlation']:.2f}")
    (out / "summary.json").write_text(json.dumps({"frames": len(t), "rejected": rejected, **scores, "summary": summary}, indent=2))
    return ReplayResult(len(t), rejected, scores, plot, video, summary)
