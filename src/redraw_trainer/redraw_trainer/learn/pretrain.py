"""`redraw pretrain`: source-simulator data, Plan2Explore rounds, the DRAW world model, a task policy.

Phases, each skipped when its output is already in the run directory (so a killed run continues):
  1. seed data: behaviour policies (noisy lane PID, smooth random, random) in parallel simulators;
  2. world model trained to `train.steps`;
  3. Plan2Explore rounds: fit the disagreement ensemble, train the explorer in imagination, collect
     with it, train the world model `steps_per_round` more on everything;
  4. task policy trained in imagination on the sim reward head;
  5. evaluation in the source simulator: task policy vs random vs the lane PID.

Across ranks (torchrun, `redraw pretrain --nproc N`; `core/distributed.py`): each rank runs its share of the
missing data chunks (seed and Plan2Explore data) in its own simulator processes, then every rank reads all chunks
from the run directory; the world model trains data-parallel (`learn/train.py`); rank 0 alone fits the
disagreement ensemble and the explorer, the task policy and the evaluation, and writes every file. A chunk's seed
is its job's, so the data is the same at any number of ranks and a run resumes at any number.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from redraw_trainer.core import distributed
from redraw_trainer.core.config import Config
from redraw_trainer.data.sequences import SequenceData
from redraw_trainer.data.sim_collect import CollectJob, load_chunks, run_jobs
from redraw_trainer.core.devices import resolve_device
from redraw_trainer.learn.imagination import train_actor_critic
from redraw_trainer.core.metrics_log import MetricsLog
from redraw_trainer.learn.plan2explore import Disagreement, train_disagreement
from redraw_trainer.model.frame_policy import load_policy, save_policy
from redraw_trainer.learn.posteriors import imagination_starts
from redraw_trainer.learn.train import CHECKPOINT_NAME, train_world_model
from redraw_trainer.model.checkpoint import load_world_model
from redraw_trainer.model.world_model import WorldModel, command_dim


def seed_jobs(cfg: Config) -> list[CollectJob]:
    p = cfg.pretrain
    behaviours = [b for b in p.seed_behaviours.split(";") if b]
    chunks = max(1, p.seed_transitions // p.chunk_transitions)
    return [CollectJob(p.domain, "none", behaviours[i % len(behaviours)], p.chunk_transitions, cfg.seed * 1000 + i,
                       cfg.model.image_size, cfg.model.observation) for i in range(chunks)]


def explore_jobs(cfg: Config, explorer: Path, round_: int) -> list[CollectJob]:
    p = cfg.pretrain
    chunks = max(1, p.explore_transitions // p.chunk_transitions)
    per_chunk = p.explore_transitions // chunks
    return [CollectJob(p.domain, "none", f"torch:{explorer}@stochastic", per_chunk,
                       cfg.seed * 1000 + 100 * round_ + i, cfg.model.image_size, cfg.model.observation) for i in range(chunks)]


def _train(data: SequenceData, cfg: Config, run_dir: Path, steps: int, progress: bool) -> None:
    cfg.train.steps = steps
    extra = {"data_summary": describe_data(data), "reward": task_reward(cfg)}
    train_world_model(data, cfg, run_dir, progress=progress, extra=extra)


def task_reward(cfg: Config) -> dict[str, float]:
    """The reward the source domain pays, stored with the world model whose reward head learns it."""
    if cfg.pretrain.domain != "duckietown":
        return {}
    from redraw_trainer.core.config import DuckietownConfig

    return DuckietownConfig().reward_spec()


def describe_data(data: SequenceData) -> dict[str, Any]:
    return {"transitions": len(data), "episodes": data.num_episodes, "mean_reward": float(data.reward.mean())}


def collect(jobs: list[CollectJob], data_dir: Path, workers: int, progress: bool) -> SequenceData:
    """Each rank runs its share of the missing chunks in its own `workers` simulators; then all read them all."""
    run_jobs(distributed.share(jobs), data_dir, workers, progress and distributed.is_main())
    distributed.barrier()
    return load_chunks(jobs, data_dir)


def pretrain(cfg: Config, run_dir: str | Path, progress: bool = True) -> dict[str, Any]:
    """Run (or continue) every phase; returns the evaluation summary (on rank 0; {} on the other ranks)."""
    run_dir = Path(run_dir)
    main = distributed.is_main()
    if main:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2))
    p = cfg.pretrain
    data_dir = run_dir / "data"
    jobs = seed_jobs(cfg)
    data = collect(jobs, data_dir, p.workers, progress)
    base_steps = cfg.train.steps
    _train(data, cfg, run_dir, base_steps, progress)
    log = MetricsLog(run_dir, "explore.jsonl", resume_step=10**9) if main else None
    for round_ in range(1, p.explore_rounds + 1):
        explorer = run_dir / f"explorer_round{round_}.pt"
        if log is not None and not explorer.exists():
            model, _, _ = load_world_model(run_dir / CHECKPOINT_NAME, resolve_device(cfg.device))
            ensemble = Disagreement(cfg.model.groups * cfg.model.classes, command_dim(cfg.model),
                                    model.encoder.embed_dim, p.ensemble_members, cfg.model.hidden)
            losses = train_disagreement(model, ensemble, data, p.ensemble_updates, seed=cfg.seed + round_)
            starts, commands = imagination_starts(model, data)
            agent = train_actor_critic(model, model.dynamics, starts, p.explore_updates, commands, cfg=cfg.policy,
                                       reward_fn=ensemble.intrinsic_reward, seed=cfg.seed + round_, progress=progress)
            save_policy(explorer, model, cfg, agent.actor, agent.cfg, extra={"role": "plan2explore explorer"})
            log.write(round_, {"explore/ensemble_loss_first": losses[0], "explore/ensemble_loss_last": losses[-1]})
        distributed.barrier()  # every rank's simulators drive with the explorer rank 0 wrote
        jobs += explore_jobs(cfg, explorer, round_)
        data = collect(jobs, data_dir, p.workers, progress)
        _train(data, cfg, run_dir, base_steps + round_ * p.steps_per_round, progress)
    if log is None:
        return {}
    log.close()

    model, _, _ = load_world_model(run_dir / CHECKPOINT_NAME, resolve_device(cfg.device))
    return task_policy_phase(model, data, jobs, cfg, run_dir, progress)


def task_policy_phase(model: WorldModel, data: SequenceData, jobs: list[CollectJob], cfg: Config, run_dir: Path,
                      progress: bool, updates: int | None = None, episodes: int | None = None) -> dict[str, Any]:
    """Train the source task policy in `model`'s imagination, then evaluate it; each step skips when done."""
    policy_path = run_dir / "task_policy.pt"
    if not policy_path.exists():
        policy_log = MetricsLog(run_dir, "policy.jsonl")
        starts, commands = imagination_starts(model, data)
        agent = train_actor_critic(model, model.dynamics, starts, cfg.policy.updates if updates is None else updates,
                                   commands, cfg=cfg.policy,
                                   seed=cfg.seed, progress=progress, on_log=policy_log.write)
        policy_log.close()
        save_policy(policy_path, model, cfg, agent.actor, agent.cfg, extra={"role": "task policy, source sim"})
    summary_path = run_dir / "eval.json"
    if summary_path.exists():
        return json.loads(summary_path.read_text())
    summary = evaluate_source(cfg, policy_path, cfg.pretrain.eval_episodes if episodes is None else episodes)
    summary["data"] = {**describe_data(data), "chunks": [job.name for job in jobs]}
    summary_path.write_text(json.dumps(summary, indent=2))
    return summary


