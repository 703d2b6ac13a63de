"""Control models: what a learning rule must beat before its representation counts as brain-like.

Each control turns a stimulus set into one RDM (a one-layer "model"); they are ranked beside the
learning rules with the same statistics. ``random`` (the untrained network) is a learning rule of
its own (``models/rules/baselines/random.py``); the others are here:

- ``pixels``: the stimulus exactly as the network sees it (the training set's input format:
  size, channels, normalisation), correlation distance;
- ``luminance``: mean luminance (ITU-R BT.601 luma of the native-resolution image, in [0, 1]);
  the RDM is the absolute difference (a one-number feature has no correlation distance);
- ``colour``: a colour histogram (8 bins per RGB channel, each channel's histogram normalised to
  sum 1; 24 features) at native resolution, correlation distance;
- ``gabor``: a fixed V1-like Gabor-energy model at native resolution: grey image, a bank of 4
  orientations x 3 spatial frequencies (0.05, 0.1, 0.2 cycles/pixel; quadrature pairs from
  ``skimage.filters.gabor_kernel``), energy sqrt(even^2 + odd^2) averaged in a 4 x 4 grid of
  windows (192 features), correlation distance;
- ``category``: the stimulus set's declared groups as a model RDM (0 within a group, 1 between);
  only for sets that declare groups for every stimulus.
"""

from __future__ import annotations

import numpy as np

from analyses.rdm import correlation_rdm

CONTROLS = ("pixels", "luminance", "colour", "gabor", "category")
#: Gabor bank: spatial frequencies (cycles/pixel) x orientations (radians); pooling grid.
GABOR_FREQUENCIES = (0.05, 0.1, 0.2)
GABOR_ORIENTATIONS = tuple(np.arange(4) * np.pi / 4)
GABOR_GRID = 4


def _grey(images: np.ndarray) -> np.ndarray:
    """(n, h, w, 3) uint8 -> (n, h, w) float luma in [0, 1] (ITU-R BT.601)."""
    x = np.asarray(images, dtype=np.float64) / 255.0
    return x[..., 0] * 0.299 + x[..., 1] * 0.587 + x[..., 2] * 0.114


def luminance_rdm(images: np.ndarray) -> np.ndarray:
    """|mean luminance_i - mean luminance_j| over (n, h, w, 3) uint8 images."""
    lum = _grey(images).mean(axis=(1, 2))
    return np.abs(lum[:, None] - lum[None, :])


def colour_features(images: np.ndarray, bins: int = 8) -> np.ndarray:
    """(n, 3 * bins) per-channel colour histograms, each channel normalised to sum 1."""
    x = np.asarray(images)
    edges = np.linspace(0, 256, bins + 1)
    feats = [
        np.histogram(img[..., c], bins=edges)[0] / img[..., c].size for img in x for c in range(3)
    ]
    return np.asarray(feats, dtype=np.float64).reshape(len(x), 3 * bins)


def gabor_features(images: np.ndarray) -> np.ndarray:
    """(n, frequencies * orientations * grid^2) Gabor energies pooled over a grid of windows."""
    from scipy.signal import fftconvolve  # here: the workflow imports this module to plan the DAG
    from skimage.filters import gabor_kernel

    grey = _grey(images)
    grey = grey - grey.mean(axis=(1, 2), keepdims=True)  # energy of contrast, not of mean light
    n, h, w = grey.shape
    if min(h, w) < GABOR_GRID:
        raise ValueError(
            f"images of {h} x {w} px are too small for a {GABOR_GRID} x {GABOR_GRID} grid"
        )
    rows = np.array_split(np.arange(h), GABOR_GRID)
    cols = np.array_split(np.arange(w), GABOR_GRID)
    feats = []
    for freq in GABOR_FREQUENCIES:
        for theta in GABOR_ORIENTATIONS:
            kernel = gabor_kernel(freq, theta=theta)  # complex: even (real) and odd (imag) parts
            resp = fftconvolve(grey, kernel[None], mode="same", axes=(1, 2))
            energy = np.abs(resp)  # (n, h, w)
            for r in rows:
                for c in cols:
                    feats.append(energy[:, r[0] : r[-1] + 1, c[0] : c[-1] + 1].mean(axis=(1, 2)))
    return np.stack(feats, axis=1)


def category_rdm(groups: list[str], stimset: str = "stimulus set") -> np.ndarray:
    """0 within a declared group, 1 between groups; ``ValueError`` when groups are missing."""
    if not groups or any(not g for g in groups):
        raise ValueError(
            f"{stimset}: the category control needs a group for every stimulus (the stimulus-set "
            "file's `groups`); this set declares none or not for all"
        )
    g = np.asarray(groups)
    if len(set(groups)) < 2:
        raise ValueError(f"{stimset}: the category control needs at least two groups")
    return (g[:, None] != g[None, :]).astype(np.float64)


def has_category(groups: list[str]) -> bool:
    """Whether ``groups`` can define the category control."""
    return bool(groups) and all(groups) and len(set(groups)) >= 2


def control_rdm(
    name: str,
    images: np.ndarray,
    groups: list[str],
    net_input: np.ndarray | None = None,
    stimset: str = "stimulus set",
) -> np.ndarray:
    """The (n, n) RDM of control ``name`` for (n, h, w, 3) uint8 ``images``.

    ``net_input``: the images in a network's input format (needed by ``pixels`` only).
    """
    if name == "pixels":
        if net_input is None:
            raise ValueError("the pixels control needs the images in the network's input format")
        return correlation_rdm(np.asarray(net_input).reshape(len(net_input), -1))
    if name == "luminance":
        return luminance_rdm(images)
    if name == "colour":
        return correlation_rdm(colour_features(images))
    if name == "gabor":
        return correlation_rdm(gabor_features(images))
    if name == "category":
        return category_rdm(groups, stimset)
    raise ValueError(f"control {name!r} is unknown; choose from {list(CONTROLS)}")
