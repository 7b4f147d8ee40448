"""Building blocks: CNN encoder and decoder for square RGB images, MLPs with LayerNorm and SiLU."""

from __future__ import annotations

import math

import torch
from torch import nn


def mlp(inputs: int, hidden: int, layers: int, outputs: int | None = None) -> nn.Sequential:
    """`layers` x (Linear, LayerNorm, SiLU), then an optional linear output layer."""
    modules: list[nn.Module] = []
    width = inputs
    for _ in range(layers):
        modules += [nn.Linear(width, hidden), nn.LayerNorm(hidden), nn.SiLU()]
        width = hidden
    if outputs is not None:
        modules.append(nn.Linear(width, outputs))
    return nn.Sequential(*modules)


def _stages(image_size: int) -> int:
    stages = int(math.log2(image_size // 4))
    if 4 * 2**stages != image_size:
        raise ValueError(f"image_size {image_size}: expected 4 * 2^n (32, 64, ...)")
    return stages


def image_to_input(image: torch.Tensor) -> torch.Tensor:
    """uint8 (B, H, W, 3) -> float (B, 3, H, W) in [-0.5, 0.5]; the decoder predicts this space."""
    assert image.ndim == 4, image.shape
    return image.permute(0, 3, 1, 2).float() / 255.0 - 0.5


class Encoder(nn.Module):
    """(B, H, W, 3) uint8 -> (B, embed_dim). Stride-2 convs halve the image until 4x4."""

    def __init__(self, image_size: int, depth: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for i in range(_stages(image_size)):
            out = depth * 2**i
            layers += [nn.Conv2d(channels, out, 4, 2, 1), nn.GroupNorm(1, out), nn.SiLU()]
            channels = out
        self.net = nn.Sequential(*layers, nn.Flatten())
        self.embed_dim = channels * 16
        self.image_size = image_size

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        if not torch.jit.is_tracing():
            assert image.shape[-3:] == (self.image_size, self.image_size, 3), image.shape
        return self.net(image_to_input(image))


class Decoder(nn.Module):
    """(B, latent) -> (B, 3, H, W) image mean in [-0.5, 0.5] space."""

    def __init__(self, latent_dim: int, image_size: int, depth: int) -> None:
        super().__init__()
        stages = _stages(image_size)
        channels = depth * 2 ** (stages - 1)
        self.start = nn.Sequential(nn.Linear(latent_dim, channels * 16), nn.Unflatten(-1, (channels, 4, 4)))
        layers: list[nn.Module] = []
        for i in reversed(range(stages)):
            out = 3 if i == 0 else depth * 2 ** (i - 1)
            layers.append(nn.ConvTranspose2d(channels, out, 4, 2, 1))
            if i > 0:
                layers += [nn.GroupNorm(1, out), nn.SiLU()]
            channels = out
        self.net = nn.Sequential(*layers)

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        return self.net(self.start(latent))
