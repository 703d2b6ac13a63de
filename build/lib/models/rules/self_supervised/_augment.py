"""Image augmentations as small tensor ops (no torchvision), shared by the self-supervised rules.

Not a rule (the leading underscore keeps the registry away). Every op takes a batch ``(n, c, h, w)``
and draws its randomness from torch's global generator (seeded by the training loop), one draw
per image: random crop by padding and shifting, horizontal flip, brightness jitter and
Gaussian noise.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def random_crop(x: torch.Tensor, pad: int) -> torch.Tensor:
    """Pad by ``pad`` pixels (edge values repeated) and cut an ``h x w`` window at a random offset per image."""
    if pad <= 0:
        return x
    n, _, h, w = x.shape
    xp = F.pad(x, (pad, pad, pad, pad), mode="replicate")  # (n, c, h + 2p, w + 2p)
    dy = torch.randint(0, 2 * pad + 1, (n,), device=x.device)
    dx = torch.randint(0, 2 * pad + 1, (n,), device=x.device)
    rows = (dy[:, None] + torch.arange(h, device=x.device))[:, :, None]  # (n, h, 1)
    cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, :]  # (n, 1, w)
    idx = torch.arange(n, device=x.device)[:, None, None]
    return xp.permute(0, 2, 3, 1)[idx, rows, cols].permute(
        0, 3, 1, 2
    )  # (n, h, w, c) -> (n, c, h, w)


def random_flip(x: torch.Tensor, p: float = 0.5) -> torch.Tensor:
    """Mirror each image left-right with probability ``p``."""
    flip = torch.rand(x.shape[0], device=x.device) < p
    return torch.where(flip[:, None, None, None], x.flip(3), x)


def brightness_jitter(x: torch.Tensor, strength: float) -> torch.Tensor:
    """Add one offset ~ U(-strength, strength) per image (inputs are standardised)."""
    if strength <= 0:
        return x
    return x + (torch.rand(x.shape[0], 1, 1, 1, device=x.device) * 2 - 1) * strength


def gaussian_noise(x: torch.Tensor, std: float) -> torch.Tensor:
    """Add i.i.d. Gaussian noise of standard deviation ``std``."""
    return x + torch.randn_like(x) * std if std > 0 else x


def augment(
    x: torch.Tensor, *, crop_pad: int, flip: bool, brightness: float, noise_std: float
) -> torch.Tensor:
    """One random view of every image of the batch ``x`` (n, c, h, w)."""
    v = random_crop(x, crop_pad)
    if flip:
        v = random_flip(v)
    return gaussian_noise(brightness_jitter(v, brightness), noise_std)
