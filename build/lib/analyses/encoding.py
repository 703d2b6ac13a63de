"""Encoding models: cross-validated ridge regression from layer features to every response channel.

Channels are voxels, vertices or sensors (x time points: pass them flattened or as extra axes, the
outputs keep the trailing shape). The estimator is scikit-learn's (default: standardise, optional
PCA, ``RidgeCV`` with one penalty per channel), refit in every outer fold so that neither the PCA nor
the penalty ever sees the held-out stimuli. Scores per channel: Pearson r between held-out
predictions and responses, explained variance (R^2 of the held-out predictions) and that variance
divided by the channel's noise ceiling (e.g. ``split_half_ceiling``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.decomposition import PCA
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

ALPHAS = np.logspace(-2, 6, 9)


@dataclass(frozen=True)
class EncodingResult:
    """Per-channel scores (shape: the responses' trailing shape) and held-out predictions."""

    r: np.ndarray
    ev: np.ndarray
    ev_nc: np.ndarray
    predictions: np.ndarray


def ridge_encoder(n_components: int | None = None, alphas: np.ndarray = ALPHAS) -> BaseEstimator:
    """Standardise -> [PCA(n_components)] -> RidgeCV with a penalty per channel."""
    steps = [StandardScaler()]
    if n_components is not None:
        steps.append(PCA(n_components=n_components, random_state=0))
    steps.append(RidgeCV(alphas=alphas, alpha_per_target=True))
    return make_pipeline(*steps)


def _column_r(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a - a.mean(axis=0)
    b = b - b.mean(axis=0)
    den = np.sqrt((a**2).sum(axis=0) * (b**2).sum(axis=0))
    return np.where(den > 0, (a * b).sum(axis=0) / np.where(den > 0, den, 1), np.nan)


def encode(
    features: np.ndarray,
    responses: np.ndarray,
    *,
    estimator: BaseEstimator | None = None,
    n_components: int | None = None,
    n_folds: int = 5,
    ceiling: np.ndarray | None = None,
    seed: int = 0,
) -> EncodingResult:
    """Cross-validated encoding of ``responses`` (n_stim, *channels) from ``features`` (n_stim, ...).

    ``estimator``: any scikit-learn regressor with multi-output support (default
    ``ridge_encoder(n_components)``). ``ceiling``: explainable-variance fraction per channel
    (shape ``channels``); without it ``ev_nc`` is NaN.
    """
    x = np.asarray(features, dtype=float).reshape(len(features), -1)  # (n_stim, features)
    y = np.asarray(responses, dtype=float)
    if y.ndim < 2 or len(y) != len(x):
        raise ValueError(
            f"responses must be (n_stim, channels...) with n_stim = {len(x)} (the features' first "
            f"dimension), got shape {y.shape}"
        )
    channels = y.shape[1:]
    y = y.reshape(len(y), -1)  # (n_stim, channels)
    if not 2 <= n_folds <= len(x):
        raise ValueError(f"n_folds={n_folds} must be between 2 and the {len(x)} stimuli")
    if estimator is None:
        estimator = ridge_encoder(n_components)
    pred = np.empty_like(y)
    for train, test in KFold(n_folds, shuffle=True, random_state=seed).split(x):
        model = clone(estimator).fit(x[train], y[train])
        pred[test] = model.predict(x[test]).reshape(len(test), -1)
    r = _column_r(pred, y)
    sst = ((y - y.mean(axis=0)) ** 2).sum(axis=0)
    ev = 1 - ((y - pred) ** 2).sum(axis=0) / np.where(sst > 0, sst, np.nan)
    if ceiling is None:
        ev_nc = np.full_like(ev, np.nan)
    else:
        c = np.asarray(ceiling, dtype=float).reshape(-1)
        if c.shape != ev.shape:
            raise ValueError(f"ceiling has shape {np.shape(ceiling)}, the channels {channels}")
        ev_nc = np.where(c > 0, ev / np.where(c > 0, c, 1), np.nan)
    return EncodingResult(
        r.reshape(channels), ev.reshape(channels), ev_nc.reshape(channels), pred.reshape(y.shape)
    )


def split_half_ceiling(repetitions: np.ndarray, n_splits: int = 20, seed: int = 0) -> np.ndarray:
    """Explainable-variance fraction of the repetition-mean response per channel.

    ``repetitions`` (n_reps, n_stim, *channels): the Spearman-Brown corrected correlation between
    the means of random halves of the repetitions (averaged over ``n_splits`` splits), i.e. the
    reliability of the mean over all repetitions; clipped at 0.
    """
    reps = np.asarray(repetitions, dtype=float)
    if reps.ndim < 3 or len(reps) < 2:
        raise ValueError(f"need (n_reps >= 2, n_stim, channels...) repetitions, got {reps.shape}")
    flat = reps.reshape(len(reps), reps.shape[1], -1)
    rng = np.random.default_rng(seed)
    rs = []
    for _ in range(n_splits):
        perm = rng.permutation(len(reps))
        half = len(reps) // 2
        a, b = flat[perm[:half]].mean(axis=0), flat[perm[half : 2 * half]].mean(axis=0)
        rs.append(_column_r(a, b))
    r = np.nanmean(rs, axis=0)
    # Spearman-Brown: from half of the repetitions to all of them
    k = len(reps) / (2 * (len(reps) // 2))
    full = 2 * k * r / (1 + (2 * k - 1) * r)
    return np.clip(full, 0, None).reshape(reps.shape[2:])
