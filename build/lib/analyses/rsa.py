"""RSA comparators and noise ceilings (rsatoolbox definitions, vectorised over RDMs).

``compare`` works on upper-triangle vectors: models (m, p) vs data (s, p) -> (m, s).
Comparators (rsatoolbox names): ``spearman``, ``pearson`` (alias ``corr``), ``tau-a`` (Kendall's
tau-a) and ``corr_cov`` (whitened correlation: Pearson r after weighting with the covariance of
the RDM entries under i.i.d. pattern noise, Diedrichsen et al. 2021). ``corr_cov`` works on complete
RDM vectors (every pair of n stimuli) or, with ``pairs``, on the pairs of a stimulus resample with
duplicates (pairs of a stimulus with its own copy missing), as rsatoolbox does after
``subsample_pattern``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analyses.ranks import rankdata


def _pearson_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    a /= np.linalg.norm(a, axis=1, keepdims=True) + 1e-300
    b /= np.linalg.norm(b, axis=1, keepdims=True) + 1e-300
    return a @ b.T


def _spearman(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return _pearson_rows(rankdata(a, axis=1), rankdata(b, axis=1))


def _pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return _pearson_rows(a.astype(float), b.astype(float))


def _n_ties(v: np.ndarray) -> int:
    """Number of tied pairs in ``v``."""
    cnt = np.unique(v, return_counts=True)[1].astype(np.int64)
    return int((cnt * (cnt - 1) // 2).sum())


def _tau_a(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Kendall's tau-a, (concordant - discordant) / all pairs, from scipy's O(p log p) tau-b."""
    from scipy.stats import kendalltau  # only for tau-a: scipy.stats costs every job's start-up

    p = a.shape[1]
    total = p * (p - 1) / 2
    ties_a, ties_b = [_n_ties(x) for x in a], [_n_ties(y) for y in b]
    out = np.zeros((len(a), len(b)))
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            tb = kendalltau(x, y).statistic
            if np.isfinite(tb):  # undefined tau-b: a constant vector, no (dis)concordant pair
                out[i, j] = tb * np.sqrt((total - ties_a[i]) * (total - ties_b[j])) / total
    return np.clip(out, -1.0, 1.0)


def n_stimuli(p: int) -> int:
    """Number of stimuli of a complete RDM vector with ``p`` entries."""
    n = int(round((1 + np.sqrt(1 + 8 * p)) / 2))
    if n * (n - 1) // 2 != p:
        raise ValueError(f"{p} entries is not the upper triangle of a square RDM")
    return n


def whiten(v: np.ndarray) -> np.ndarray:
    """Complete RDM vectors (k, p) -> flattened double-centred second-moment matrices (k, n*n).

    The Frobenius inner product of these is rsatoolbox's covariance-weighted inner product of the
    (mean-centred) RDM vectors, so their cosine is ``corr_cov``.
    """
    v = np.atleast_2d(np.asarray(v, dtype=float))
    n = n_stimuli(v.shape[1])
    i, j = np.triu_indices(n, 1)
    d = np.zeros((len(v), n, n))
    d[:, i, j] = v - v.mean(axis=1, keepdims=True)
    d[:, j, i] = d[:, i, j]
    g = d - d.mean(axis=1, keepdims=True) - d.mean(axis=2, keepdims=True)
    g += d.mean(axis=(1, 2), keepdims=True)
    return -0.5 * g.reshape(len(v), n * n)


def _cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    out = (a @ b.T) / (np.where(na > 0, na, 1)[:, None] * np.where(nb > 0, nb, 1)[None])
    return out


