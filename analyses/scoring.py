"""Score one network's layer RDMs against one recording: per layer, cross-validated best layer and
(optionally) cross-validated reweighted layer mixture.

Methods (name -> rsatoolbox comparator): ``spearman``, ``kendall`` (tau-a), ``pearson``,
``whitened`` (corr_cov), each the mean over subjects with Nili et al. (2014) ceilings; and
``r2_spearman`` (the Algonauts 2019 score: mean squared Spearman r, ceiling-normalised in
``score_nc``). Intervals (``ci``: subjects, stimuli or both = dual bootstrap; single-RDM recordings:
stimuli) are t-intervals on the bootstrap variance (``analyses.intervals``); the ``best_cv``
bootstrap redoes the layer choice in every sample (all copies of a held-out subject left out;
single-RDM recordings: split halves of the resampled stimuli); ``score_nc`` intervals divide every
sample by that sample's noise ceiling. ``p_perm`` is a stimulus-label permutation test against zero
(one-sided; for ``r2_spearman`` on squared r, so either sign counts) of the statistic reported: the
LOSO best-layer score (the models' stimulus labels permuted), or the split-half score for
single-RDM recordings (the brain RDM's labels permuted, the same null, so that each half's model
side is computed once for all permutations).
Permutations are vectorised for Spearman and Pearson and loop for tau-a and whitened (slow: lower
``n_perm`` there).
"""

from __future__ import annotations

import numpy as np

from analyses.bootstrap import (
    SCHEMES,
    DualBootstrap,
    StimulusResampler,
    dual_bootstrap,
)
from analyses.inference import first_best, loso_best_layer, split_half_on_resamples
from analyses.intervals import ROWS, scheme_variance, t_interval
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
    """LOSO best-layer score of every sample: (..., layers, subjects) -> (...); for samples of
    distinct subjects (permutation nulls; resamples with copies: ``loso_on_resamples``)."""
    n = per_subject.shape[-1]
    others = (per_subject.sum(axis=-1, keepdims=True) - per_subject) / (n - 1)
    chosen = first_best(others, axis=-2)[..., None, :]  # (..., 1, subjects)
    return np.take_along_axis(per_subject, chosen, axis=-2)[..., 0, :].mean(axis=-1)


def _permutation_p(
    model_rdms: np.ndarray,
    brain_rdms: np.ndarray,
    per_subject: np.ndarray,
    method: str,
    n_perm: int,
    seed: int,
    split_half: tuple | None = None,
) -> tuple[np.ndarray, float]:
    """Per-layer p-values and the best_cv p-value (LOSO redone per permutation; single RDM:
    ``split_half`` = (observed split-half score, its null under the same permutations), from
    :func:`_split_half_groups`)."""
    comparator, squared, _ = METHODS[method]
    perms = permutations(model_rdms.shape[1], n_perm, seed)
    null = permuted_scores(model_rdms, upper_tri(brain_rdms), comparator, perms)
    if squared:
        null = null**2
    p_layers = p_value(null.mean(axis=-1), per_subject.mean(axis=-1))
    if per_subject.shape[1] >= 2:
        p_best = p_value(loso_scores(null), loso_scores(per_subject))
        return p_layers, float(p_best)
    observed, null_best = split_half
    return p_layers, float(p_value(null_best, observed))


def _split_half_groups(
    model_rdms, brain_rdms, groups, comparator, squared, stim_idx, n_splits, seed, n_perm
):
    """Split-half best layer of every group on a single-RDM recording, computed for all groups at
    once (the same splits for each): per group the point estimate, its chosen layers, the samples on
    the stimulus resamples ``stim_idx`` and (``n_perm`` > 0) the null under the permutations of
    :func:`_permutation_p`."""
    ident = np.arange(brain_rdms.shape[1])[None]
    fn = _single_scorer(model_rdms, brain_rdms, comparator, squared)
    best, chosen = split_half_on_resamples(fn, ident, n_splits, seed, groups)
    samples = split_half_on_resamples(fn, stim_idx, n_splits, seed, groups)[0]
    null = np.full((len(groups), n_perm), np.nan)
    models = _ModelSide(model_rdms, comparator)  # the same halves in every permutation
    for i, p in enumerate(permutations(brain_rdms.shape[1], n_perm, seed)):
        fn = models.scorer(brain_rdms[:, p][:, :, p], squared)
        null[:, i] = split_half_on_resamples(fn, ident, n_splits, seed, groups)[0][:, 0]
    return [(best[g, 0], chosen[g, 0], samples[g], null[g]) for g in range(len(groups))]


def _single_scorer(model_rdms, brain_rdms, comparator, squared):
    scorer = StimulusResampler(model_rdms, brain_rdms, comparator)

    def fn(idx: np.ndarray) -> np.ndarray:
        r = scorer(idx)[:, 0]
        return r**2 if squared else r

    return fn


