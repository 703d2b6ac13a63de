"""Ranks along an axis with ties averaged (Spearman's convention) or given their lowest rank.

The numbers of ``scipy.stats.rankdata`` (``tests/test_ranks.py`` checks them) without importing
``scipy.stats``, which costs one to two seconds of every comparison job's start-up.
"""

from __future__ import annotations

import numpy as np

METHODS = ("average", "min")


def rankdata(a: np.ndarray, axis: int = -1, method: str = "average") -> np.ndarray:
    """1-based ranks of ``a`` along ``axis`` (float64); a slice holding a NaN ranks as all NaN."""
    if method not in METHODS:
        raise ValueError(f"unknown ranking method {method!r}; known: {METHODS}")
    x = np.moveaxis(np.asarray(a), axis, -1)
    n = x.shape[-1]
    order = np.argsort(x, axis=-1, kind="stable")
    s = np.take_along_axis(x, order, axis=-1)
    idx = np.broadcast_to(np.arange(n), s.shape)
    starts = np.ones(s.shape, dtype=bool)
    starts[..., 1:] = s[..., 1:] != s[..., :-1]
    first = np.maximum.accumulate(np.where(starts, idx, 0), axis=-1)
    if method == "min":
        ranked = first + 1.0
    else:
        ends = np.ones(s.shape, dtype=bool)
        ends[..., :-1] = starts[..., 1:]
        last = np.minimum.accumulate(np.where(ends, idx, n - 1)[..., ::-1], axis=-1)[..., ::-1]
        ranked = (first + last) / 2.0 + 1.0
    out = np.empty(s.shape, dtype=float)
    np.put_along_axis(out, order, ranked, axis=-1)
    if np.issubdtype(x.dtype, np.floating):
        out[np.isnan(x).any(axis=-1)] = np.nan
    return np.moveaxis(out, -1, axis)
