"""The reality-gap meter over recordings, and its warning threshold measured in simulation.

The reading itself is `redraw_policy.gap_meter` (the robot's own code) running the exported file over a bag's
paired frames, exactly as `redraw replay` does: each frame's KL(posterior || prior predicted from the previous
frame's z, the recorded command and the previous belief), reset at the reader's episode starts and rejected
frames. `episode_gaps` gives one row per episode (what `redraw bag info --meter` prints); `calibrate_threshold`
records a few simulated episodes in the source domain and under a reference gap, reads the *unadapted* model's
meter on both and puts the warning threshold halfway between (`redraw export` stores it in the file).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from redraw_logger.pairing import PairingConfig
from redraw_perception import ContractError, PreprocessError
from redraw_policy.gap_meter import summarise
from redraw_policy.kinematics import KinematicsConfig, twist_to_action
from redraw_policy.runtime import OnnxPolicy, PolicyRunner
from redraw_trainer.data.bags import BagError, find_bags, read_pairs
from redraw_trainer.data.sim_to_bag import collect_bag
from redraw_trainer.learn.export import export_onnx
from redraw_trainer.model.actor import Actor
from redraw_trainer.model.world_model import WorldModel

REFERENCE_GAP = "steering_reversed,trim=0.1"
CALIBRATION_BEHAVIOUR = "operator;operator;smooth"  # the demo's target driving: lane following plus exploration


def recorded_action(v: float, omega: float, kinematics: KinematicsConfig) -> np.ndarray:
    """The normalised command a recorded (v, omega) was, as the bag reader turns it into training actions."""
    return np.clip(twist_to_action(v, omega, kinematics), -1.0, 1.0).astype(np.float32)


def meter_runner(policy_path: str | Path) -> PolicyRunner:
    """The robot runtime with its meter on; a file exported without the meter is refused, saying so."""
    runner = PolicyRunner(OnnxPolicy(policy_path), meter_window=10**9)
    if runner.meter is None:
        raise ContractError(f"{policy_path}: exported without the reality-gap meter (no 'redraw.reality_gap' "
                            "metadata); export the policy again with `redraw export`")
    return runner


def episode_gaps(bag: str | Path, policy_path: str | Path, camera_topic: str | None = None,
                 command_topic: str | None = None, pairing: PairingConfig = PairingConfig(),
                 kinematics: KinematicsConfig | None = None) -> list[dict[str, Any]]:
    """One row per episode of every bag under `bag`: bag, first stamp, frames, and the meter's summary.
    `kinematics`: how the recorded commands read (the robot's calibration; default the file's)."""
    runner = meter_runner(policy_path)
    kinematics = kinematics or runner.kinematics
    bags = find_bags(Path(bag))
    if not bags:
        raise BagError(f"{bag}: no bag here")
    rows: list[dict[str, Any]] = []
    for path in bags:
        pairs, _, _ = read_pairs(path, kinematics, pairing, camera_topic, command_topic)
        current, readings = None, []
        for pair in pairs:
            if pair.episode != current:
                if current is not None:
                    rows[-1].update(summarise(readings))
                current, readings = pair.episode, []
                runner.reset()  # an episode starts: standing, the meter afresh (as `redraw replay`)
                rows.append({"bag": path.name, "episode": len(rows), "first_stamp_ns": int(pair.frame.stamp),
                             "frames": 0})
            try:
                command = runner.step_jpeg(pair.frame.payload, pair.frame.stamp / 1e9,
                                           recorded_action(pair.command.v, pair.command.omega, kinematics))
            except PreprocessError:  # the reader ends the episode at an unusable frame
                runner.skipped(recorded_action(pair.command.v, pair.command.omega, kinematics))
                continue
            rows[-1]["frames"] += 1
            if command.reality_gap is not None:
                readings.append(command.reality_gap)
        if current is not None:
            rows[-1].update(summarise(readings))
    return rows


def pooled(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean over every metered frame of the rows (episodes weighted by their metered frames)."""
    frames = sum(r["metered_frames"] for r in rows)
    mean = sum(r["gap_mean"] * r["metered_frames"] for r in rows if r["metered_frames"]) / frames if frames else None
    return {"episodes": len(rows), "metered_frames": frames, "gap_mean": None if mean is None else round(mean, 4)}


def format_gaps(rows: list[dict[str, Any]], threshold: float | None) -> list[str]:
    """The per-episode table a user reads, then the pooled mean against the file's threshold."""
    lines = [f"  {'episode':>7} {'bag':<24} {'frames':>6} {'metered':>7} {'mean':>8} {'median':>8} {'p90':>8}"]
    for r in rows:
        values = [f"{r[k]:8.3f}" if r[k] is not None else f"{'-':>8}" for k in ("gap_mean", "gap_median", "gap_p90")]
        lines.append(f"  {r['episode']:>7} {r['bag'][:24]:<24} {r['frames']:>6} {r['metered_frames']:>7} {' '.join(values)}")
    total = pooled(rows)
    verdict = ""
    if threshold is not None and total["gap_mean"] is not None:
        verdict = (f"; threshold {threshold:.3f}: " + ("ABOVE, the model does not predict this robot well "
                   "(adapt it: `redraw adapt`)" if total["gap_mean"] > threshold else "below"))
    lines.append(f"reality gap (KL posterior || prior, nats/frame): mean {total['gap_mean']} over "
                 f"{total['metered_frames']} metered frames in {total['episodes']} episode(s){verdict}")
    return lines


def calibrate_threshold(model: WorldModel, actor: Actor, preprocess: dict[str, Any] | None,
                        kinematics: dict[str, Any] | None, reference_gap: str = REFERENCE_GAP,
                        transitions: int = 400, seed: int = 0,
                        dynamics: nn.Module | None = None) -> tuple[float, dict[str, Any]]:
    """(threshold, how it was measured): the unadapted prior's (`dynamics`, default the model's own) mean reading
    on `transitions` simulated steps of the source domain and as many under `reference_gap`, halfway between."""
    with tempfile.TemporaryDirectory(prefix="redraw-gap-") as tmp:
        onnx_path = Path(tmp) / "zero_shot.onnx"
        export_onnx(model, actor, onnx_path, preprocess, kinematics, dynamics=dynamics or model.dynamics)
        means = {}
        for name, gap in (("source", "none"), ("reference", reference_gap)):
            collect_bag("duckietown", gap, CALIBRATION_BEHAVIOUR, transitions, Path(tmp) / name, seed, workers=1)
            means[name] = pooled(episode_gaps(Path(tmp) / name, onnx_path))
    source, reference = means["source"]["gap_mean"], means["reference"]["gap_mean"]
    if source is None or reference is None:
        raise ValueError(f"reality-gap calibration: no metered frames (source {means['source']}, "
                         f"reference {means['reference']}); record more transitions")
    threshold = source + 0.5 * (reference - source)
    calibration = {"rule": "halfway between the unadapted model's mean reading in the source simulator and under "
                           "the reference gap", "reference_gap": reference_gap, "behaviour": CALIBRATION_BEHAVIOUR,
                   "transitions": transitions, "seed": seed, "source": means["source"], "reference": means["reference"]}
    return round(float(threshold), 4), calibration