class _ModelSide:
    """Models scored against many stimulus permutations of one brain RDM: each resample's model
    side (weighted ranks, unit vectors) is computed once and reused by every permutation, so a
    split-half null costs one brain row per half and permutation (the models' labels stay fixed;
    relabelling the brain's stimuli is the same null, row by row)."""

    def __init__(self, model_rdms: np.ndarray, comparator: str):
        self.model_rdms, self.comparator = model_rdms, comparator
        self.resampler = StimulusResampler(model_rdms, model_rdms[:0], comparator)
        self.cache: dict[bytes, np.ndarray] = {}

    def _units(self, idx: np.ndarray) -> np.ndarray:
        key = idx.tobytes()
        if key not in self.cache:
            self.cache[key] = self.resampler.units(idx)[0]
        return self.cache[key]

    def scorer(self, brain_rdm: np.ndarray, squared: bool):
        """Score function (as ``_single_scorer``'s) of the models against ``brain_rdm`` (1, n, n)."""
        if not self.resampler.fast:
            return _single_scorer(self.model_rdms, brain_rdm, self.comparator, squared)
        data = StimulusResampler(brain_rdm[:0], brain_rdm, self.comparator)

        def fn(idx: np.ndarray) -> np.ndarray:
            r = self._units(idx) @ data.units(idx)[0][0]
            return r**2 if squared else r

        return fn


def _interval(estimate, samples, scheme, n_subj, n_stim, alpha):
    var, df = scheme_variance(samples, scheme, n_subj, n_stim)
    lo, hi = t_interval(np.asarray(estimate, float), var, df, alpha)
    return lo, hi, df


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
    alpha: float = 0.05,
    resamples: dict | None = None,
    ceiling: bool = True,
) -> tuple[list[dict], list[dict]]:
    """Rows for every layer plus ``best_cv`` (and ``reweighted_cv``); and per-subject rows.

    ``model_rdms`` (layers, n, n) and ``brain_rdms`` (subjects, n, n) cover the same stimuli in the
    same order. ``ci``: resampling of the intervals (single-RDM recordings always resample stimuli).
    ``n_perm``: permutations of the test against zero (0: none, ``p_perm`` NaN). ``reweighted``:
    keyword arguments of ``analyses.reweighted.reweighted_cv`` (None: no reweighted row).
    ``alpha``: 1 - confidence of the intervals. ``resamples``: a dict that receives what
    ``analyses.ranking.rank_rules`` needs to rank with the same resampling: ``best`` (4, n_boot)
    best_cv samples per row (``analyses.intervals.ROWS`` order: the schemes, then the half splits;
    NaN where unused), ``layers`` (4, n_boot, layers) per-layer samples, ``ceiling`` (4, n_boot)
    upper ceilings, ``n_subjects``, ``n_stimuli``,
    ``n_boot``, ``seed``. ``ceiling=False`` skips the per-sample noise ceilings (no ``score_nc``
    intervals). The resample indices depend only
    on (n_subjects, n_stimuli, n_boot, seed), so every network scored on a recording gets the same.
    """
    out = score_groups(
        model_rdms,
        brain_rdms,
        layers,
        [np.arange(len(layers))],
        method=method,
        n_boot=n_boot,
        n_splits=n_splits,
        seed=seed,
        ci=ci,
        n_perm=n_perm,
        reweighted=reweighted,
        alpha=alpha,
        resamples=None if resamples is None else [resamples],
        ceiling=ceiling,
    )
    return out[0]


