"""Time-resolved RDMs from trial patterns (M/EEG): correlation, cross-validated distances, decoding.

Trials arrive as ``data`` (n_trials, n_features, n_times) with ``labels`` (n_trials,) in
0..n_stim-1; every function returns RDMs (n_times, n_stim, n_stim), vectorised over time points
and stimulus pairs (no per-pair classifier fits).

- ``correlation``: 1 - Pearson r between condition-mean patterns at each time point.
- ``cv-euclidean``: cross-validated squared Euclidean distance (unbiased: noise cancels across
  folds), per feature.
- ``crossnobis``: the same after multivariate noise normalisation (whitening by the shrunk
  residual covariance; Guggenmos et al. 2018), i.e. a cross-validated Mahalanobis distance.
- ``decoding``: pairwise decoding accuracy minus chance (Cichy et al. 2014 decoded every pair at
  every time point with an SVM on pseudo-trials; here the classifier is the whitened
  nearest-centroid rule, a linear classifier, fitted in closed form on fold means so that every
  pair and time point is decoded at once). Cross-validated by leave-one-fold-out, repeated.
"""

from __future__ import annotations

import numpy as np

METHODS = ("correlation", "cv-euclidean", "crossnobis", "decoding")


def _check(data: np.ndarray, labels: np.ndarray, n_stim: int) -> tuple[np.ndarray, np.ndarray]:
    data = np.asarray(data, dtype=np.float64)
    labels = np.asarray(labels)
    if data.ndim != 3:
        raise ValueError(f"data must be (trials, features, times), got shape {data.shape}")
    if labels.shape != (len(data),):
        raise ValueError(f"labels has shape {labels.shape}, data has {len(data)} trials")
    if labels.min() < 0 or labels.max() >= n_stim:
        raise ValueError(f"labels must lie in 0..{n_stim - 1}")
    return data, labels


def condition_means(data: np.ndarray, labels: np.ndarray, n_stim: int) -> np.ndarray:
    """Mean pattern per stimulus: (n_stim, n_features, n_times)."""
    data, labels = _check(data, labels, n_stim)
    counts = np.bincount(labels, minlength=n_stim)
    if (counts == 0).any():
        raise ValueError(f"stimuli without trials: {np.flatnonzero(counts == 0).tolist()}")
    sums = np.zeros((n_stim,) + data.shape[1:])
    np.add.at(sums, labels, data)
    return sums / counts[:, None, None]


def correlation_rdms(means: np.ndarray) -> np.ndarray:
    """1 - Pearson r over features of (n_stim, n_features, n_times) patterns -> (T, n, n)."""
    x = np.moveaxis(np.asarray(means, dtype=np.float64), 2, 0)  # (T, n, F)
    x = x - x.mean(axis=2, keepdims=True)
    x /= np.linalg.norm(x, axis=2, keepdims=True) + 1e-300
    rdms = 1.0 - np.einsum("tif,tjf->tij", x, x)
    idx = np.arange(rdms.shape[1])
    rdms[:, idx, idx] = 0.0
    return (rdms + rdms.transpose(0, 2, 1)) / 2


def whitener(data: np.ndarray, labels: np.ndarray, n_stim: int) -> np.ndarray:
    """Inverse square root of the Ledoit-Wolf shrunk residual covariance (features x features),
    averaged over time points (multivariate noise normalisation)."""
    from sklearn.covariance import ledoit_wolf

    resid = data - condition_means(data, labels, n_stim)[labels]  # (trials, F, T)
    flat = np.moveaxis(resid, 2, 1).reshape(-1, resid.shape[1])  # (trials*T, F)
    sd = flat.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)  # sensors differ by orders of magnitude (T, T/m, V)
    cov, _ = ledoit_wolf(flat / sd, assume_centered=True)
    vals, vecs = np.linalg.eigh(cov)
    vals = np.maximum(vals, vals.max() * 1e-10)
    return ((vecs / np.sqrt(vals)) @ vecs.T) / sd[None, :]


