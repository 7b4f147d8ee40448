import sys, time
import numpy as np, torch
def main():
    from redraw_trainer.model.checkpoint import load_world_model
    from redraw_trainer.envs.factory import make_env
    from redraw_trainer.envs.reality_gap import RealityGap
    from redraw_trainer.envs.behaviour import make_behaviour
    from redraw_trainer.data.collect import collect
    from redraw_trainer.learn.adapt import adapt, teacher_forced_kl
    from redraw_trainer.core.config import apply_overrides
    torch.set_num_threads(1)
    model, cfg, ckpt = load_world_model("models/source_small.pt"); model.float()
    gap = RealityGap.parse(sys.argv[1]); dr = sys.argv[2] == "dr"
    t=time.time()
    env = make_env("duckietown", gap, seed=11, domain_rand=dr)
    data = collect(env, make_behaviour(sys.argv[3], env, np.random.default_rng(11), gap), int(sys.argv[4]), seed=11)
    env.close()
    train, hold = data.split(0.25, seed=0)
    print("collected", len(data), data.num_episodes, "episodes in", round(time.time()-t), "s", flush=True)
    apply_overrides(cfg, ["adapt.steps=300", "adapt.batch_size=32"])
    for m in ("none", "residual", "finetune"):
        r = adapt(model, train, cfg.adapt, m, seed=0, progress=False)
        print(sys.argv[1:], m, "held", round(teacher_forced_kl(model, r.dynamics, hold, 16),3), "train", round(teacher_forced_kl(model, r.dynamics, train, 16),3), "best", r.best_step, flush=True)
if __name__ == "__main__":
    main()
