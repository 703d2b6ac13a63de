"""Score one network's layer RDMs against one recording: per layer, cross-validated best layer and
(optionally) cross-validated reweighted layer mixture.

Methods (name -> rsatoolbox comparator): ``spearman``, ``kendall`` (tau-a), ``pearson``,
``whitened`` (corr_cov), each the mean over subjects with Nili et al. (2014) ceilings; and
``r2_spearman`` (the Algonauts 2019 score: mean squared Spearman r, ceiling-normalised in
``score_nc``). Intervals bootstrap subjects, stimuli or both (``ci``); ``p_perm`` is a stimulus-label
permutation test against zero (one-sided; for ``r2_spearman`` on squared r, so either sign counts).
Permutations are vectorised for Spearman and Pearson and loop for tau-a and whitened (slow: lower
``n_perm`` there).
"""

from __future__ import annotations

import numpy as np

from analyses.bootstrap import SCHEMES, dual_bootstrap
from analyses.inference import (
    bootstrap_loso,
    bootstrap_subjects,
    loso_best_layer,
    percentile_ci,
    split_half_best_layer,
)
from analyses.permutation import p_value, permutations, permuted_scores
from analyses.rdm import upper_tri
from analyses.reweighted import reweighted_cv
from analyses.rsa import compare, noise_ceiling

#: method -> (comparator, squared, ceiling pooling)
METHODS = {
    "spearman": ("spearman", False, "rsatoolbox"),
    "kendall": ("tau-a", False, "rsatoolbox"),
    "pearson": ("pearson", False, "rsatoolbox"),
    "whitened": ("corr_cov", False, "rsatoolbox"),
    "r2_spearman": ("spearman", True, "mean"),
}
CI_SCHEMES = ("subjects", "stimuli", "both")
BEST = "best_cv"
REWEIGHTED = "reweighted_cv"


def _per_subject(
    models: np.ndarray, data: np.ndarray, comparator: str, squared: bool
) -> np.ndarray:
    r = compare(models, data, comparator)  # (layers, subjects)
    return r**2 if squared else r


def loso_scores(per_subject: np.ndarray) -> np.ndarray:
    """LOSO best-layer score of every sample: (..., layers, subjects) -> (...)."""
    n = per_subject.shape[-1]
    others = (per_subject.sum(axis=-1, keepdims=True) - per_subject) / (n - 1)
    chosen = np.argmax(others, axis=-2)[..., None, :]  # (..., 1, subjects)
    return np.take_along_axis(per_subject, chosen, axis=-2)[..., 0, :].mean(axis=-1)


def _permutation_p(
    model_rdms: np.ndarray, bv: np.ndarray, per_subject: np.ndarray, method: str, n_perm: int, seed
) -> tuple[np.ndarray, float]:
    """Per-layer p-values and the best_cv p-value (LOSO redone per permutation; with one subject the
    max-over-layers statistic)."""
    comparator, squared, _ = METHODS[method]
    null = permuted_scores(
        model_rdms, bv, comparator, permutations(model_rdms.shape[1], n_perm, seed)
    )
    if squared:
        null = null**2
    p_layers = p_value(null.mean(axis=-1), per_subject.mean(axis=-1))
    if per_subject.shape[1] >= 2:
        p_best = p_value(loso_scores(null), loso_scores(per_subject))
    else:
        p_best = p_value(null.mean(axis=-1).max(axis=-1), per_subject.mean(axis=-1).max())
    return p_layers, float(p_best)