def fold_means(
    data: np.ndarray, labels: np.ndarray, n_stim: int, n_folds: int, rng: np.random.Generator
) -> np.ndarray:
    """Trials of each stimulus dealt at random into ``n_folds`` folds; mean per fold:
    (n_folds, n_stim, n_features, n_times)."""
    counts = np.bincount(labels, minlength=n_stim)
    if counts.min() < n_folds:
        bad = np.flatnonzero(counts < n_folds).tolist()
        raise ValueError(f"stimuli {bad} have fewer than n_folds={n_folds} trials")
    folds = np.empty(len(labels), dtype=int)
    for s in range(n_stim):
        idx = np.flatnonzero(labels == s)
        folds[rng.permutation(idx)] = np.arange(len(idx)) % n_folds
    out = np.zeros((n_folds, n_stim) + data.shape[1:])
    np.add.at(out, (folds, labels), data)
    cnt = np.zeros((n_folds, n_stim))
    np.add.at(cnt, (folds, labels), 1)
    return out / cnt[:, :, None, None]


def _cv_distance(m: np.ndarray) -> np.ndarray:
    """Mean over fold pairs a != b of (m_a[i] - m_a[j]) . (m_b[i] - m_b[j]) / F -> (T, n, n)."""
    k, _, f, _ = m.shape
    g = np.einsum("aift,bjft->abtij", m, m) / f  # (K, K, T, n, n) cross-fold inner products
    off = ~np.eye(k, dtype=bool)
    g = g[off]  # (K(K-1), T, n, n)
    d = np.diagonal(g, axis1=2, axis2=3)  # (pairs, T, n)
    dist = d[..., :, None] + d[..., None, :] - g - g.transpose(0, 1, 3, 2)
    return dist.mean(axis=0)


def _decoding(m: np.ndarray) -> np.ndarray:
    """Leave-one-fold-out nearest-centroid pairwise accuracy - 0.5 -> (T, n, n)."""
    k = len(m)
    acc = 0.0
    for test in range(k):
        x = m[test]  # (n, F, T) test pseudo-trials
        c = m[np.arange(k) != test].mean(axis=0)  # (n, F, T) training centroids
        xc = np.einsum("ift,jft->tij", x, c)
        d = (x**2).sum(1).T[:, :, None] + (c**2).sum(1).T[:, None, :] - 2 * xc  # (T, n, n)
        own = np.diagonal(d, axis1=1, axis2=2)[:, :, None]  # distance to its own centroid
        correct = (d > own).astype(float)  # trial of i classified i (not j)
        acc = acc + (correct + correct.transpose(0, 2, 1)) / 2
    out = acc / k - 0.5
    idx = np.arange(out.shape[1])
    out[:, idx, idx] = 0.0
    return out


def time_resolved_rdms(
    data: np.ndarray,
    labels: np.ndarray,
    n_stim: int,
    method: str = "correlation",
    n_folds: int = 2,
    n_repeats: int = 5,
    seed: int = 0,
) -> np.ndarray:
    """RDMs (n_times, n_stim, n_stim) from trials (n_trials, n_features, n_times) by ``method``."""
    if method not in METHODS:
        raise ValueError(f"method={method!r} is unknown; choose one of {list(METHODS)}")
    data, labels = _check(data, labels, n_stim)
    if method == "correlation":
        return correlation_rdms(condition_means(data, labels, n_stim))
    if n_folds < 2:
        raise ValueError(f"n_folds must be >= 2 for cross-validated methods, got {n_folds}")
    if method in ("crossnobis", "decoding"):
        data = np.einsum("fg,ngt->nft", whitener(data, labels, n_stim), data)
    rng = np.random.default_rng(seed)
    fn = _decoding if method == "decoding" else _cv_distance
    out = sum(fn(fold_means(data, labels, n_stim, n_folds, rng)) for _ in range(n_repeats))
    out = out / n_repeats
    return (out + out.transpose(0, 2, 1)) / 2
