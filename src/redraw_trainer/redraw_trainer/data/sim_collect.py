"""Collect simulator data in parallel worker processes, one chunk file per job.

Chunks already on disk are kept, so an interrupted collection resumes where it stopped.
"""

from __future__ import annotations

import multiprocessing as mp
import re
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from redraw_trainer.data.sequences import SequenceData


@dataclass(frozen=True)
class CollectJob:
    domain: str
    gap: str  # RealityGap spec
    behaviour: str  # behaviour spec, see envs.behaviour
    transitions: int
    seed: int
    image_size: int = 64
    observation: str = "rgb"  # PreprocessConfig.observation

    @property
    def name(self) -> str:
        behaviour = re.sub(r"(torch|onnx):([^@]*)", lambda m: f"{m.group(1)}-{Path(m.group(2)).stem}", self.behaviour)
        safe = f"{self.domain}_{self.gap}_{behaviour}".replace(":", "-").replace(",", "+").replace("=", "").replace("/", "-")
        seen = "" if self.observation == "rgb" else f"_{self.observation}"
        return f"{safe}_{self.transitions}_s{self.seed}{seen}.npz"


def run_job(job: CollectJob, out_dir: str | None = None) -> SequenceData:
    """Run one job in this process (and save its chunk if `out_dir` is given)."""
    from redraw_trainer.envs.behaviour import make_behaviour
    from redraw_trainer.envs.factory import make_env
    from redraw_trainer.envs.reality_gap import RealityGap
    from redraw_trainer.data.collect import collect

    gap = RealityGap.parse(job.gap)
    env = make_env(job.domain, gap, seed=job.seed, image_size=job.image_size, observation=job.observation)
    policy = make_behaviour(job.behaviour, env, np.random.default_rng(job.seed), gap)
    meta = {"domain": job.domain, "gap": gap.describe(), "behaviour": job.behaviour, "seed": job.seed}
    preprocessor = getattr(env.unwrapped, "preprocessor", None)
    if preprocessor is not None:
        meta["preprocess"] = preprocessor.config.to_dict()
    data = collect(env, policy, job.transitions, seed=job.seed, meta=meta)
    env.close()
    if out_dir is not None:
        data.save(Path(out_dir) / job.name)
    return data


def _worker(job: CollectJob, out_dir: str) -> str:
    import torch

    torch.set_num_threads(1)
    run_job(job, out_dir)
    return job.name


def collect_jobs(jobs: list[CollectJob], out_dir: str | Path, workers: int = 2, progress: bool = True) -> SequenceData:
    """Run every job whose chunk is missing (in `workers` processes), then load and join all chunks."""
    run_jobs(jobs, out_dir, workers, progress)
    return load_chunks(jobs, out_dir)


def run_jobs(jobs: list[CollectJob], out_dir: str | Path, workers: int = 2, progress: bool = True) -> None:
    """Run every job whose chunk is not in `out_dir` yet, in `workers` simulator processes."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    todo = [job for job in jobs if not (out_dir / job.name).exists()]
    if not todo:
        return
    if workers <= 1:
        for job in tqdm(todo, desc="collect", disable=not progress):
            run_job(job, str(out_dir))
        return
    with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
        futures = [pool.submit(_worker, job, str(out_dir)) for job in todo]
        for future in tqdm(as_completed(futures), total=len(futures), desc="collect", disable=not progress):
            future.result()


def load_chunks(jobs: list[CollectJob], out_dir: str | Path) -> SequenceData:
    """The jobs' chunks from `out_dir`, joined in the jobs' order."""
    return SequenceData.concatenate([SequenceData.load(Path(out_dir) / job.name) for job in jobs])
