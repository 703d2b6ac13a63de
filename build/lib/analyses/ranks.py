"""Ranks along an axis: ties averaged (Spearman's convention), given their lowest rank, or as
dense tie groups.

The numbers of ``scipy.stats.rankdata`` (``tests/test_ranks.py`` checks them) without importing
``scipy.stats``, which costs one to two seconds of every comparison job's start-up.
"""

from __future__ import annotations

import numpy as np

METHODS = ("average", "min")


def _sorted_runs(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sort order, sorted values, where a run of equal values starts) along the last axis. The
    order within a run of ties does not matter to any rank, so the sort need not be stable."""
    order = np.argsort(x, axis=-1)
    s = np.take_along_axis(x, order, axis=-1)
    starts = np.ones(s.shape, dtype=bool)
    starts[..., 1:] = s[..., 1:] != s[..., :-1]
    return order, s, starts


def _unsort(order: np.ndarray, ranked: np.ndarray) -> np.ndarray:
    out = np.empty(ranked.shape, dtype=ranked.dtype)
    np.put_along_axis(out, order, ranked, axis=-1)
    return out


def rankdata(a: np.ndarray, axis: int = -1, method: str = "average") -> np.ndarray:
    """1-based ranks of ``a`` along ``axis`` (float64); a slice holding a NaN ranks as all NaN."""
    if method not in METHODS:
        raise ValueError(f"unknown ranking method {method!r}; known: {METHODS}")
    x = np.moveaxis(np.asarray(a), axis, -1)
    n = x.shape[-1]
    order, s, starts = _sorted_runs(x)
    idx = np.broadcast_to(np.arange(n), s.shape)
    first = np.maximum.accumulate(np.where(starts, idx, 0), axis=-1)
    if method == "min":
        ranked = first + 1.0
    else:
        ends = np.ones(s.shape, dtype=bool)
        ends[..., :-1] = starts[..., 1:]
        last = np.minimum.accumulate(np.where(ends, idx, n - 1)[..., ::-1], axis=-1)[..., ::-1]
        ranked = (first + last) / 2.0 + 1.0
    out = _unsort(order, ranked)
    if np.issubdtype(x.dtype, np.floating):
        out[np.isnan(x).any(axis=-1)] = np.nan
    return np.moveaxis(out, -1, axis)


def dense_ranks(x: np.ndarray) -> np.ndarray:
    """Dense tie groups (0, 1, ...) along the last axis of ``x`` (int64; scipy's
    ``rankdata(method="dense") - 1``)."""
    order, _, starts = _sorted_runs(np.asarray(x))
    return _unsort(order, np.cumsum(starts, axis=-1, dtype=np.int64) - 1)
