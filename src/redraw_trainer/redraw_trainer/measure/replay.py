"""Offline replay: run the robot runtime over a recorded bag's frames and compare with what was driven.

What a user checks before putting a new policy on the robot: the policy node's own code path
(JPEG -> `redraw_perception` -> onnxruntime -> kinematics, `redraw_policy.runtime.PolicyRunner`) on
every paired camera frame, compared with the recorded command. Readable at any log length:

- `commands.png`: one row per episode (the `panels` longest, named), (v, omega) recorded vs policy against
  the time since the episode's first frame; lines break at gaps, never join two episodes or two bags;
- `worst_episodes.png`: the same for the `worst` episodes where the policy disagrees most;
- `agreement.png`: policy vs recorded v and omega, one point per frame;
- `replay.mp4`: the worst episodes' frames with both commands drawn, at most `video_frames` frames
  (a frame stride when they are longer);
- `summary.json`: agreement over all frames, the episode count and the worst episodes.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from redraw_logger.pairing import PairingConfig
from redraw_perception import PreprocessError
from redraw_policy.runtime import OnnxPolicy, PolicyRunner
from redraw_trainer.measure.clips import POLICY, RECORDED, Mp4Writer, draw_commands, fit_frame
from redraw_trainer.data.bags import Bag, BagError, find_bags, read_pairs
from redraw_trainer.measure.plots import command_scatter, episode_traces

MIN_RANKED_FRAMES = 10  # shorter episodes are ranked only when no episode is this long


@dataclass
class ReplayResult:
    frames: int
    rejected: int
    agreement: dict[str, float]
    plot: Path
    video: Path
    summary: str
    episodes: int = 0
    worst: list[dict[str, Any]] | None = None
    scatter: Path | None = None


def _decode(jpeg: bytes) -> np.ndarray:
    return fit_frame(cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR))


def _overlay(jpeg: bytes, recorded: tuple[float, float], policy: tuple[float, float], header: str,
             scale: tuple[float, float]) -> np.ndarray:
    """The camera frame with the recorded (green) and the policy's (orange) command drawn as arrows."""
    return draw_commands(_decode(jpeg), [("recorded", recorded, RECORDED), ("policy", policy, POLICY)], scale, header)


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


def disagreement(recorded: np.ndarray, policy: np.ndarray, scale: tuple[float, float]) -> float:
    """Mean over frames of (|dv| / v_max + |domega| / omega_max) / 2: 0 = identical, 1 = full-scale apart."""
    diff = np.abs(recorded - policy) / np.asarray(scale, float)
    return float(diff.mean())


def episode_table(times: np.ndarray, recorded: np.ndarray, policy: np.ndarray, episodes: np.ndarray,
                  meta: list[dict[str, Any]], scale: tuple[float, float]) -> list[dict[str, Any]]:
    """One row per episode: where it is (bag, first stamp), how long, and how far the policy is from the recording."""
    table = []
    for index, info in enumerate(meta):
        rows = np.flatnonzero(episodes == index)
        if len(rows) == 0:
            continue
        rec, pol = recorded[rows], policy[rows]
        table.append({
            **info, "episode": index, "frames": int(len(rows)),
            "duration_s": round(float(times[rows[-1]] - times[rows[0]]), 2),
            "disagreement": round(disagreement(rec, pol, scale), 4),
            "mean_abs_dv": round(float(np.abs(rec[:, 0] - pol[:, 0]).mean()), 4),
            "mean_abs_domega": round(float(np.abs(rec[:, 1] - pol[:, 1]).mean()), 4),
            "turn_direction_agrees": agreement(rec, pol)["turn_direction_agrees"],
        })
    return table


def worst_episodes(table: list[dict[str, Any]], count: int, min_frames: int = MIN_RANKED_FRAMES) -> list[dict[str, Any]]:
    """The `count` episodes of at least `min_frames` frames (any, if none is that long) where the policy
    disagrees most with the recorded commands, worst first."""
    long_enough = [row for row in table if row["frames"] >= min_frames] or table
    return sorted(long_enough, key=lambda row: -row["disagreement"])[:count]


def _bag_name(root: Path, bag: Bag) -> str:
    """The bag as the user finds it under what they passed (worker_1/redraw_0000), else its own name."""
    try:
        return str(bag.path.relative_to(root)) if bag.path != root else bag.name
    except ValueError:
        return bag.name


def _panel_title(row: dict[str, Any]) -> str:
    return (f"episode {row['episode']}: {row['bag']} from stamp {row['first_stamp_ns'] / 1e9:.1f} s, "
            f"{row['frames']} frames ({row['duration_s']:.1f} s), disagreement {row['disagreement']:.2f}")


