"""Dual bootstrap of RSA evaluations: over subjects, over stimuli and over both (Schütt et al. 2023).

Every bootstrap sample draws subjects and stimuli once; the three schemes reuse those draws, as
``rsatoolbox.inference.eval_dual_bootstrap`` does (without cross-validation, k_rdm = k_pattern = 1).
Stimulus resamples keep every pair of two different stimuli (duplicates of a pair repeat, pairs of
one stimulus with its own copy are dropped), for every comparator: ``corr_cov`` whitens the
resample with those pairs missing, as rsatoolbox does. Noise ceilings are computed on every sample
(the same resamples, copies of a subject left out together); for Spearman and Pearson they are
vectorised over subjects, so a sample with ceilings costs little more than one without.

A fourth row, ``pairs``, holds the scores on random halves of the stimuli (the pairs within each
half, all subjects): its variance is the pair part of the stimulus-sampling variance, which the
stimulus bootstrap over-counts (``analyses.intervals``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from analyses.inference import loso_on_resamples, resampled_pairs
from analyses.intervals import ROWS, SCHEMES, scheme_variance
from analyses.ranks import dense_ranks
from analyses.rdm import upper_tri
from analyses.rsa import check_comparator, compare, noise_ceiling


def stimulus_view(rdms: np.ndarray, idx: np.ndarray, comparator: str = "") -> np.ndarray:
    """RDM vectors (k, p') of (k, n, n) RDMs on the stimulus resample ``idx`` (self-pairs dropped)."""
    rows, cols = resampled_pairs(idx)
    return rdms[:, rows, cols]


def resample_layout(idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """``pairs`` argument of ``analyses.rsa.compare`` for vectors from ``stimulus_view(.., idx)``."""
    i, j = np.triu_indices(len(idx), 1)
    keep = idx[i] != idx[j]
    return i[keep], j[keep], len(idx)


def _weighted_ranks(
    groups: np.ndarray, w: np.ndarray, flat: np.ndarray | None = None
) -> np.ndarray:
    """Average ranks of rows whose entries (dense tie groups ``groups``) repeat ``w`` times
    (``flat``: ``groups`` offset by row, if already at hand)."""
    k, p = groups.shape
    if flat is None:
        flat = (groups + np.arange(k)[:, None] * p).ravel()
    g = np.bincount(flat, weights=np.tile(w, k), minlength=k * p)
    value = np.cumsum(g.reshape(k, p), axis=1)
    value += (1 - g.reshape(k, p)) / 2
    return value.ravel()[flat].reshape(k, p)


def _weighted_unit(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    x = (x - (x @ w / w.sum())[:, None]) * np.sqrt(w)
    return x / (np.linalg.norm(x, axis=1, keepdims=True) + 1e-300)


class StimulusResampler:
    """Model-vs-data scores (m, s) on stimulus resamples of fixed model and data RDMs.

    Spearman and Pearson never expand the resample: a pair of stimuli drawn n_i and n_j times
    enters with weight n_i * n_j (ranks with ties from weighted counts), which equals the scores on
    the expanded vectors. Other comparators use ``stimulus_view``.
    """

    def __init__(self, model_rdms: np.ndarray, data_rdms: np.ndarray, comparator: str):
        check_comparator(comparator)
        self.models, self.data, self.comparator = model_rdms, data_rdms, comparator
        self.n = model_rdms.shape[-1]
        self.iu, self.ju = np.triu_indices(self.n, 1)
        self.fast = comparator in ("spearman", "pearson", "corr")
        if self.fast:
            vecs = np.vstack([upper_tri(model_rdms), upper_tri(data_rdms)]).astype(float)
            self.vecs = vecs
            if comparator == "spearman":
                self.groups = dense_ranks(vecs)
                self.flat = (self.groups + np.arange(len(vecs))[:, None] * vecs.shape[1]).ravel()

    def __call__(self, idx: np.ndarray) -> np.ndarray:
        if not self.fast:
            mv, dv = stimulus_view(self.models, idx), stimulus_view(self.data, idx)
            return compare(mv, dv, self.comparator, resample_layout(idx))
        x, _, _ = self.units(idx)
        m = len(self.models)
        return x[:m] @ x[m:].T

    def on_pairs(self, within: np.ndarray) -> np.ndarray:
        """Scores (m, s) on the upper-triangle pairs marked in ``within`` (bool, e.g. the pairs
        within each half of a stimulus split)."""
        if self.fast:
            x, _, _ = self.weighted_units(within.astype(float))
            m = len(self.models)
            return x[:m] @ x[m:].T
        rows, cols = self.iu[within], self.ju[within]
        return compare(
            self.models[:, rows, cols], self.data[:, rows, cols], self.comparator,
            (rows, cols, self.n),
        )  # fmt: skip

    def units(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(weighted unit vectors, weighted ranks or values, pair weights) on the pairs a resample
        keeps, models first then data (fast comparators only)."""
        counts = np.bincount(idx, minlength=self.n).astype(float)
        return self.weighted_units(counts[self.iu] * counts[self.ju])

    def weighted_units(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``units`` for any pair weights ``w`` (upper-triangle order; 0 drops a pair)."""
        keep = np.flatnonzero(w)
        if self.comparator == "spearman":  # dropped pairs (weight 0) do not shift the ranks
            x = _weighted_ranks(self.groups, w, self.flat)[:, keep]
        else:
            x = self.vecs[:, keep]
        w = w[keep]
        return _weighted_unit(x, w), x, w


def bootstrap_indices(
    n_subjects: int, n_stimuli: int, n_boot: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Subject (n_boot, n_subjects) and stimulus (n_boot, n_stimuli) resamples, with replacement."""
    rng = np.random.default_rng(seed)
    subj = rng.integers(0, n_subjects, size=(n_boot, n_subjects))
    stim = rng.integers(0, n_stimuli, size=(n_boot, n_stimuli))
    return subj, stim


def half_splits(n_stimuli: int, n_boot: int, seed: int) -> np.ndarray:
    """Random halves (n_boot, n_stimuli) of the stimuli: True for the first n_stimuli // 2 (a
    stream of its own, so the bootstrap indices of a seed do not change)."""
    rng = np.random.default_rng([seed, 1])
    first = np.broadcast_to(np.arange(n_stimuli) < n_stimuli // 2, (n_boot, n_stimuli))
    return rng.permuted(first, axis=1)


def _fast_ceiling(
    units: np.ndarray,
    values: np.ndarray,
    w: np.ndarray,
    c: np.ndarray,
    comparator: str,
    squared: bool,
    pooling: str,
) -> tuple[float, float]:
    """Noise ceiling (lower, upper) of subjects drawn ``c`` times each (weights of the pairs ``w``),
    from their weighted unit vectors and their weighted ranks / values; equals
    ``noise_ceiling(expanded vectors, groups=...)``."""
    d = np.flatnonzero(c > 0)
    total = c.sum()
    if len(d) < 2:
        return np.nan, np.nan
    if comparator == "spearman":
        # values: weighted ranks (rank pooling) or raw dissimilarities (mean pooling); only the
        # order of a pooled vector matters, so each is ranked before dividing by its weight
        pooled_all = c @ values
        pooled = np.vstack([pooled_all, pooled_all - c[d, None] * values[d]])
        if pooling == "mean":  # as noise_ceiling divides (the same float ties)
            pooled /= np.concatenate([[total], total - c[d]])[:, None]
        elif 2 * pooled.max(initial=0) < 2**24:
            pooled = (2 * pooled).astype(np.float32)  # half-integer ranks: exact, sorts faster
        pu = _weighted_unit(_weighted_ranks(dense_ranks(pooled), w), w)
        r_up = units[d] @ pu[0]
        r_lo = np.einsum("ip,ip->i", units[d], pu[1:])
    else:  # pearson: pooled vectors are linear in the subjects' unit vectors
        a = c.astype(float)
        if pooling == "mean":
            a = a * np.linalg.norm((values - (values @ w / w.sum())[:, None]) * np.sqrt(w), axis=1)
        g = units @ units.T
        ga = g @ a
        r_up = ga[d] / np.sqrt(a @ ga)
        num = ga[d] - a[d] * g[d, d]
        den2 = a @ ga - 2 * a[d] * ga[d] + a[d] ** 2 * g[d, d]
        r_lo = num / np.sqrt(np.maximum(den2, 1e-300))
    if squared:
        r_up, r_lo = r_up**2, r_lo**2
    return float(r_lo.mean()), float(r_up.mean())


@dataclass
class DualBootstrap:
    """Bootstrap samples of per-subject scores, evaluations and noise ceilings per scheme.

    ``per_subject`` (4, n_boot, m, n_subjects) in the order of ``ROWS`` (the schemes, then the
    half splits), subjects as resampled; ``noise_ceiling`` (4, n_boot, 2) holds (lower, upper) and
    is NaN where it was not computed; ``full`` (m, n_subjects) the per-subject scores on all
    stimuli. Saved samples of three rows (no ``pairs``) still load.
    """

    per_subject: np.ndarray
    noise_ceiling: np.ndarray
    subj_idx: np.ndarray
    stim_idx: np.ndarray
    full: np.ndarray

    @property
    def evaluations(self) -> np.ndarray:
        """Mean over the resampled subjects: (4, n_boot, m)."""
        return self.per_subject.mean(axis=-1)

    def scheme(self, name: str) -> np.ndarray:
        """Evaluations (n_boot, m) of one scheme."""
        if name not in SCHEMES:
            raise ValueError(f"scheme={name!r} is unknown; choose one of {SCHEMES}")
        return self.evaluations[SCHEMES.index(name)]

    def best_cv(self) -> np.ndarray:
        """Leave-one-subject-out best-model score of every sample and row (4, n_boot): the
        layer choice is redone per sample with every copy of the held-out subject left out."""
        rows = len(self.per_subject)
        if self.full.shape[1] < 2:
            return np.full((rows, len(self.subj_idx)), np.nan)
        on_stim = self.per_subject[2]  # (n_boot, m, subjects): stimulus resample, all subjects
        ident = np.broadcast_to(np.arange(self.full.shape[1]), self.subj_idx.shape)
        out = [
            loso_on_resamples(on_stim, self.subj_idx),
            loso_on_resamples(self.full, self.subj_idx),
            loso_on_resamples(on_stim, ident),
        ]
        if rows > 3:
            out.append(loso_on_resamples(self.per_subject[3], ident))
        return np.stack(out)

    def variance(self) -> np.ndarray:
        """Dual-bootstrap variance of each model's evaluation (rsatoolbox's small-sample formula,
        the stimulus part without its pair over-count: ``analyses.intervals``)."""
        n_r, n_p = self.subj_idx.shape[1], self.stim_idx.shape[1]
        return scheme_variance(self.evaluations, "both", n_r, n_p)[0]

    def save(self, path: str | Path) -> None:
        np.savez_compressed(path, **{k: getattr(self, k) for k in self.__dataclass_fields__})

    @classmethod
    def load(cls, path: str | Path) -> DualBootstrap:
        with np.load(path) as f:
            return cls(**{k: f[k] for k in f.files})


def dual_bootstrap(
    model_rdms: np.ndarray,
    data_rdms: np.ndarray,
    comparator: str = "spearman",
    n_boot: int = 1000,
    seed: int = 0,
    *,
    squared: bool = False,
    pooling: str = "rsatoolbox",
    ceiling: bool = True,
    schemes: tuple[str, ...] = SCHEMES,
    pairs: bool = True,
    ceilings: np.ndarray | None = None,
) -> DualBootstrap:
    """Bootstrap model RDMs (m, n, n) against subject RDMs (s, n, n) in all three schemes, and
    score them on ``n_boot`` half splits of the stimuli (the ``pairs`` row, whenever stimuli are
    resampled).

    ``squared`` squares per-subject correlations (Algonauts R^2); ``ceiling=False`` skips the
    per-sample noise ceilings. ``schemes`` limits the work (the others stay NaN), as does
    ``pairs=False`` (no half splits: stimulus variances stay uncorrected); the resample indices
    do not depend on either. ``ceilings``: the samples' noise ceilings computed before for these
    data RDMs and settings (the ``noise_ceiling`` of a run with no models: they do not depend on the
    models), used instead of recomputing them.
    """
    check_comparator(comparator)
    model_rdms, data_rdms = np.asarray(model_rdms, float), np.asarray(data_rdms, float)
    if model_rdms.ndim != 3 or data_rdms.ndim != 3 or model_rdms.shape[1:] != data_rdms.shape[1:]:
        raise ValueError(
            f"need model (m, n, n) and data (s, n, n) RDMs on the same stimuli, got "
            f"{model_rdms.shape} and {data_rdms.shape}"
        )
    unknown = set(schemes) - set(SCHEMES)
    if unknown:
        raise ValueError(f"schemes {sorted(unknown)} are unknown; choose from {SCHEMES}")
    n_subj, n_stim = data_rdms.shape[0], data_rdms.shape[1]
    subj, stim = bootstrap_indices(n_subj, n_stim, n_boot, seed)
    m = len(model_rdms)
    per = np.full((len(ROWS), n_boot, m, n_subj), np.nan)
    nc = np.full((len(ROWS), n_boot, 2), np.nan)
    if ceilings is not None:
        if np.shape(ceilings) != nc.shape:
            raise ValueError(
                f"precomputed noise ceilings have shape {np.shape(ceilings)}, need {nc.shape} "
                f"({len(ROWS)} rows, n_boot={n_boot}, lower/upper)"
            )
        nc[:] = ceilings
    mv_full, dv_full = upper_tri(model_rdms), upper_tri(data_rdms)
    full = compare(mv_full, dv_full, comparator)
    if squared:
        full = full**2
    want = [s in schemes for s in SCHEMES]
    want.append(pairs and (want[0] or want[2]))  # half splits: wherever stimuli are resampled
    halves = half_splits(n_stim, n_boot, seed)
    do_ceiling = ceiling and n_subj > 1 and ceilings is None
    scorer = StimulusResampler(model_rdms, data_rdms, comparator)
    ones = np.ones(n_subj)

    def counts(s: np.ndarray) -> np.ndarray:
        return np.bincount(s, minlength=n_subj).astype(float)

    if scorer.fast:
        fu, fx, fw = scorer.units(np.arange(n_stim))
        if pooling == "mean" and comparator == "spearman":
            fx = scorer.vecs
        fu, fx = fu[m:], fx[m:]

    def fast_nc(units, values, w, c):
        return _fast_ceiling(units, values, w, c, comparator, squared, pooling)

    def slow_nc(vecs, groups, pairs):
        r = noise_ceiling(
            vecs, comparator, squared=squared, pooling=pooling, groups=groups, pairs=pairs
        )
        return r.lower, r.upper

    for b in range(n_boot):
        s, k = subj[b], stim[b]
        if want[3]:
            within = halves[b][scorer.iu] == halves[b][scorer.ju]
            if scorer.fast:
                hu, hx, hw = scorer.weighted_units(within.astype(float))
                per[3, b] = hu[:m] @ hu[m:].T
            else:
                per[3, b] = scorer.on_pairs(within)
            if squared:
                per[3, b] **= 2
            if do_ceiling and scorer.fast:
                if pooling == "mean" and comparator == "spearman":
                    hx = scorer.vecs[:, within]
                nc[3, b] = fast_nc(hu[m:], hx[m:], hw, ones)
            elif do_ceiling:
                rows, cols = scorer.iu[within], scorer.ju[within]
                nc[3, b] = slow_nc(data_rdms[:, rows, cols], None, (rows, cols, n_stim))
        if want[0] or want[2]:
            if scorer.fast:
                u, x, w = scorer.units(k)
                on_stim = u[:m] @ u[m:].T
            else:
                on_stim = scorer(k)
            if squared:
                on_stim = on_stim**2
            if want[0]:
                per[0, b] = on_stim[:, s]
            if want[2]:
                per[2, b] = on_stim
        if want[1]:
            per[1, b] = full[:, s]
        if not do_ceiling:
            continue
        if scorer.fast:
            if want[0] or want[2]:
                u, x = u[m:], x[m:]
                if pooling == "mean" and comparator == "spearman":
                    x = scorer.vecs[m:, _kept_pairs(scorer, k)]
                if want[0]:
                    nc[0, b] = fast_nc(u, x, w, counts(s))
                if want[2]:
                    nc[2, b] = fast_nc(u, x, w, ones)
            if want[1]:
                nc[1, b] = fast_nc(fu, fx, fw, counts(s))
        else:
            if want[0] or want[2]:
                dv, layout = stimulus_view(data_rdms, k), resample_layout(k)
                if want[0]:
                    nc[0, b] = slow_nc(dv[s], s, layout)
                if want[2]:
                    nc[2, b] = slow_nc(dv, None, layout)
            if want[1]:
                nc[1, b] = slow_nc(dv_full[s], s, None)
    return DualBootstrap(per, nc, subj, stim, full)


def _kept_pairs(scorer: StimulusResampler, idx: np.ndarray) -> np.ndarray:
    """Mask of the upper-triangle pairs a resample keeps (both stimuli drawn, different)."""
    counts = np.bincount(idx, minlength=scorer.n)
    return (counts[scorer.iu] * counts[scorer.ju]) > 0
