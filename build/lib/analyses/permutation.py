"""Permutation tests of RSA scores against zero: the stimulus labels of the model RDM are permuted.

Under the null hypothesis (no relation between model and brain RDMs) every relabelling of the model's
stimuli is equally likely, so the p-value ``(1 + #{null >= observed}) / (1 + n_perm)`` is exact.
Spearman and Pearson are vectorised over permutations (a permutation only reorders the already
ranked, centred and normalised model vector); other comparators loop.
"""

from __future__ import annotations

import numpy as np

from analyses.ranks import rankdata
from analyses.rdm import upper_tri
from analyses.rsa import check_comparator, compare


def permutations(n_stim: int, n_perm: int, seed: int) -> np.ndarray:
    """(n_perm, n_stim) random stimulus permutations."""
    rng = np.random.default_rng(seed)
    return np.argsort(rng.random((n_perm, n_stim)), axis=1)


def _unit_rows(x: np.ndarray) -> np.ndarray:
    x = x - x.mean(axis=1, keepdims=True)
    return x / (np.linalg.norm(x, axis=1, keepdims=True) + 1e-300)


def permuted_scores(
    model_rdms: np.ndarray,
    data_vecs: np.ndarray,
    comparator: str,
    perms: np.ndarray,
    chunk: int = 64,
) -> np.ndarray:
    """Scores of stimulus-permuted models (L, n, n) vs data vectors (S, p): (n_perm, L, S)."""
    check_comparator(comparator)
    n = model_rdms.shape[-1]
    if perms.shape[1] != n:
        raise ValueError(f"permutations are of {perms.shape[1]} stimuli, the RDMs have {n}")
    iu, ju = np.triu_indices(n, 1)
    if comparator not in ("spearman", "pearson", "corr"):
        return np.stack(
            [compare(upper_tri(model_rdms[:, p][:, :, p]), data_vecs, comparator) for p in perms]
        )
    mv, dv = upper_tri(model_rdms).astype(float), np.asarray(data_vecs, float)
    if comparator == "spearman":
        mv, dv = rankdata(mv, axis=1), rankdata(dv, axis=1)
    mv, dv = _unit_rows(mv).astype(np.float32), _unit_rows(dv).astype(np.float32)
    pair = np.zeros((n, n), dtype=np.int32)  # pair index of (i, j), symmetric
    pair[iu, ju] = pair[ju, iu] = np.arange(len(iu))
    pair = pair.ravel()
    out = np.empty((len(perms), len(mv), len(dv)))
    for start in range(0, len(perms), chunk):
        p = perms[start : start + chunk]
        idx = pair[p[:, iu] * n + p[:, ju]]  # (B, pairs): where each permuted pair's value is
        gathered = mv[:, idx].reshape(-1, idx.shape[1])  # (L * B, pairs)
        out[start : start + chunk] = (
            (gathered @ dv.T).reshape(len(mv), len(p), -1).transpose(1, 0, 2)
        )
    return out


def p_value(null: np.ndarray, observed: np.ndarray | float) -> np.ndarray:
    """One-sided permutation p-value of ``observed`` against ``null`` samples on axis 0."""
    return (1 + (null >= np.asarray(observed) - 1e-6).sum(axis=0)) / (1 + len(null))
