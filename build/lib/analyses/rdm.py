"""Representational dissimilarity matrices from activation patterns."""

from __future__ import annotations

import numpy as np


def correlation_rdm(patterns: np.ndarray) -> np.ndarray:
    """1 - Pearson r between the rows of ``patterns`` (n_stim, n_features) -> (n_stim, n_stim).

    Matches ``rsatoolbox.rdm.calc_rdm(..., method="correlation")``. A constant pattern (zero
    variance, e.g. a silent layer) has no defined correlation; its dissimilarities are set to 1
    (uncorrelated) so that it carries no structure.
    """
    x = np.asarray(patterns, dtype=np.float64).reshape(len(patterns), -1)  # (n, features)
    if x.shape[0] < 3:
        raise ValueError(f"need at least 3 stimuli for an RDM, got {x.shape[0]}")
    x = x - x.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(x, axis=1)
    ok = norm > 1e-12 * max(1.0, float(norm.max(initial=0.0)))
    x[ok] /= norm[ok, None]
    rdm = 1.0 - x @ x.T
    rdm[~ok, :] = 1.0
    rdm[:, ~ok] = 1.0
    np.fill_diagonal(rdm, 0.0)
    return (rdm + rdm.T) / 2


def upper_tri(rdms: np.ndarray) -> np.ndarray:
    """Upper-triangle vectors (k > 0) of one (n, n) or many (..., n, n) RDMs."""
    n = rdms.shape[-1]
    i, j = np.triu_indices(n, 1)
    return rdms[..., i, j]
