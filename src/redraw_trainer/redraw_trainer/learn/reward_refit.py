"""Refit a pretrained world model's reward head to a changed task reward, without re-pretraining.

The reward head reads only the latent z and the command that led into the frame, so a new reward (or a
head that reads new inputs, `RefitConfig.inputs`) needs new labels, not a new world model: drive the
source simulator with the pretraining behaviours (the current reward labels each step), encode the
frames with the frozen encoder, and fit the head with the pretraining loss (symlog two-hot
cross-entropy). Encoder, decoder, dynamics and continuation head stay bit for bit what they were.
`refit_reward` then retrains the source task policy and re-evaluates it, like the end of `pretrain`.
"""

from __future__ import annotations


from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from redraw_trainer.core.config import RefitConfig
from redraw_trainer.data.sequences import SequenceData
from redraw_trainer.core.devices import generator as seeded_generator, module_device
from redraw_trainer.model.distributions import mode_one_hot, sample_one_hot, two_hot_loss
from redraw_trainer.learn.posteriors import encode_posteriors
from redraw_trainer.model.world_model import WorldModel, new_reward_head


def reward_mismatch(ckpt: dict[str, Any], path: str | Path) -> str | None:
    """A warning when a Duckietown world model's reward head learned another reward than the simulator pays."""
    from redraw_trainer.core.config import DuckietownConfig

    if ckpt.get("config", {}).get("pretrain", {}).get("domain", "duckietown") != "duckietown":
        return None
    current, learned = DuckietownConfig().reward_spec(), ckpt.get("reward")
    if learned == current:
        return None
    return (f"{path}: its reward head learned {learned or 'an unrecorded reward'}, but the simulator now pays "
            f"{current}; imagined rewards will not match. Run `redraw refit-reward --model {path} --out ...`.")


def predicted_rewards(model: WorldModel, cache: torch.Tensor, commands: np.ndarray) -> np.ndarray:
    """The reward head's prediction at the posterior modes of cached frames, given the commands c_t into them."""
    with torch.no_grad():
        z = mode_one_hot(cache)
        return model.reward(z, torch.from_numpy(commands).to(z.device)).cpu().numpy()


def reward_error(model: WorldModel, cache: torch.Tensor, commands: np.ndarray, reward: np.ndarray) -> float:
    """Mean |predicted - labelled| reward over cached posteriors (posterior modes)."""
    return float(np.abs(predicted_rewards(model, cache, commands) - reward).mean())


def refit_reward_head(model: WorldModel, data: SequenceData, cfg: RefitConfig, seed: int = 0,
                      progress: bool = True) -> list[dict[str, float]]:
    """Train only `model.reward_head` on `data`'s reward labels; returns the log (loss, held-out error)."""
    device = module_device(model)
    model.eval()
    model.requires_grad_(False)
    if model.cfg.reward_inputs != cfg.inputs:
        model.cfg.reward_inputs = cfg.inputs
        model.reward_head = new_reward_head(model.cfg).to(device)
    model.reward_head.requires_grad_(True)
    cache = encode_posteriors(model, data)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(data))
    n_hold = max(1, int(len(data) * cfg.holdout_fraction))
    hold, train = order[:n_hold], order[n_hold:]
    rewards = torch.from_numpy(data.reward.astype(np.float32)).to(device)
    commands = data.commands(model.cfg.command_history)
    actions = torch.from_numpy(commands).to(device)
    generator = seeded_generator(seed, device)
    optimizer = torch.optim.Adam(model.reward_head.parameters(), lr=cfg.lr)
    history = [{"step": 0, "refit/holdout_abs_error": reward_error(model, cache[hold], commands[hold], data.reward[hold])}]
    for step in tqdm(range(1, cfg.steps + 1), desc="reward head", disable=not progress, leave=False):
        rows = torch.from_numpy(rng.choice(train, cfg.batch_size)).to(device)
        z = sample_one_hot(cache[rows], generator)
        loss = two_hot_loss(model.reward_logits(z, actions[rows]), rewards[rows], model.reward_bins).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step % cfg.log_every == 0 or step == cfg.steps:
            history.append({"step": step, "refit/loss": loss.item(),
                            "refit/holdout_abs_error": reward_error(model, cache[hold], commands[hold], data.reward[hold])})
    model.requires_grad_(False)
    return history


def refit_reward(model_path: str | Path, run_dir: str | Path, out: str | Path, transitions: int,
                 refit: RefitConfig | None = None, policy_updates: int | None = None, eval_episodes: int | None = None,
                 overrides: list[str] = (), progress: bool = True, preset: str = "small") -> dict[str, Any]:
    """Collect labelled source data, refit the head, write `out`, retrain + evaluate the task policy in `run_dir`
    (actor-critic settings from `preset`, as every policy trained anew).

    Phases whose output exists in `run_dir` are skipped, so an interrupted run continues.
    """
    from redraw_trainer.core.config import apply_overrides, with_preset_policy
    from redraw_trainer.data.sim_collect import collect_jobs
    from redraw_trainer.core.devices import resolve_device
    from redraw_trainer.core.metrics_log import MetricsLog
    from redraw_trainer.learn.pretrain import describe_data, export_world_model, seed_jobs, task_policy_phase, task_reward
    from redraw_trainer.model.checkpoint import load_world_model, own_fields, save_world_model

    refit = refit or RefitConfig()
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    model, cfg, ckpt = load_world_model(model_path)
    with_preset_policy(cfg, preset)
    apply_overrides(cfg, list(overrides))
    model.to(resolve_device(cfg.device))
    jobs = seed_jobs(cfg)
    per_job = jobs[0].transitions
    jobs = jobs[: max(1, -(-transitions // per_job))]  # the pretraining behaviours and seeds, first N chunks
    data = collect_jobs(jobs, run_dir / "data", cfg.pretrain.workers, progress)

    refit_path = run_dir / "world_model_refit.pt"
    if not refit_path.exists():
        log = MetricsLog(run_dir, "refit.jsonl")
        history = refit_reward_head(model, data, refit, seed=cfg.seed, progress=progress)
        for row in history:
            log.write(row["step"], {k: v for k, v in row.items() if k != "step"})
        log.close()
        keep = {**own_fields(ckpt), "reward": task_reward(cfg),
                "reward_refit": {"from": str(model_path), "data": describe_data(data), "history": history[-1]}}
        save_world_model(refit_path, model.float(), cfg, int(ckpt["step"]), keep)
    export_world_model(refit_path, out)  # float16, like the shipped model
    model, _, _ = load_world_model(out, resolve_device(cfg.device))  # the policy trains on what ships
    return task_policy_phase(model, data, jobs, cfg, run_dir, progress, policy_updates, eval_episodes)
