"""Where tensors live: `resolve_device(cfg.device)` at entry points, `module_device(model)` everywhere else.

Entry points (world-model training, `redraw demo`, `redraw adapt`, `redraw train-policy`) place the model;
every function that takes a model puts its batches, caches and random generators on that model's device,
so callers never pass a device around. Exports and robot-side code always run on the CPU.
"""

from __future__ import annotations

import torch
from torch import nn


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' -> CUDA when available, else CPU; 'cpu', 'cuda', 'cuda:1' as given (CUDA must exist)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device '{name}' asked for, but this torch build sees no CUDA device "
                         f"(torch {torch.__version__}); use device=auto or device=cpu")
    return device


def module_device(module: nn.Module) -> torch.device:
    """The device of a module's first parameter (CPU for a module without parameters)."""
    for param in module.parameters():
        return param.device
    return torch.device("cpu")


def generator(seed: int, device: torch.device) -> torch.Generator:
    """A seeded torch generator on `device` (sampling ops need theirs on the device they run on)."""
    return torch.Generator(device=device).manual_seed(seed)
