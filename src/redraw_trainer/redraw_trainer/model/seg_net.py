"""A small U-Net for lane-marking segmentation (the ReDRAW authors' `GeneratorSmall` idea at a CPU's size):
64x64 RGB uint8 -> per-pixel logits of background / yellow / white / red.

Two poolings (64 -> 32 -> 16), skip connections, `width` channels at full resolution, doubling per level;
about 30k parameters at width 8, 120k at width 16. Its input is what the world model reads (the one
preprocessing's 64x64 RGB, NHWC uint8), so the same bytes go to either.
"""

from __future__ import annotations

import torch
from torch import nn

NUM_CLASSES = 4


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.GroupNorm(1, cout), nn.SiLU(),
                         nn.Conv2d(cout, cout, 3, padding=1), nn.GroupNorm(1, cout), nn.SiLU())


class SegNet(nn.Module):
    def __init__(self, width: int = 16, classes: int = NUM_CLASSES) -> None:
        super().__init__()
        w = width
        self.width = width
        self.enc1, self.enc2, self.mid = _block(3, w), _block(w, 2 * w), _block(2 * w, 4 * w)
        self.up2, self.dec2 = nn.ConvTranspose2d(4 * w, 2 * w, 2, stride=2), _block(4 * w, 2 * w)
        self.up1, self.dec1 = nn.ConvTranspose2d(2 * w, w, 2, stride=2), _block(2 * w, w)
        self.head = nn.Conv2d(w, classes, 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(N, H, W, 3) uint8 (or float 0..255) -> (N, classes, H, W) logits."""
        x = images.permute(0, 3, 1, 2).float() / 127.5 - 1.0
        e1 = self.enc1(x)
        e2 = self.enc2(nn.functional.max_pool2d(e1, 2))
        m = self.mid(nn.functional.max_pool2d(e2, 2))
        d2 = self.dec2(torch.cat([self.up2(m), e2], 1))
        d1 = self.dec1(torch.cat([self.up1(d2), e1], 1))
        return self.head(d1)

    @torch.no_grad()
    def classes(self, images, batch: int = 256) -> torch.Tensor:
        """(N, H, W, 3) uint8 -> (N, H, W) uint8 class ids."""
        images = torch.as_tensor(images)
        return torch.cat([self(images[i:i + batch]).argmax(1).to(torch.uint8) for i in range(0, len(images), batch)])
