"""Brain scores along training: every snapshot of every network, scored at once.

A rule contributes (networks x snapshots x layers) model RDMs per recording; scoring each with the
full statistics would cost minutes. Here the comparator runs once over all of them, and each network
state gets per-layer scores with subject-bootstrap intervals and the leave-one-subject-out best
layer with its (leak-free) bootstrap interval — the same definitions as :func:`analyses.scoring.
score_roi` with ``ci="subjects"`` (t-intervals on the bootstrap variance, :mod:`analyses.intervals`).
Single-RDM recordings have no subjects to resample: their rows carry point estimates (best layer by
stimulus split-halves, as ``score_roi``) and no interval.
"""

from __future__ import annotations

import numpy as np

from analyses.inference import loso_best_layer, loso_on_resamples, split_half_on_resamples
from analyses.intervals import scheme_variance, t_interval
from analyses.rdm import upper_tri
from analyses.rsa import compare
from analyses.scoring import BEST, METHODS, _single_scorer


def trajectory_rows(
    model_rdms: np.ndarray,
    groups: list[np.ndarray],
    layers: list[str],
    brain_rdms: np.ndarray,
    *,
    method: str,
    n_boot: int,
    n_splits: int,
    seed: int,
) -> list[list[dict]]:
    """Per group (network state) of rows of ``model_rdms`` (m, n, n): its layer and best_cv rows.

    ``layers`` names every model row; ``brain_rdms`` (subjects, n, n). Rows have layer, score,
    ci_low, ci_high, method.
    """
    if method not in METHODS:
        raise ValueError(f"method={method!r} is unknown; choose one of {sorted(METHODS)}")
    comparator, squared, _ = METHODS[method]
    mv, bv = upper_tri(model_rdms), upper_tri(brain_rdms)
    per_subject = compare(mv, bv, comparator)  # (m, subjects)
    if squared:
        per_subject = per_subject**2
    n_subj, n_stim = bv.shape[0], brain_rdms.shape[1]
    idx = np.random.default_rng(seed).integers(0, n_subj, size=(n_boot, n_subj))

    def interval(estimate, samples):  # subject bootstrap samples (n_boot, ...) -> t-interval
        var, df = scheme_variance(
            np.stack([samples * np.nan, samples, samples * np.nan]), "subjects", n_subj, n_stim
        )
        return t_interval(np.asarray(estimate, float), var, df)

    if n_subj < 2:  # split-half best layers of all groups at once (the same splits for each)
        fn = _single_scorer(model_rdms, brain_rdms, comparator, squared)
        single = split_half_on_resamples(fn, np.arange(n_stim)[None], n_splits, seed, groups)[0]
    out = []
    for gi, rows in enumerate(groups):
        ps = per_subject[rows]  # (layers, subjects)
        names = [layers[r] for r in rows]
        if n_subj >= 2:
            scores = ps.mean(axis=1)
            lo, hi = interval(scores, ps[:, idx].mean(axis=-1).T)
            best = float(loso_best_layer(ps)[0].mean())
            best_lo, best_hi = (float(v) for v in interval(best, loso_on_resamples(ps, idx)))
        else:
            scores = ps[:, 0]
            lo = hi = np.full(len(rows), np.nan)
            best = float(single[gi, 0])
            best_lo = best_hi = np.nan
        group_rows = [
            {
                "method": method,
                "layer": name,
                "score": float(s),
                "ci_low": float(a),
                "ci_high": float(b),
            }
            for name, s, a, b in zip(names, scores, lo, hi, strict=True)
        ]
        group_rows.append(
            {"method": method, "layer": BEST, "score": best, "ci_low": best_lo, "ci_high": best_hi}
        )
        out.append(group_rows)
    return out
