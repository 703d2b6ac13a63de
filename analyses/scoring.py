"""Score one network's layer RDMs against one recording: per layer and cross-validated best layer.

Methods: ``spearman`` (mean Spearman r over subjects, Nili et al. 2014 ceilings) and ``r2_spearman``
(the Algonauts 2019 score: mean squared Spearman r, ceiling-normalised in ``score_nc``).
"""

from __future__ import annotations

import numpy as np

from analyses.inference import (
    bootstrap_loso,
    bootstrap_stimuli,
    bootstrap_subjects,
    loso_best_layer,
    percentile_ci,
    split_half_best_layer,
)
from analyses.rdm import upper_tri
from analyses.rsa import compare, noise_ceiling

#: method -> (comparator, squared, ceiling pooling)
METHODS = {"spearman": ("spearman", False, "rsatoolbox"), "r2_spearman": ("spearman", True, "mean")}
BEST = "best_cv"


def _per_subject(
    models: np.ndarray, data: np.ndarray, comparator: str, squared: bool
) -> np.ndarray:
    r = compare(models, data, comparator)  # (layers, subjects)
    return r**2 if squared else r


def score_roi(
    model_rdms: np.ndarray,
    brain_rdms: np.ndarray,
    layers: list[str],
    *,
    method: str,
    n_boot: int = 1000,
    n_splits: int = 10,
    seed: int = 0,
) -> tuple[list[dict], list[dict]]:
    """Rows for every layer plus ``best_cv``; and per-subject rows (for paired tests).

    ``model_rdms`` (layers, n, n) and ``brain_rdms`` (subjects, n, n) cover the same stimuli in the
    same order.
    """
    if method not in METHODS:
        raise ValueError(f"method={method!r} is unknown; choose one of {sorted(METHODS)}")
    if model_rdms.shape[1:] != brain_rdms.shape[1:]:
        raise ValueError(
            f"model RDMs {model_rdms.shape[1:]} and brain RDMs {brain_rdms.shape[1:]} "
            "cover different stimuli"
        )
    comparator, squared, pooling = METHODS[method]
    mv, bv = upper_tri(model_rdms), upper_tri(brain_rdms)
    per_subject = _per_subject(mv, bv, comparator, squared)  # (layers, subjects)
    nc = noise_ceiling(bv, comparator, squared=squared, pooling=pooling)
    n_subj, n_stim = bv.shape[0], brain_rdms.shape[1]
    common = {
        "method": method,
        "noise_ceiling_low": nc.lower,
        "noise_ceiling_high": nc.upper,
        "n_subjects": n_subj,
        "n_stimuli": n_stim,
    }

    if n_subj >= 2:
        ci_method = "bootstrap_subjects"
        layer_scores = per_subject.mean(axis=1)
        lo, hi = percentile_ci(bootstrap_subjects(per_subject, n_boot, seed))
        best_per_subject, chosen = loso_best_layer(per_subject)
        best = float(best_per_subject.mean())
        best_lo, best_hi = percentile_ci(bootstrap_loso(per_subject, n_boot, seed))
        subj_best = best_per_subject
    else:
        ci_method = "bootstrap_stimuli"
        layer_scores = per_subject[:, 0]

        def on_pairs(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
            return _per_subject(
                model_rdms[:, rows, cols], brain_rdms[:, rows, cols], comparator, squared
            )[:, 0]

        lo, hi = percentile_ci(bootstrap_stimuli(on_pairs, n_stim, n_boot, seed))
        best, chosen = split_half_best_layer(on_pairs, n_stim, n_splits, seed)
        best_lo = best_hi = np.nan
        subj_best = np.array([best])

    rows = [
        {
            "layer": name,
            "score": float(s),
            "ci_low": float(a),
            "ci_high": float(b),
            "ci_method": ci_method,
            "best_layer": "",
            **common,
        }
        for name, s, a, b in zip(layers, layer_scores, lo, hi, strict=True)
    ]
    counts = np.bincount(chosen, minlength=len(layers))
    rows.append(
        {
            "layer": BEST,
            "score": best,
            "ci_low": float(best_lo),
            "ci_high": float(best_hi),
            "ci_method": ci_method,
            "best_layer": layers[int(np.argmax(counts))],
            **common,
        }
    )
    for row in rows:
        row["score_nc"] = row["score"] / nc.upper if np.isfinite(nc.upper) else np.nan
    subject_rows = [
        {"method": method, "layer": BEST, "subject": s + 1, "score": float(v)}
        for s, v in enumerate(subj_best)
    ]
    subject_rows += [
        {"method": method, "layer": name, "subject": s + 1, "score": float(v)}
        for li, name in enumerate(layers)
        for s, v in enumerate(per_subject[li])
    ]
    return rows, subject_rows