def evaluate_source(cfg: Config, policy_path: Path, episodes: int) -> dict[str, Any]:
    """Returns of the task policy, a random policy and the lane PID in the source simulator."""
    from redraw_trainer.envs.behaviour import make_behaviour
    from redraw_trainer.envs.factory import make_env
    from redraw_trainer.envs.rollout import run_episodes

    env = make_env(cfg.pretrain.domain, seed=cfg.seed, image_size=cfg.model.image_size,
                   observation=cfg.model.observation)
    policy, _ = load_policy(policy_path)
    rng = np.random.default_rng(cfg.seed)
    results = {"task_policy": run_episodes(env, policy, episodes).to_dict(),
               "random": run_episodes(env, make_behaviour("random", env, rng), episodes).to_dict()}
    if cfg.pretrain.domain == "duckietown":
        results["lane_pid"] = run_episodes(env, make_behaviour("pid", env, rng), episodes).to_dict()
    env.close()
    return {"episodes": episodes, "source_returns": results}


def export_world_model(checkpoint: str | Path, out: str | Path) -> Path:
    """Copy a world-model checkpoint without optimizer and random state, in float16 (what ships in the repo)."""
    from redraw_trainer.model.checkpoint import own_fields, save_world_model

    model, cfg, data = load_world_model(checkpoint)
    out = Path(out)
    model.half()  # float16 weights halve the shipped file; loading copies them back into float32
    save_world_model(out, model, cfg, int(data["step"]), own_fields(data))
    return out
