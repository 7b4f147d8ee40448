"""`redraw collect`: drive a (source or target) simulator and record it as the robot would.

Each control step's camera render becomes a 640x480 JPEG CompressedImage and the executed command a
TwistStamped with the frame's stamp, written by the robot logger's own `EpisodeRecorder` (mcap,
version 8). Episodes are separated by a pause in the stamps, as a real operator's restarts would be.
The trainer then reads simulated and real data by one path: `redraw_trainer.data.bags.read_bag`.

Two things a real recording cannot have are kept beside it, for evaluation only: the simulator's
reward and termination per frame on their own topic (`LABELS_TOPIC`, read only by the oracle), and
`episodes.json` in each worker folder (which behaviour drove each episode).
"""

from __future__ import annotations

import bisect
import json
import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from redraw_trainer.data.sequences import SequenceData

CONTROL_PERIOD_NS = 100_000_000
EPISODE_PAUSE_NS = 2_000_000_000
LABELS_TOPIC = "/duckiebot/redraw/sim_labels"


@dataclass(frozen=True)
class BagJob:
    domain: str
    gap: str
    behaviour: str  # one spec, or several separated by ';' taken in turn, episode by episode
    transitions: int
    seed: int
    out_dir: str


def run_bag_job(job: BagJob) -> dict[str, int]:
    from redraw_logger.bag_writer import Topics
    from redraw_logger.recorder import EpisodeRecorder
    from redraw_policy.kinematics import action_to_twist
    from redraw_trainer.envs.behaviour import make_behaviour
    from redraw_trainer.envs.duckietown import camera_jpeg
    from redraw_trainer.envs.factory import make_env
    from redraw_trainer.envs.reality_gap import RealityGap

    gap = RealityGap.parse(job.gap)
    env = make_env(job.domain, gap, seed=job.seed)
    sim = env.unwrapped
    rng = np.random.default_rng(job.seed)
    specs = [b for b in job.behaviour.split(";") if b]
    policies = [make_behaviour(spec, env, rng, gap) for spec in specs]
    recorder = EpisodeRecorder(job.out_dir, Topics(labels=LABELS_TOPIC), max_seconds=120.0)
    # each seed its own 100,000 s of stamps, kept within a header's int32 seconds for any seed
    stamp = (1_700_000_000 + (job.seed % 4000) * 100_000) * 1_000_000_000
    obs, info = env.reset(seed=job.seed)
    steps, episodes = 0, [{"start_stamp": stamp, "behaviour": specs[0], "steps": 0}]
    recorder.on_label(stamp, reward=0.0, terminal=False)
    while steps < job.transitions:
        action = np.asarray(policies[(len(episodes) - 1) % len(policies)](obs, info), np.float32)
        v, omega = action_to_twist(action, sim.kinematics)
        recorder.on_frame(stamp, camera_jpeg(sim.last_frame))
        recorder.on_command(stamp, v, omega)
        obs, reward, terminated, truncated, info = env.step(action)
        steps += 1
        episodes[-1]["steps"] += 1
        stamp += CONTROL_PERIOD_NS
        recorder.on_label(stamp, reward=float(reward), terminal=bool(terminated))  # arriving at the next frame
        if terminated or truncated:
            recorder.on_frame(stamp, camera_jpeg(sim.last_frame))  # the frame the last action led to
            recorder.on_command(stamp, 0.0, 0.0)
            obs, info = env.reset()
            stamp += EPISODE_PAUSE_NS
            if steps < job.transitions:
                episodes.append({"start_stamp": stamp, "behaviour": specs[len(episodes) % len(specs)], "steps": 0})
                recorder.on_label(stamp, reward=0.0, terminal=False)
    recorder.on_frame(stamp, camera_jpeg(sim.last_frame))
    recorder.on_command(stamp, 0.0, 0.0)
    recorder.close()
    env.close()
    (Path(job.out_dir) / "episodes.json").write_text(json.dumps(episodes, indent=1))
    return recorder.stats.summary()


def _worker(job: BagJob) -> dict[str, int]:
    import torch

    torch.set_num_threads(1)
    return run_bag_job(job)


def collect_bag(domain: str, gap: str, behaviour: str, transitions: int, out_dir: str | Path, seed: int = 0,
                workers: int = 2) -> list[dict[str, int]]:
    """Record `transitions` steps split over `workers` simulators, each into `out_dir/worker_<k>/`.

    `behaviour` may list several specs separated by ';': every worker drives them in turn, episode by
    episode (each worker starting one further along), so every worker records the same mix.
    """
    out_dir = Path(out_dir)
    per = int(np.ceil(transitions / workers))
    behaviours = [b for b in behaviour.split(";") if b]
    rotated = [";".join(behaviours[k % len(behaviours):] + behaviours[:k % len(behaviours)]) for k in range(workers)]
    jobs = [BagJob(domain, gap, rotated[k], per, seed * 100 + k, str(out_dir / f"worker_{k}")) for k in range(workers)]
    if workers <= 1:
        return [run_bag_job(job) for job in jobs]
    with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
        return list(pool.map(_worker, jobs))


def split_summary(data: SequenceData, episode_stamps: list[int], bag_dir: Path, train_eps: list[int],
                  held_eps: list[int]) -> dict[str, Any]:
    """Rows and episodes on each side of the held-out split, per recorded behaviour (from episodes.json)."""
    starts: list[tuple[int, str]] = []  # (start stamp, behaviour) of every recorded episode, all workers
    for log in sorted(Path(bag_dir).rglob("episodes.json")):
        starts += [(e["start_stamp"], e["behaviour"]) for e in json.loads(log.read_text())]
    starts.sort()

    def behaviour_at(stamp: int) -> str:
        """The behaviour of the recorded episode this row's episode lies in (a bag chunk boundary or a
        skipped frame can start a new dataset episode inside a recorded one)."""
        k = bisect.bisect_right(starts, (stamp, "\uffff")) - 1
        return starts[k][1] if k >= 0 else "unknown"

    bounds = list(data.episode_starts) + [len(data)]
    out: dict[str, Any] = {}
    for side, episodes in (("train", train_eps), ("holdout", held_eps)):
        by: dict[str, dict[str, int]] = {}
        for e in episodes:
            name = behaviour_at(episode_stamps[e]) if e < len(episode_stamps) else "unknown"
            entry = by.setdefault(name, {"episodes": 0, "rows": 0})
            entry["episodes"] += 1
            entry["rows"] += int(bounds[e + 1] - bounds[e])
        out[side] = {"episodes": len(episodes), "rows": sum(b["rows"] for b in by.values()), "by_behaviour": by}
    return out