def replay_bag(bag: str | Path, policy_path: str | Path, out: str | Path, camera_topic: str | None = None,
               command_topic: str | None = None, pairing: PairingConfig = PairingConfig(), fps: float = 10.0,
               panels: int = 6, worst: int = 3, video_frames: int = 600) -> ReplayResult:
    """Run the policy over the bag's paired frames; write commands.png, worst_episodes.png, agreement.png,
    replay.mp4 (the `worst` episodes, at most `video_frames` frames) and summary.json under `out`."""
    runner = PolicyRunner(OnnxPolicy(policy_path))
    kin = runner.kinematics
    scale = (kin.v_max, kin.omega_max)
    bags = find_bags(Path(bag))
    if not bags:
        raise BagError(f"{bag}: no bag here")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    times, recorded, commanded, episode_ids, rejected = [], [], [], [], 0
    meta: list[dict[str, Any]] = []  # per episode (global index, in bag order): bag name, first stamp
    kept: dict[int, list[bytes]] = {}  # JPEGs of the episodes that may end up in the video (the worst so far)
    for path in bags:
        pairs, _, _ = read_pairs(path, kin, pairing, camera_topic, command_topic)
        index_of: dict[int, int] = {}
        for pair in pairs:
            if pair.first:
                runner.reset()
            try:
                command = runner.step_jpeg(pair.frame.payload)
            except PreprocessError:
                rejected += 1
                runner.sent_instead(pair.command.v, pair.command.omega, stepped=False)
                continue
            runner.sent_instead(pair.command.v, pair.command.omega)  # the model reads what the robot sent
            if pair.episode not in index_of:
                index_of[pair.episode] = len(meta)
                meta.append({"bag": _bag_name(Path(bag), path), "first_stamp_ns": int(pair.frame.stamp)})
            episode_ids.append(index_of[pair.episode])
            times.append(pair.frame.stamp / 1e9)
            recorded.append((pair.command.v, pair.command.omega))
            commanded.append((command.v, command.omega))
            kept.setdefault(index_of[pair.episode], []).append(pair.frame.payload)
        del pairs
        if times:  # keep only the frames of the worst episodes so far: memory stays one bag's worth
            table = episode_table(np.array(times), np.array(recorded), np.array(commanded), np.array(episode_ids),
                                  meta, scale)
            keep = {row["episode"] for row in worst_episodes(table, worst)}
            kept = {e: frames for e, frames in kept.items() if e in keep}
    if not times:
        raise BagError(f"{bag}: no paired camera frame the policy could run on ({rejected} rejected)")
    t, rec, pol, ids = np.array(times), np.array(recorded), np.array(commanded), np.array(episode_ids)
    table = episode_table(t, rec, pol, ids, meta, scale)
    worst_rows = worst_episodes(table, worst)
    max_gap = 1.5 * pairing.max_step_s  # a line breaks wherever a step is missing (e.g. a rejected frame)
    name = f"{Path(policy_path).name} replayed on {Path(bag).name}"

    def traces(rows: list[dict[str, Any]]) -> list[tuple[str, np.ndarray, dict[str, np.ndarray]]]:
        out_rows = []
        for row in rows:
            mask = ids == row["episode"]
            out_rows.append((_panel_title(row), t[mask] - t[mask][0],
                             {"recorded": rec[mask], "policy (replayed)": pol[mask]}))
        return out_rows

    longest = sorted(table, key=lambda row: -row["frames"])[:panels]
    shown = "" if len(table) <= panels else f" (the {len(longest)} longest of {len(table)} episodes)"
    plot = episode_traces(traces(sorted(longest, key=lambda row: row["episode"])), out / "commands.png",
                          f"{name}{shown}", max_gap)
    episode_traces(traces(worst_rows), out / "worst_episodes.png",
                   f"{name}: the {len(worst_rows)} episode(s) where the policy disagrees most", max_gap)
    scatter = command_scatter(rec, pol, out / "agreement.png", f"{name}: {len(t)} frames, {len(table)} episodes")

    video = out / "replay.mp4"
    total = sum(row["frames"] for row in worst_rows)
    stride = max(1, math.ceil(total / max(1, video_frames)))
    with Mp4Writer(video, fps) as writer:
        for rank, row in enumerate(worst_rows, 1):
            rows = np.flatnonzero(ids == row["episode"])
            for k in range(0, len(rows), stride):
                i = rows[k]
                writer.write(_overlay(kept[row["episode"]][k], tuple(rec[i]), tuple(pol[i]),
                                      f"worst #{rank}: ep {row['episode']} t={t[i] - t[rows[0]]:6.2f}s", scale))

    scores = agreement(rec, pol)
    summary = (f"replayed {len(t)} frames ({rejected} rejected) in {len(table)} episode(s): turn direction agrees on "
               f"{scores['turn_direction_agrees']:.0%} of turning frames, mean |dv| {scores['mean_abs_dv']:.3f} m/s, "
               f"mean |domega| {scores['mean_abs_domega']:.3f} rad/s, omega correlation {scores['omega_correlation']:.2f}")
    worst_text = "; ".join(f"episode {r['episode']} ({r['bag']}, {r['frames']} frames) {r['disagreement']:.2f}"
                           for r in worst_rows)
    summary += f"\nmost disagreeing (0 = same command, 1 = full scale apart): {worst_text}"
    (out / "summary.json").write_text(json.dumps({
        "frames": len(t), "rejected": rejected, "episodes": len(table), **scores,
        "worst_episodes": worst_rows,
        "video": {"frames": writer.frames, "stride": stride, "episodes": [r["episode"] for r in worst_rows]},
        "summary": summary}, indent=2))
    return ReplayResult(len(t), rejected, scores, plot, video, summary, len(table), worst_rows, scatter)