def score_roi(
    model_rdms: np.ndarray,
    brain_rdms: np.ndarray,
    layers: list[str],
    *,
    method: str,
    n_boot: int = 1000,
    n_splits: int = 10,
    seed: int = 0,
    ci: str = "subjects",
    n_perm: int = 0,
    reweighted: dict | None = None,
) -> tuple[list[dict], list[dict]]:
    """Rows for every layer plus ``best_cv`` (and ``reweighted_cv``); and per-subject rows.

    ``model_rdms`` (layers, n, n) and ``brain_rdms`` (subjects, n, n) cover the same stimuli in the
    same order. ``ci``: resampling of the intervals (single-RDM recordings always resample stimuli).
    ``n_perm``: permutations of the test against zero (0: none, ``p_perm`` NaN). ``reweighted``:
    keyword arguments of ``analyses.reweighted.reweighted_cv`` (None: no reweighted row).
    """
    if method not in METHODS:
        raise ValueError(f"method={method!r} is unknown; choose one of {sorted(METHODS)}")
    if ci not in CI_SCHEMES:
        raise ValueError(f"ci={ci!r} is unknown; choose one of {CI_SCHEMES}")
    if model_rdms.shape[1:] != brain_rdms.shape[1:]:
        raise ValueError(
            f"model RDMs {model_rdms.shape[1:]} and brain RDMs {brain_rdms.shape[1:]} "
            "cover different stimuli"
        )
    if len(layers) != len(model_rdms):
        raise ValueError(f"{len(layers)} layer names for {len(model_rdms)} model RDMs")
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
        "n_perm": n_perm,
    }
    best_per_subject = chosen = None
    if n_subj >= 2:
        best_per_subject, chosen = loso_best_layer(per_subject)
        best = float(best_per_subject.mean())
        layer_scores = per_subject.mean(axis=1)
    if n_subj >= 2 and ci == "subjects":
        ci_method = "bootstrap_subjects"
        lo, hi = percentile_ci(bootstrap_subjects(per_subject, n_boot, seed))
        best_lo, best_hi = percentile_ci(bootstrap_loso(per_subject, n_boot, seed))
    elif n_subj >= 2:
        ci_method = "bootstrap_stimuli" if ci == "stimuli" else "bootstrap_dual"
        db = dual_bootstrap(
            model_rdms, brain_rdms, comparator, n_boot, seed, squared=squared, ceiling=False
        )
        samples = db.per_subject[SCHEMES.index("stimuli" if ci == "stimuli" else "both")]
        lo, hi = percentile_ci(samples.mean(axis=-1).T)
        best_lo, best_hi = percentile_ci(loso_scores(samples))
    else:
        ci_method = "bootstrap_stimuli"
        layer_scores = per_subject[:, 0]

        def on_pairs(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
            return _per_subject(
                model_rdms[:, rows, cols], brain_rdms[:, rows, cols], comparator, squared
            )[:, 0]

        samples = dual_bootstrap(
            model_rdms, brain_rdms, comparator, n_boot, seed, squared=squared, ceiling=False
        ).per_subject[SCHEMES.index("stimuli"), :, :, 0]  # (n_boot, layers)
        lo, hi = percentile_ci(samples.T)
        best, chosen = split_half_best_layer(on_pairs, n_stim, n_splits, seed)
        best_lo = best_hi = np.nan
        best_per_subject = np.array([best])

    if n_perm > 0:
        p_layers, p_best = _permutation_p(model_rdms, bv, per_subject, method, n_perm, seed)
    else:
        p_layers, p_best = np.full(len(layers), np.nan), np.nan

    rows = [
        {
            "layer": name,
            "score": float(s),
            "ci_low": float(a),
            "ci_high": float(b),
            "ci_method": ci_method,
            "best_layer": "",
            "p_perm": float(p),
            **common,
        }
        for name, s, a, b, p in zip(layers, layer_scores, lo, hi, p_layers, strict=True)
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
            "p_perm": p_best,
            **common,
        }
    )
    subject_rows = [
        {"method": method, "layer": BEST, "subject": s + 1, "score": float(v)}
        for s, v in enumerate(best_per_subject)
    ]
    if reweighted is not None:
        held, weights = reweighted_cv(
            model_rdms, brain_rdms, comparator, squared=squared, seed=seed, **reweighted
        )
        rw_lo, rw_hi = (
            percentile_ci(bootstrap_subjects(held, n_boot, seed)) if n_subj >= 2 else (np.nan,) * 2
        )
        rows.append(
            {
                "layer": REWEIGHTED,
                "score": float(held.mean()),
                "ci_low": float(rw_lo),
                "ci_high": float(rw_hi),
                "ci_method": "bootstrap_subjects" if n_subj >= 2 else "",
                "best_layer": layers[int(np.argmax(weights))],
                "p_perm": np.nan,
                **common,
            }
        )
        subject_rows += [
            {"method": method, "layer": REWEIGHTED, "subject": s + 1, "score": float(v)}
            for s, v in enumerate(held)
        ]
    for row in rows:
        row["score_nc"] = row["score"] / nc.upper if np.isfinite(nc.upper) else np.nan
    subject_rows += [
        {"method": method, "layer": name, "subject": s + 1, "score": float(v)}
        for li, name in enumerate(layers)
        for s, v in enumerate(per_subject[li])
    ]
    return rows, subject_rows
