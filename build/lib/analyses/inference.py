"""Bootstrap resamples and cross-validated layer selection for RSA scores (intervals from them:
``analyses.intervals``).

Scores arrive as a (layers, subjects) matrix of per-subject similarities; single-RDM recordings are
handled by resampling stimuli instead of subjects.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

TIE_TOL = 1e-12  # scores this close are one score computed in a different order


def first_best(scores: np.ndarray, axis: int = 0) -> np.ndarray:
    """Index of the best score along ``axis``: the first within ``TIE_TOL`` of the maximum.

    Layers whose scores tie exactly in theory (e.g. Spearman on a few distinct stimuli) differ in
    their last bits with the order of the arithmetic, which depends on how many layers were scored
    together and on the numpy build; ties then go to the first layer, the same one everywhere.
    NaN scores never win unless all are NaN (then index 0).
    """
    v = np.nan_to_num(np.asarray(scores, dtype=float), nan=-np.inf)
    return np.argmax(v >= v.max(axis=axis, keepdims=True) - TIE_TOL, axis=axis)


def bootstrap_subjects(per_subject: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """Means over subjects resampled with replacement: (..., subjects) -> (..., n_boot)."""
    n = per_subject.shape[-1]
    idx = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    return per_subject[..., idx].mean(axis=-1)


def loso_best_layer(per_subject: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Leave-one-subject-out layer choice on (layers, subjects) scores.

    For each held-out subject the layer with the best mean score over the *other* subjects is chosen
    and the held-out subject's score at that layer is returned, so the choice never sees the data it
    is judged on. Returns (held-out scores (subjects,), chosen layer index per subject).
    """
    n_layers, n = per_subject.shape
    if n < 2:
        raise ValueError("leave-one-subject-out layer selection needs at least 2 subjects")
    others = (per_subject.sum(axis=1, keepdims=True) - per_subject) / (n - 1)  # (layers, subjects)
    chosen = first_best(others, axis=0)
    return per_subject[chosen, np.arange(n)], chosen


def bootstrap_loso(per_subject: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """Bootstrap over subjects of the LOSO best-layer score (selection redone in every sample, all
    copies of the held-out subject left out)."""
    n = per_subject.shape[1]
    idx = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    return loso_on_resamples(per_subject, idx)


def stimulus_resamples(n_stim: int, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, n_stim) stimulus indices drawn with replacement."""
    return np.random.default_rng(seed).integers(0, n_stim, size=(n_boot, n_stim))


def resampled_pairs(idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row/column indices of the upper-triangle pairs of a resample, dropping pairs of one stimulus."""
    i, j = np.triu_indices(len(idx), 1)
    keep = idx[i] != idx[j]
    return idx[i[keep]], idx[j[keep]]


def bootstrap_stimuli(
    score_fn: Callable[[np.ndarray, np.ndarray], np.ndarray], n_stim: int, n_boot: int, seed: int
) -> np.ndarray:
    """Scores recomputed on stimulus resamples (rsatoolbox's scheme: duplicate pairs dropped).

    ``score_fn(rows, cols)`` gets the RDM entries to use and returns a score array (e.g. per layer);
    the result stacks them as (..., n_boot).
    """
    samples = [score_fn(*resampled_pairs(idx)) for idx in stimulus_resamples(n_stim, n_boot, seed)]
    return np.stack(samples, axis=-1)


def split_half_on_resamples(
    score_fn: Callable[[np.ndarray], np.ndarray],
    resamples: np.ndarray,
    n_splits: int,
    seed: int,
    groups: list[np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Split-half best-layer score on every stimulus resample (n_boot, n) for single-RDM recordings.

    ``score_fn(idx)`` returns per-layer scores on the stimuli ``idx`` (repeats allowed, each pair
    counted once per pair of copies). In each resample the distinct stimuli are split at random
    into halves ``n_splits`` times; the layer is chosen on one half and scored on the other and
    vice versa, as in the point estimate (the identity resample). Returns (scores (n_boot,),
    chosen layers (n_boot, 2 * n_splits)).

    ``groups``: several networks at once, each a set of rows of ``score_fn``'s output (its layers);
    every group gets the same splits and its own layer choice, exactly as if scored alone, while
    ``score_fn`` runs once per half for all of them. Returns (scores (groups, n_boot), chosen layers
    (groups, n_boot, 2 * n_splits) as positions within each group).
    """
    single = groups is None
    rows = [slice(None)] if single else groups  # each group's rows of score_fn's output
    rng = np.random.default_rng(seed)
    n_groups = len(rows)
    out = np.empty((n_groups, len(resamples)))
    chosen = np.empty((n_groups, len(resamples), 2 * n_splits), dtype=int)
    for b, idx in enumerate(resamples):
        distinct = np.unique(idx)
        held = np.empty((n_groups, 2 * n_splits))
        for s in range(n_splits):
            perm = rng.permutation(distinct)
            half = len(perm) // 2
            scores = [score_fn(idx[np.isin(idx, h)]) for h in (perm[:half], perm[half:])]
            for h, (sel, test) in enumerate((scores, scores[::-1])):
                for g, r in enumerate(rows):
                    layer = int(first_best(sel[r]))
                    held[g, 2 * s + h] = test[r][layer]
                    chosen[g, b, 2 * s + h] = layer
        out[:, b] = held.mean(axis=1)
    return (out[0], chosen[0]) if single else (out, chosen)


def loso_on_resamples(per_subject: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """LOSO best-layer score of (layers, subjects) scores on every subject resample (n_boot, n).

    ``per_subject`` may also be (n_boot, layers, subjects): one score matrix per sample (e.g. on that
    sample's stimulus resample). Selection is redone in every resample, leaving out all copies of
    the held-out subject, so the variability of the layer choice is part of the bootstrap
    distribution. Resamples of one distinct subject give NaN.
    """
    n_boot, n = idx.shape
    per = np.broadcast_to(per_subject, (n_boot, *per_subject.shape[-2:]))
    n_orig = per.shape[-1]
    counts = np.zeros((n_boot, n_orig))
    np.add.at(counts, (np.arange(n_boot)[:, None], idx), 1.0)
    total = np.einsum("bs,bls->bl", counts, per)  # (n_boot, layers): sum over the resample
    c = np.take_along_axis(counts, idx, axis=1)[:, None, :]  # copies of each drawn subject
    s = np.take_along_axis(per, np.broadcast_to(idx[:, None, :], (n_boot, per.shape[1], n)), 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        others = (total[:, :, None] - c * s) / (n - c)
    chosen = first_best(others, axis=1)[:, None, :]
    held = np.take_along_axis(s, chosen, axis=1)[:, 0, :].mean(axis=1)
    held[(c[:, 0, :] == n).any(axis=1)] = np.nan
    return held
