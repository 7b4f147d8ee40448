"""Baseline ways to adapt dynamics to the target domain, beside the ReDRAW residual.

- finetune: the pretrained prior dynamics, trained further on target data (encoder and heads frozen);
  run with early stopping (what a user should do) and as the paper ran it (same budget, no early stopping);
- new_dynamics: a fresh dynamics function of the same inputs, trained only on target data;
- none: the simulator's dynamics as they are (zero-shot);
- oracle: not an adaptation but the ceiling: the same frozen encoder, with the dynamics, reward and continue
  heads trained on the target transitions *with* their reward and termination labels, which the other methods
  never see. It lives in the same latent space as every other method, so their figures compare.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from redraw_trainer.core.config import Config
from redraw_trainer.core.devices import generator as seeded_generator, module_device
from redraw_trainer.data.sequences import SequenceData
from redraw_trainer.learn.posteriors import encode_posteriors, windows_with_cache
from redraw_trainer.model.distributions import categorical_kl, two_hot_loss
from redraw_trainer.model.world_model import PriorDynamics, WorldModel, dynamics_mask, masked_mean, scan_prior


def finetune_dynamics(model: WorldModel) -> nn.Module:
    """A trainable copy of the pretrained prior (the model itself stays untouched)."""
    dynamics = copy.deepcopy(model.dynamics)
    dynamics.requires_grad_(True)
    return dynamics


def new_dynamics(model: WorldModel) -> nn.Module:
    """A freshly initialised prior of the same architecture."""
    return PriorDynamics(model.cfg)


def oracle_loss(model: WorldModel, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
    """KL(sg posterior || prior) + reward + continue losses on a cached-posterior batch with target labels."""
    post, z = batch["post"], batch["z"]
    commands = model.commands(batch["action"], batch.get("history"))
    prior = scan_prior(model.dynamics, z, commands, batch["is_first"], post[:, 0].exp(), model.cfg.unimix)
    dynamics = masked_mean(categorical_kl(post, prior), dynamics_mask(batch["is_first"]))
    reward = two_hot_loss(model.reward_logits(z, commands).flatten(0, 1), batch["reward"].reshape(-1),
                          model.reward_bins).mean()
    cont = F.binary_cross_entropy_with_logits(model.cont_head(z.flatten(-2)).squeeze(-1).reshape(-1),
                                              1.0 - batch["is_terminal"].reshape(-1).float())
    total = dynamics + model.cfg.reward_scale * reward + model.cfg.cont_scale * cont
    return total, {"oracle/kl": float(dynamics), "oracle/reward": float(reward), "oracle/cont": float(cont)}


def oracle_model(model: WorldModel, data: SequenceData, cfg: Config, steps: int, seed: int = 0,
                 progress: bool = True) -> WorldModel:
    """A copy of `model` whose dynamics, reward and continue heads are trained on the labelled target transitions
    for `steps` updates (the frozen encoder's posteriors cached once); `model` stays untouched."""
    oracle = copy.deepcopy(model).float()
    oracle.requires_grad_(False)
    oracle.eval()
    trained = [oracle.dynamics, oracle.reward_head, oracle.cont_head]
    params = [p for module in trained for p in module.parameters()]
    for p in params:
        p.requires_grad_(True)
    device = module_device(oracle)
    cache = encode_posteriors(oracle, data)
    rng, generator = np.random.default_rng(seed), seeded_generator(seed, device)
    optimizer = torch.optim.Adam(params, lr=cfg.adapt.finetune_lr)
    a = cfg.adapt
    for _ in tqdm(range(steps), desc="oracle", disable=not progress, leave=False):
        rows = data.windows(data.sample_starts(a.batch_size, a.seq_len, rng, cfg.train.terminal_fraction), a.seq_len)
        batch = windows_with_cache(data, cache, rows, generator, oracle.cfg.command_history)
        batch["reward"] = torch.from_numpy(data.reward[rows]).to(device)
        batch["is_terminal"] = torch.from_numpy(data.is_terminal[rows]).to(device)
        loss, _ = oracle_loss(oracle, batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(params, a.grad_clip)
        optimizer.step()
    oracle.requires_grad_(False)
    return oracle
