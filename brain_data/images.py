"""Turning images into a network's input format (size, channels, normalisation)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image


def resize_images(images: np.ndarray, size: int, channels: int) -> np.ndarray:
    """uint8 (n, h, w, c) -> uint8 (n, size, size, channels); antialiased, gray via ITU-R 601."""
    if images.ndim != 4 or images.dtype != np.uint8:
        raise ValueError(f"images must be uint8 (n, h, w, c); got {images.dtype} {images.shape}")
    if images.shape[1:3] == (size, size) and images.shape[3] == channels:
        return images
    mode = "L" if channels == 1 else "RGB"
    out = np.empty((len(images), size, size, channels), dtype=np.uint8)
    for i, img in enumerate(images):
        pil = Image.fromarray(img[..., 0] if img.shape[-1] == 1 else img)
        pil = pil.convert(mode).resize((size, size), Image.Resampling.LANCZOS)
        out[i] = np.asarray(pil).reshape(size, size, channels)
    return out


def to_tensor(images: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """uint8 (n, h, w, c) -> float32 (n, c, h, w), scaled to [0, 1] then standardised per channel."""
    x = torch.from_numpy(np.array(images, copy=True)).permute(0, 3, 1, 2).float().div_(255.0)
    m = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
    if m.shape[1] != x.shape[1]:
        raise ValueError(f"{x.shape[1]} image channels but {m.shape[1]} normalisation means")
    return (x - m) / s


def model_input(images: np.ndarray, input_spec: dict) -> torch.Tensor:
    """Images in a training set's input format (``input`` block of its spec)."""
    resized = resize_images(images, int(input_spec["size"]), int(input_spec["channels"]))
    return to_tensor(resized, input_spec["mean"], input_spec["std"])