def score_groups(
    model_rdms: np.ndarray,
    brain_rdms: np.ndarray,
    layers: list[str],
    groups: list[np.ndarray],
    *,
    method: str,
    n_boot: int = 1000,
    n_splits: int = 10,
    seed: int = 0,
    ci: str = "subjects",
    n_perm: int = 0,
    reweighted: dict | None = None,
    alpha: float = 0.05,
    resamples: list[dict] | None = None,
    ceiling: bool = True,
    ceilings: np.ndarray | None = None,
) -> list[tuple[list[dict], list[dict]]]:
    """:func:`score_roi` for several networks at once: ``groups`` holds each network's rows of
    ``model_rdms`` (its layers, in order); returns (rows, subject rows) per group, each exactly what
    ``score_roi`` gives for that network alone. The comparator, the noise ceilings and the dual
    bootstrap of the brain side run once for all groups (the same resample indices for all), as do the
    split halves of single-RDM recordings (one comparator call per half for every group's layers,
    each group choosing its own layer), so scoring many networks costs little more than scoring one.
    Only the rows some group holds are scored. ``resamples``: one dict per group. ``ceilings``:
    the bootstrap samples' noise ceilings from :func:`ceiling_samples` for the same brain RDMs and
    settings (they do not depend on the models, so a recording's are computed once).
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
    groups = [np.asarray(g) for g in groups]
    used = np.unique(np.concatenate(groups)) if groups else np.arange(0)
    model_rdms, layers = model_rdms[used], [layers[i] for i in used]  # only rows some group holds
    groups = [np.searchsorted(used, g) for g in groups]
    mv, bv = upper_tri(model_rdms), upper_tri(brain_rdms)
    per_subject_all = _per_subject(mv, bv, comparator, squared)  # (rows, subjects)
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
    scheme, wanted = _schemes(ci, n_subj)
    ci_method = {"subjects": "bootstrap_subjects", "stimuli": "bootstrap_stimuli"}.get(
        scheme, "bootstrap_dual"
    )
    db_all = dual_bootstrap(
        model_rdms,
        brain_rdms,
        comparator,
        n_boot,
        seed,
        squared=squared,
        pooling=pooling,
        ceiling=ceiling and n_subj >= 2,
        schemes=wanted,
        ceilings=ceilings if ceiling and n_subj >= 2 else None,
    )
    if resamples is not None and len(resamples) != len(groups):
        raise ValueError(f"{len(resamples)} resample dicts for {len(groups)} groups")
    single = (
        _split_half_groups(
            model_rdms,
            brain_rdms,
            groups,
            comparator,
            squared,
            db_all.stim_idx,
            n_splits,
            seed,
            n_perm,
        )
        if n_subj < 2
        else [None] * len(groups)
    )
    out = []
    for gi, g in enumerate(groups):
        sub = DualBootstrap(
            per_subject=db_all.per_subject[:, :, g],
            noise_ceiling=db_all.noise_ceiling,
            subj_idx=db_all.subj_idx,
            stim_idx=db_all.stim_idx,
            full=db_all.full[g],
        )
        out.append(
            _group_rows(
                model_rdms[g],
                brain_rdms,
                [layers[i] for i in g],
                per_subject_all[g],
                nc,
                sub,
                method=method,
                scheme=scheme,
                ci_method=ci_method,
                common=common,
                single=single[gi],
                seed=seed,
                n_perm=n_perm,
                reweighted=reweighted,
                alpha=alpha,
                ceiling=ceiling,
                resamples=None if resamples is None else resamples[gi],
            )
        )
    return out


def _schemes(ci: str, n_subjects: int) -> tuple[str, tuple[str, ...]]:
    """(interval scheme, bootstrap schemes to draw): single-RDM recordings resample stimuli only."""
    scheme = ci if n_subjects >= 2 else "stimuli"
    return scheme, SCHEMES if scheme == "both" else (scheme,)


def ceiling_samples(
    brain_rdms: np.ndarray, *, method: str, n_boot: int = 1000, seed: int = 0, ci: str = "subjects"
) -> np.ndarray:
    """The noise ceilings (rows, n_boot, 2) of the bootstrap samples :func:`score_groups` draws
    for ``brain_rdms`` with these settings, for its ``ceilings`` argument (all NaN for a single
    RDM, which has no ceiling)."""
    if method not in METHODS:
        raise ValueError(f"method={method!r} is unknown; choose one of {sorted(METHODS)}")
    if ci not in CI_SCHEMES:
        raise ValueError(f"ci={ci!r} is unknown; choose one of {CI_SCHEMES}")
    comparator, squared, pooling = METHODS[method]
    n_subj = len(brain_rdms)
    if n_subj < 2:
        return np.full((len(ROWS), n_boot, 2), np.nan)
    no_models = np.empty((0, *brain_rdms.shape[1:]))
    return dual_bootstrap(
        no_models, brain_rdms, comparator, n_boot, seed, squared=squared, pooling=pooling,
        schemes=_schemes(ci, n_subj)[1],
    ).noise_ceiling  # fmt: skip


def _group_rows(
    model_rdms,
    brain_rdms,
    layers,
    per_subject,
    nc,
    db,
    *,
    method,
    scheme,
    ci_method,
    common,
    single,
    seed,
    n_perm,
    reweighted,
    alpha,
    ceiling,
    resamples,
):
    """Rows of one network from the shared statistics (see :func:`score_groups`; ``single``: its
    split-half results on a single-RDM recording, from :func:`_split_half_groups`)."""
    comparator, squared, pooling = METHODS[method]
    n_subj, n_stim = brain_rdms.shape[0], brain_rdms.shape[1]
    n_boot = db.per_subject.shape[1]
    layer_samples = db.evaluations  # (4, n_boot, layers)
    upper = db.noise_ceiling[..., 1]  # (4, n_boot)
    split_half = None
    if n_subj >= 2:
        best_per_subject, chosen = loso_best_layer(per_subject)
        best = float(best_per_subject.mean())
        layer_scores = per_subject.mean(axis=1)
        best_samples = db.best_cv()
    else:
        layer_scores = per_subject[:, 0]
        best, chosen, stim_samples, null_best = single
        best = float(best)
        best_per_subject = np.array([best])
        best_samples = np.full((len(layer_samples), n_boot), np.nan)  # no pairs row: see intervals
        best_samples[2] = stim_samples
        split_half = (best, null_best)
    lo, hi, df = _interval(layer_scores, layer_samples, scheme, n_subj, n_stim, alpha)
    best_lo, best_hi, best_df = _interval(best, best_samples, scheme, n_subj, n_stim, alpha)
    score_nc = layer_scores / nc.upper if np.isfinite(nc.upper) else np.full(len(layers), np.nan)
    best_nc = best / nc.upper if np.isfinite(nc.upper) else np.nan
    if n_subj >= 2 and ceiling:
        with np.errstate(invalid="ignore", divide="ignore"):
            nc_lo, nc_hi, _ = _interval(
                score_nc, layer_samples / upper[..., None], scheme, n_subj, n_stim, alpha
            )
            best_nc_lo, best_nc_hi, _ = _interval(
                best_nc, best_samples / upper, scheme, n_subj, n_stim, alpha
            )
    else:
        nc_lo = nc_hi = np.full(len(layers), np.nan)
        best_nc_lo = best_nc_hi = np.nan
    if resamples is not None:
        resamples.update(
            best=best_samples,
            layers=layer_samples,
            ceiling=upper,
            n_subjects=n_subj,
            n_stimuli=n_stim,
            n_boot=n_boot,
            seed=seed,
        )

    if n_perm > 0:
        p_layers, p_best = _permutation_p(
            model_rdms, brain_rdms, per_subject, method, n_perm, seed, split_half
        )
    else:
        p_layers, p_best = np.full(len(layers), np.nan), np.nan

    rows = [
        {
            "layer": name,
            "score": float(s),
            "ci_low": float(a),
            "ci_high": float(b),
            "ci_method": ci_method,
            "ci_df": float(d),
            "best_layer": "",
            "p_perm": float(p),
            **common,
            "score_nc": float(snc),
            "score_nc_low": float(c0),
            "score_nc_high": float(c1),
        }
        for name, s, a, b, d, p, snc, c0, c1 in zip(
            layers, layer_scores, lo, hi, df, p_layers, score_nc, nc_lo, nc_hi, strict=True
        )
    ]
    counts = np.bincount(chosen, minlength=len(layers))
    rows.append(
        {
            "layer": BEST,
            "score": best,
            "ci_low": float(best_lo),
            "ci_high": float(best_hi),
            "ci_method": ci_method,
            "ci_df": float(best_df),
            "best_layer": layers[int(np.argmax(counts))],
            "p_perm": p_best,
            **common,
            "score_nc": float(best_nc),
            "score_nc_low": float(best_nc_lo),
            "score_nc_high": float(best_nc_hi),
        }
    )
    subject_rows = [
        {"method": method, "layer": BEST, "subject": s + 1, "score": float(v)}
        for s, v in enumerate(best_per_subject)
    ]
    if reweighted is not None:
        held, weights, held_nc = reweighted_cv(
            model_rdms,
            brain_rdms,
            comparator,
            squared=squared,
            pooling=pooling,
            seed=seed,
            **reweighted,
        )
        rw = float(held.mean())
        rw_nc = rw / float(held_nc.mean()) if n_subj >= 2 else np.nan
        if n_subj >= 2:  # a t-interval over the held-out subjects
            var = held.var(ddof=1) / n_subj
            rw_lo, rw_hi = t_interval(rw, var, n_subj - 1, alpha)
            ratio = held / held_nc.mean()
            rnc_lo, rnc_hi = t_interval(rw_nc, ratio.var(ddof=1) / n_subj, n_subj - 1, alpha)
        else:
            rw_lo = rw_hi = rnc_lo = rnc_hi = np.nan
        rows.append(
            {
                "layer": REWEIGHTED,
                "score": rw,
                "ci_low": float(rw_lo),
                "ci_high": float(rw_hi),
                "ci_method": "t_subjects" if n_subj >= 2 else "",
                "ci_df": float(n_subj - 1) if n_subj >= 2 else np.nan,
                "best_layer": layers[int(np.argmax(weights))],
                "p_perm": np.nan,
                **common,
                "score_nc": rw_nc,
                "score_nc_low": float(rnc_lo),
                "score_nc_high": float(rnc_hi),
            }
        )
        subject_rows += [
            {"method": method, "layer": REWEIGHTED, "subject": s + 1, "score": float(v)}
            for s, v in enumerate(held)
        ]
    subject_rows += [
        {"method": method, "layer": name, "subject": s + 1, "score": float(v)}
        for li, name in enumerate(layers)
        for s, v in enumerate(per_subject[li])
    ]
    return rows, subject_rows
