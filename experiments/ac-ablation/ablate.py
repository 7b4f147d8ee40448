"""Source-sim task policy under actor-critic / reward-head variants (diagnosis for #13)."""
import json, sys, time
from pathlib import Path
import numpy as np, torch
from redraw_trainer.core.config import apply_overrides
from redraw_trainer.data.sequences import SequenceData
from redraw_trainer.learn.imagination import train_actor_critic
from redraw_trainer.learn.posteriors import encode_posteriors
from redraw_trainer.model.frame_policy import FramePolicy
from redraw_trainer.envs.factory import make_env
from redraw_trainer.envs.rollout import run_episodes
from redraw_trainer.model.checkpoint import load_world_model

if __name__ == "__main__":
    name, model_path, updates, *overrides = sys.argv[1:]
    model, cfg, _ = load_world_model(model_path)
    apply_overrides(cfg, overrides)
    files = sorted(Path("runs/refit-zaction/data").glob("*.npz"))
    data = SequenceData.concatenate([SequenceData.load(f) for f in files])
    torch.manual_seed(0)
    t0 = time.time()
    log = []
    agent = train_actor_critic(model, model.dynamics, encode_posteriors(model, data), int(updates), cfg=cfg.policy, seed=0,
                               progress=False, on_log=lambda s, m: log.append({"step": s, **m}), log_every=100)
    t1 = time.time()
    env = make_env("duckietown", seed=0)
    stats = run_episodes(env, FramePolicy(model, agent.actor), 10, max_steps=200)
    out = {"name": name, "overrides": overrides, "updates": int(updates), "train_s": round(t1 - t0), "mean_return": stats.mean,
           "mean_distance": float(np.mean(stats.distance)), "lengths": stats.lengths, "last": log[-1]}
    print(json.dumps(out))
    with open("runs/ac-ablation/results.jsonl", "a") as f:
        f.write(json.dumps(out) + "\n")
