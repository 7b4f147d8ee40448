"""Do heads that see the last k latents and commands predict the off-road terminal on held-out episodes?

    .venv/bin/python docs/reward-terminal/history_heads.py   # history_heads.log; reads the data terminal_check.py collected

Same data and held-out episodes as terminal_check.py; new reward and continue heads (MLP 2x256) on the
concatenated posteriors and commands of frames t-k..t (clamped at the episode start), 3000 Adam steps."""
import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(1)
from redraw_trainer.data.sim_collect import CollectJob, collect_jobs
from redraw_trainer.distributions import mode_one_hot, sample_one_hot, two_hot_loss, two_hot_mean
from redraw_trainer.posteriors import encode_posteriors
from redraw_trainer.train import load_world_model
from redraw_trainer.nets import mlp
BEHAVIOURS = ("random", "smooth", "pid:noise=0.5", "pid:noise=0.2")
model,_,_=load_world_model("models/source_small.pt"); model.float().eval().requires_grad_(False)
jobs=[CollectJob("duckietown","none",b,3000,500+i,model.cfg.image_size) for i,b in enumerate(BEHAVIOURS*2)]
data=collect_jobs(jobs,"runs/terminal-check-data",1,False)
cache=encode_posteriors(model,data)
episode=np.cumsum(data.is_first)-1; rng=np.random.default_rng(0)
held_eps=rng.permutation(episode.max()+1)[:(episode.max()+1)//5]; held=np.isin(episode,held_eps)
hold,train=np.where(held)[0],np.where(~held)[0]
term=data.is_terminal.astype(bool); R=torch.from_numpy(data.reward); C=torch.from_numpy(1-term.astype(np.float32)); A=torch.from_numpy(data.action)
# index of the frame k steps back within the episode (clamped at the episode start)
start=np.maximum.accumulate(np.where(data.is_first,np.arange(len(data)),0))
def back(k): return np.maximum(np.arange(len(data))-k,start)
G,K=cache.shape[1:]; rb=model.reward_bins
for k in (0,1,3):
    torch.manual_seed(0); g=torch.Generator().manual_seed(0)
    idx=[back(j) for j in range(k+1)]
    inp=lambda z_rows, rows: torch.cat([z.flatten(-2) for z in z_rows]+[A[torch.from_numpy(back(j)[rows])] for j in range(k+1)],-1)
    rh=mlp((k+1)*(G*K+2),256,2,len(rb)); ch=mlp((k+1)*(G*K+2),256,2,1)
    opt=torch.optim.Adam([*rh.parameters(),*ch.parameters()],1e-3)
    for step in range(3000):
        rows=rng.choice(train,512)
        zs=[sample_one_hot(cache[torch.from_numpy(back(j)[rows])],g) for j in range(k+1)]
        x=inp(zs,rows)
        loss=two_hot_loss(rh(x),R[rows],rb).mean()+F.binary_cross_entropy_with_logits(ch(x).squeeze(-1),C[rows])
        opt.zero_grad(); loss.backward(); opt.step()
    with torch.no_grad():
        for name,rows in (("held-out",hold),("train",train)):
            zs=[mode_one_hot(cache[torch.from_numpy(back(j)[rows])]) for j in range(k+1)]
            x=inp(zs,rows); r=two_hot_mean(rh(x),rb).numpy(); c=torch.sigmoid(ch(x).squeeze(-1)).numpy(); t=term[rows]
            print(f"history {k}: {name:<8} terminal reward {r[t].mean():+.2f} cont {c[t].mean():.2f} | other cont {c[~t].mean():.3f} | corr {np.corrcoef(r,data.reward[rows])[0,1]:.2f}",flush=True)
