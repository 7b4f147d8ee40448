"""The live reality-gap meter, ROS-free: how well the model's prior predicted each new camera frame.

A policy exported with its prior (`redraw export`; metadata `redraw.reality_gap`) takes, beside the frame, the
previous frame's latent z, the command the robot sent for it and the previous prior belief, and returns this
frame's posterior and the prior's prediction of it (log-probabilities, G categoricals x K classes). The meter
carries that state from frame to frame and reads, per frame,

    gap_t = KL( q(z_t | x_t) || p(z_t | z_{t-1}, a_{t-1}, b_{t-1}) )    summed over the G categoricals, nats

the loss ReDRAW's residual is trained on, with the model's own z (the posterior's mode, what the actor reads)
instead of a sample. The model steps at the control period (10 Hz): frames closer than `min_step_s` to the last
metered one are acted on but not metered, a gap wider than `max_step_s` (stale frames, a restart) or `reset()`
starts again from the learned initial belief with no reading for that frame — the rules the bag reader uses to
split episodes, so a recording replayed offline (`redraw replay`, `redraw bag info --meter`) reads the same.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from redraw_perception import ContractError

CONTRACT_KEY = "redraw.reality_gap"
METER_INPUTS = ("prev_z", "prev_action", "prev_belief", "is_first")
METER_OUTPUTS = ("z", "posterior", "prior")
MIN_FRAMES = 10  # metered frames (1 s) before the moving average is judged against the threshold


@dataclass(frozen=True)
class MeterContract:
    """What `redraw.reality_gap` declares: latent size, action size and the warning threshold (None: not measured)."""

    groups: int
    classes: int
    action_dim: int
    threshold: float | None
    calibration: dict[str, Any] | None = None

    @property
    def latent(self) -> int:
        return self.groups * self.classes

    @classmethod
    def from_model(cls, metadata: dict[str, Any], inputs: dict[str, tuple[str, list]], outputs: dict[str, list],
                   source: str) -> "MeterContract | None":
        """The meter contract of a loaded file, checked against its graph (`inputs`: name -> (type, shape),
        `outputs`: name -> shape); None for a file exported without the meter. A broken one: ContractError."""
        declared = metadata.get(CONTRACT_KEY)
        if declared is None:
            return None
        try:
            groups, classes = (int(v) for v in declared["latent"])
            action_dim = int(declared.get("action_dim", 2))
            threshold = declared.get("threshold")
            threshold = None if threshold is None else float(threshold)
            names_in, names_out = list(declared["inputs"]), list(declared["outputs"])
        except (KeyError, TypeError, ValueError) as err:
            raise ContractError(f"{source}: metadata '{CONTRACT_KEY}' is malformed ({type(err).__name__}: {err}); "
                                f"expected latent [G, K], inputs, outputs, threshold") from None
        if threshold is not None and not (np.isfinite(threshold) and threshold >= 0):
            raise ContractError(f"{source}: metadata '{CONTRACT_KEY}' field 'threshold' is {threshold}, expected >= 0")
        latent = groups * classes
        wanted_in = {"prev_z": latent, "prev_action": action_dim, "prev_belief": latent, "is_first": 1}
        wanted_out = {"z": latent, "posterior": latent, "prior": latent}
        for kind, names, wanted, graph in (("input", names_in, wanted_in, {k: v[1] for k, v in inputs.items()}),
                                           ("output", names_out, wanted_out, outputs)):
            for name, width in wanted.items():
                if name not in names:
                    raise ContractError(f"{source}: metadata '{CONTRACT_KEY}' does not list the meter {kind} '{name}' "
                                        f"(lists {names}); re-export with `redraw export`")
                if name not in graph:
                    raise ContractError(f"{source}: metadata '{CONTRACT_KEY}' names {kind} '{name}' but the graph has "
                                        f"no such {kind} (it has {sorted(graph)}); re-export with `redraw export`")
                shape = graph[name]
                if len(shape) != 2 or shape[-1] != width:
                    raise ContractError(f"{source}: meter {kind} '{name}' is {shape}, expected [N, {width}] for a "
                                        f"{groups}x{classes} latent")
        for name in METER_INPUTS:
            if inputs[name][0] != "tensor(float)":
                raise ContractError(f"{source}: meter input '{name}' is {inputs[name][0]}, expected tensor(float)")
        return cls(groups, classes, action_dim, threshold, declared.get("calibration"))


def categorical_kl(posterior: np.ndarray, prior: np.ndarray) -> float:
    """KL(posterior || prior) of log-probabilities (..., G*K) or (G, K) grouped in `classes`, summed: nats."""
    posterior, prior = np.asarray(posterior, np.float64), np.asarray(prior, np.float64)
    return float((np.exp(posterior) * (posterior - prior)).sum())


def summarise(readings: list[float] | np.ndarray) -> dict[str, float | int | None]:
    """What a user reads about a stretch of driving: how many frames were metered, mean, median and 90th percentile."""
    values = np.asarray(readings, np.float64)
    if values.size == 0:
        return {"metered_frames": 0, "gap_mean": None, "gap_median": None, "gap_p90": None}
    return {"metered_frames": int(values.size), "gap_mean": round(float(values.mean()), 4),
            "gap_median": round(float(np.median(values)), 4), "gap_p90": round(float(np.percentile(values, 90)), 4)}


class GapMeter:
    """State carried between frames and the per-frame reading. Per frame: `inputs(now)` -> the graph's meter
    inputs; run the graph; `record(outputs, sent)` with the command sent for that frame -> the reading or None."""

    def __init__(self, contract: MeterContract, window: int = 50, min_step_s: float = 0.08,
                 max_step_s: float = 0.12) -> None:
        self.contract, self.min_step_s, self.max_step_s = contract, min_step_s, max_step_s
        self.recent: deque[float] = deque(maxlen=max(1, window))
        self.readings = 0
        self._zeros = {"prev_z": np.zeros((1, contract.latent), np.float32),
                       "prev_action": np.zeros((1, contract.action_dim), np.float32),
                       "prev_belief": np.full((1, contract.latent), 1.0 / contract.classes, np.float32),
                       "is_first": np.ones((1, 1), np.float32)}
        self.reset()

    def reset(self) -> None:
        """Forget the previous frame (an episode restart, stale frames): the next frame starts afresh."""
        self._state: dict[str, np.ndarray] | None = None
        self._last_time: float | None = None
        self._metered = False

    @property
    def average(self) -> float | None:
        """Mean reading over the last `window` metered frames (None before the first)."""
        return float(np.mean(self.recent)) if self.recent else None

    @property
    def above_threshold(self) -> bool:
        """The moving average is over the file's threshold (judged once `MIN_FRAMES` frames, or the window, are in)."""
        threshold, average = self.contract.threshold, self.average
        settled = len(self.recent) >= min(self.recent.maxlen, MIN_FRAMES)
        return threshold is not None and average is not None and settled and average > threshold

    def inputs(self, now: float | None = None) -> dict[str, np.ndarray]:
        """The meter inputs for the frame at `now` (seconds; None: every frame is a step) and whether it is metered."""
        if self._last_time is not None and now is not None:
            gap = now - self._last_time
            if gap > self.max_step_s or gap < 0:
                self.reset()
            elif gap < self.min_step_s:  # acted on, not metered: the prior predicts one control period ahead
                self._metered = False
                return self._state
        self._metered = True
        self._now = now
        return self._state if self._state is not None else self._zeros

    def record(self, outputs: dict[str, np.ndarray], sent: np.ndarray) -> float | None:
        """After the graph ran on `inputs()`: this frame's reading (None when not metered or a first frame) and
        the state for the next, from the graph's z, posterior and prior and the command `sent` for this frame."""
        if not self._metered:
            return None
        first = self._state is None
        posterior, prior = outputs["posterior"][0], outputs["prior"][0]
        reading = None if first else categorical_kl(posterior, prior)
        if reading is not None and not np.isfinite(reading):
            self.reset()
            return None
        sent = np.asarray(sent, np.float32).reshape(1, -1)
        if not np.all(np.isfinite(sent)):
            sent = np.zeros_like(sent)
        self._state = {"prev_z": np.asarray(outputs["z"], np.float32).reshape(1, -1), "prev_action": sent,
                       "prev_belief": np.exp(np.asarray(prior, np.float32)).reshape(1, -1),
                       "is_first": np.zeros((1, 1), np.float32)}
        self._last_time = self._now
        if reading is not None:
            self.recent.append(reading)
            self.readings += 1
        return reading