def _corr_cov(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return _cosine_rows(whiten(a), whiten(b))


def whiten_incomplete(v: np.ndarray, rows: np.ndarray, cols: np.ndarray, n: int) -> np.ndarray:
    """``whiten`` for RDM vectors (k, q) given only on the pairs (``rows``, ``cols``) of n conditions.

    The second-moment matrix is centred by removing condition effects estimated from the entries
    present, with the weights of rsatoolbox's treatment of missing dissimilarities
    (``_cov_weighting``: off-diagonal entries 1/2, the zero diagonal 1); off-diagonal residuals
    are scaled by sqrt(2) so that the plain inner product of the outputs (k, q + n) is the
    weighted one. Complete vectors give ``whiten``'s numbers.
    """
    if len(rows) == n * (n - 1) // 2:
        order = np.lexsort((cols, rows))  # row-major upper triangle, as ``whiten`` expects
        return whiten(np.atleast_2d(v)[:, order])
    v = np.atleast_2d(np.asarray(v, dtype=float))
    y = -0.5 * (v - v.mean(axis=1, keepdims=True))  # (k, q); the diagonal entries are 0
    deg = np.bincount(rows, minlength=n) + np.bincount(cols, minlength=n)
    gram = np.zeros((n, n))
    np.add.at(gram, (rows, cols), 0.5)
    gram += gram.T
    gram[np.diag_indices(n)] = 0.5 * deg + 1.0
    rhs = np.zeros((len(y), n))
    for idx in (rows, cols):
        rhs += np.stack([np.bincount(idx, weights=r, minlength=n) for r in y])
    beta = np.linalg.solve(gram, rhs.T).T  # (k, n): effect of each condition
    off = (y - 0.5 * (beta[:, rows] + beta[:, cols])) * np.sqrt(2)
    return np.hstack([off, -beta])


def _corr_cov_pairs(a: np.ndarray, b: np.ndarray, pairs: tuple) -> np.ndarray:
    return _cosine_rows(whiten_incomplete(a, *pairs), whiten_incomplete(b, *pairs))


COMPARATORS = {
    "spearman": _spearman,
    "pearson": _pearson,
    "corr": _pearson,
    "tau-a": _tau_a,
    "corr_cov": _corr_cov,
}


def check_comparator(method: str) -> None:
    if method not in COMPARATORS:
        raise ValueError(f"comparator {method!r} is unknown; choose one of {sorted(COMPARATORS)}")


def compare(
    models: np.ndarray, data: np.ndarray, method: str = "spearman", pairs: tuple | None = None
) -> np.ndarray:
    """Similarity of every model RDM vector with every data RDM vector: (m, p) x (s, p) -> (m, s).

    ``pairs`` = (rows, cols, n): the vectors hold only these pairs of n conditions (a stimulus
    resample with duplicates); used by ``corr_cov``, ignored by the entry-wise comparators.
    """
    check_comparator(method)
    models, data = np.atleast_2d(models), np.atleast_2d(data)
    if models.shape[1] != data.shape[1]:
        raise ValueError(
            f"model vectors have {models.shape[1]} entries, data vectors {data.shape[1]}"
        )
    if pairs is not None and method == "corr_cov":
        return _corr_cov_pairs(models, data, pairs)
    return COMPARATORS[method](models, data)


@dataclass(frozen=True)
class NoiseCeiling:
    """Leave-one-subject-out lower bound and all-subject upper bound, per subject and mean."""

    lower: float
    upper: float
    lower_per_subject: np.ndarray
    upper_per_subject: np.ndarray


def _pool_weighted(data: np.ndarray, weights: np.ndarray, method: str, pooling: str) -> np.ndarray:
    """Pooled RDM vectors for each row of ``weights`` (k, s) over the subjects ``data`` (s, p)."""
    total = weights.sum(axis=1, keepdims=True)  # count-weighted sums keep tied ranks exactly tied
    if pooling == "mean":
        return weights @ data / total
    if pooling != "rsatoolbox":
        raise ValueError(f"pooling={pooling!r} is unknown; choose 'rsatoolbox' or 'mean'")
    check_comparator(method)
    if method in ("spearman", "tau-a"):
        return weights @ rankdata(data, axis=1) / total
    z = data - data.mean(axis=1, keepdims=True)
    return weights @ (z / z.std(axis=1, keepdims=True)) / total


def pool(data: np.ndarray, method: str, pooling: str = "rsatoolbox") -> np.ndarray:
    """The group RDM vector that subjects are compared with for a ceiling.

    ``"rsatoolbox"``: the pooling that maximises the comparator (rank-mean for Spearman and tau-a,
    z-score mean for Pearson and corr_cov; ``rsatoolbox.util.inference_util.pool_rdm``, which
    rsatoolbox's noise ceilings use).
    ``"mean"``: the plain mean of the RDMs (the Algonauts 2019 convention).
    """
    data = np.atleast_2d(data)
    return _pool_weighted(data, np.ones((1, len(data))), method, pooling)[0]


def noise_ceiling(
    data: np.ndarray,
    method: str = "spearman",
    squared: bool = False,
    pooling: str = "rsatoolbox",
    groups: np.ndarray | None = None,
    pairs: tuple | None = None,
) -> NoiseCeiling:
    """Nili et al. (2014) ceilings: each subject vs the pooled RDM of all subjects (upper) or of the
    others (lower), averaged over subjects.

    ``squared=True`` averages squared correlations (the Algonauts 2019 R^2 ceiling, with
    ``pooling="mean"``). ``groups`` labels rows that are copies of one subject (a bootstrap sample):
    all copies are left out together and each subject counts once, as in rsatoolbox's
    ``boot_noise_ceiling``. ``pairs``: as in ``compare``. With a single subject no ceiling exists
    and NaNs are returned.
    """
    data = np.atleast_2d(data)
    groups = np.arange(len(data)) if groups is None else np.asarray(groups)
    if len(groups) != len(data):
        raise ValueError(f"groups has {len(groups)} labels for {len(data)} RDMs")
    labels, inverse = np.unique(groups, return_inverse=True)
    n = len(labels)
    if n < 2:
        nan = np.full(n, np.nan)
        return NoiseCeiling(np.nan, np.nan, nan, nan)
    member = inverse[None, :] == np.arange(n)[:, None]  # (subjects, rows)
    pooled = _pool_weighted(data, np.vstack([np.ones(len(data)), ~member]), method, pooling)
    r = compare(data, pooled, method, pairs)  # (rows, 1 + subjects)
    if squared:
        r = r**2
    up = (member * r[:, 0][None]).sum(axis=1) / member.sum(axis=1)
    lo = (member * r[:, 1:].T).sum(axis=1) / member.sum(axis=1)
    return NoiseCeiling(float(lo.mean()), float(up.mean()), lo, up)
