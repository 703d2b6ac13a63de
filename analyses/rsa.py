"""RSA comparators and noise ceilings (rsatoolbox definitions, vectorised over RDMs).

``compare`` works on upper-triangle vectors: models (m, p) vs data (s, p) -> (m, s).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata


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


COMPARATORS = {"spearman": _spearman, "pearson": _pearson}


def compare(models: np.ndarray, data: np.ndarray, method: str = "spearman") -> np.ndarray:
    """Similarity of every model RDM vector with every data RDM vector: (m, p) x (s, p) -> (m, s)."""
    if method not in COMPARATORS:
        raise ValueError(f"method={method!r} is unknown; choose one of {sorted(COMPARATORS)}")
    models, data = np.atleast_2d(models), np.atleast_2d(data)
    if models.shape[1] != data.shape[1]:
        raise ValueError(
            f"model vectors have {models.shape[1]} entries, data vectors {data.shape[1]}"
        )
    return COMPARATORS[method](models, data)


@dataclass(frozen=True)
class NoiseCeiling:
    """Leave-one-subject-out lower bound and all-subject upper bound, per subject and mean."""

    lower: float
    upper: float
    lower_per_subject: np.ndarray
    upper_per_subject: np.ndarray


def pool(data: np.ndarray, method: str, pooling: str = "rsatoolbox") -> np.ndarray:
    """The group RDM vector that subjects are compared with for a ceiling.

    ``"rsatoolbox"``: the pooling that maximises the comparator (rank-mean for Spearman, z-score
    mean for Pearson; ``rsatoolbox.inference.noise_ceiling.pool_rdm``). ``"mean"``: the plain
    mean of the RDMs (the Algonauts 2019 convention, which its published ceilings use).
    """
    if pooling == "mean":
        return data.mean(axis=0)
    if pooling != "rsatoolbox":
        raise ValueError(f"pooling={pooling!r} is unknown; choose 'rsatoolbox' or 'mean'")
    if method == "spearman":
        return rankdata(data, axis=1).mean(axis=0)
    z = data - data.mean(axis=1, keepdims=True)
    return (z / z.std(axis=1, keepdims=True)).mean(axis=0)


def noise_ceiling(
    data: np.ndarray, method: str = "spearman", squared: bool = False, pooling: str = "rsatoolbox"
) -> NoiseCeiling:
    """Nili et al. (2014) ceilings: each subject vs the pooled RDM of all subjects (upper) or of the
    others (lower), averaged over subjects.

    ``squared=True`` averages squared correlations (the Algonauts 2019 R^2 ceiling, with
    ``pooling="mean"``). With a single subject no ceiling exists and NaNs are returned.
    """
    data = np.atleast_2d(data)
    n = len(data)
    if n < 2:
        nan = np.full(n, np.nan)
        return NoiseCeiling(np.nan, np.nan, nan, nan)
    everyone = pool(data, method, pooling)[None]
    up = compare(data, everyone, method)[:, 0]
    lo = np.array(
        [
            compare(
                data[i : i + 1], pool(np.delete(data, i, axis=0), method, pooling)[None], method
            )[0, 0]
            for i in range(n)
        ]
    )
    if squared:
        up, lo = up**2, lo**2
    return NoiseCeiling(float(lo.mean()), float(up.mean()), lo, up)
