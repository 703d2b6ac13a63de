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


RESIZE_METHOD = "shorter-side-centre-crop"
ASPECT_TOLERANCE = 0.05


def to_rgb(img: Image.Image) -> Image.Image:
    """An 8-bit RGB copy of any PIL image mode.

    Transparency (RGBA, LA, palette with transparency) is composited on white; 16-bit and float
    grey images are scaled from their full range (65535, or the image's min..max) to 0..255.
    """
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        if img.mode.startswith("I;16"):
            arr = arr / 65535.0
        else:
            lo, hi = float(arr.min()), float(arr.max())
            arr = (arr - lo) / (hi - lo) if hi > lo else np.zeros_like(arr)
        img = Image.fromarray(np.round(arr * 255).astype(np.uint8), mode="L")
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return img.convert("RGB")


def shorter_side_centre_crop(img: Image.Image, size: int) -> Image.Image:
    """Scale so the shorter side is ``size`` px (Lanczos), then crop the centred size x size square.

    Keeps the aspect ratio (no distortion); loses the borders of the longer side.
    """
    w, h = img.size
    scale = size / min(w, h)
    new = (max(size, round(w * scale)), max(size, round(h * scale)))
    if new != (w, h):
        img = img.resize(new, Image.Resampling.LANCZOS)
    left, top = (new[0] - size) // 2, (new[1] - size) // 2
    return img.crop((left, top, left + size, top + size))


def aspect_spread(sizes: Sequence[tuple[int, int]]) -> float:
    """Relative spread of width/height ratios: max/min - 1 (0 when all are equal)."""
    ratios = [w / h for w, h in sizes]
    return max(ratios) / min(ratios) - 1.0
