"""Dual bootstrap of RSA evaluations: over subjects, over stimuli and over both (Schütt et al. 2023).

Every bootstrap sample draws subjects and stimuli once; the three schemes reuse those draws, as
``rsatoolbox.inference.eval_dual_bootstrap`` does (without cross-validation, k_rdm = k_pattern = 1).
Stimulus resamples keep every pair of two different stimuli (duplicates of a pair repeat, pairs of
one stimulus with its own copy are dropped); for ``corr_cov``, which needs complete RDMs, the
distinct stimuli of the resample are used instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.stats import rankdata

from analyses.inference import resampled_pairs
from analyses.rdm import upper_tri
from analyses.rsa import check_comparator, compare, noise_ceiling

SCHEMES = ("both", "subjects", "stimuli")


def stimulus_view(rdms: np.ndarray, idx: np.ndarray, comparator: str) -> np.ndarray:
    """RDM vectors (k, p') of (k, n, n) RDMs on the stimulus resample ``idx``."""
    if comparator == "corr_cov":
        u = np.unique(idx)
        return upper_tri(rdms[:, u][:, :, u])
    rows, cols = resampled_pairs(idx)
    return rdms[:, rows, cols]


def _weighted_ranks(groups: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Average ranks of rows whose entries (dense tie groups ``groups``) repeat ``w`` times."""
    k, p = groups.shape
    flat = (groups + np.arange(k)[:, None] * p).ravel()
    g = np.bincount(flat, weights=np.broadcast_to(w, (k, p)).ravel(), minlength=k * p)
    g = g.reshape(k, p)
    value = np.cumsum(g, axis=1) - g + (g + 1) / 2
    return np.take_along_axis(value, groups, axis=1)


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
                self.groups = (rankdata(vecs, axis=1, method="dense") - 1).astype(np.int64)

    def __call__(self, idx: np.ndarray) -> np.ndarray:
        if not self.fast:
            mv = stimulus_view(self.models, idx, self.comparator)
            return compare(mv, stimulus_view(self.data, idx, self.comparator), self.comparator)
        counts = np.bincount(idx, minlength=self.n).astype(float)
        w = counts[self.iu] * counts[self.ju]
        x = _weighted_ranks(self.groups, w) if self.comparator == "spearman" else self.vecs
        x = _weighted_unit(x, w)
        m = len(self.models)
        return x[:m] @ x[m:].T


def bootstrap_indices(
    n_subjects: int, n_stimuli: int, n_boot: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Subject (n_boot, n_subjects) and stimulus (n_boot, n_stimuli) resamples, with replacement."""
    rng = np.random.default_rng(seed)
    subj = rng.integers(0, n_subjects, size=(n_boot, n_subjects))
    stim = rng.integers(0, n_stimuli, size=(n_boot, n_stimuli))
    return subj, stim


@dataclass
class DualBootstrap:
    """Bootstrap samples of per-subject scores, evaluations and noise ceilings per scheme.

    ``per_subject`` (3, n_boot, m, n_subjects) in the order of ``SCHEMES``; ``noise_ceiling``
    (3, n_boot, 2) holds (lower, upper) and is NaN where it was not computed.
    """

    per_subject: np.ndarray
    noise_ceiling: np.ndarray
    subj_idx: np.ndarray
    stim_idx: np.ndarray

    @property
    def evaluations(self) -> np.ndarray:
        """Mean over the resampled subjects: (3, n_boot, m)."""
        return self.per_subject.mean(axis=-1)

    def scheme(self, name: str) -> np.ndarray:
        """Evaluations (n_boot, m) of one scheme."""
        if name not in SCHEMES:
            raise ValueError(f"scheme={name!r} is unknown; choose one of {SCHEMES}")
        return self.evaluations[SCHEMES.index(name)]

    def variance(self) -> np.ndarray:
        """Dual-bootstrap variance of each model's evaluation (rsatoolbox's small-sample formula)."""
        v = np.nanvar(self.evaluations, axis=1, ddof=1)  # (3, m)
        n_r, n_p = self.subj_idx.shape[1], self.stim_idx.shape[1]
        if n_r < 2:
            return n_p / (n_p - 1) * v[2]
        fr, fp = n_r / (n_r - 1), n_p / (n_p - 1)
        out = fr * v[1] + fp * v[2] - fr * fp * (v[0] - v[1] - v[2])
        return np.minimum(np.maximum(np.maximum(out, fr * v[1]), fp * v[2]), v[0])

    def save(self, path: str | Path) -> None:
        np.savez_compressed(
            path,
            per_subject=self.per_subject,
            noise_ceiling=self.noise_ceiling,
            subj_idx=self.subj_idx,
            stim_idx=self.stim_idx,
        )

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
) -> DualBootstrap:
    """Bootstrap model RDMs (m, n, n) against subject RDMs (s, n, n) in all three schemes.

    ``squared`` squares per-subject correlations (Algonauts R^2); ``ceiling=False`` skips the
    per-sample noise ceilings (the expensive part).
    """
    check_comparator(comparator)
    model_rdms, data_rdms = np.asarray(model_rdms, float), np.asarray(data_rdms, float)
    if model_rdms.ndim != 3 or data_rdms.ndim != 3 or model_rdms.shape[1:] != data_rdms.shape[1:]:
        raise ValueError(
            f"need model (m, n, n) and data (s, n, n) RDMs on the same stimuli, got "
            f"{model_rdms.shape} and {data_rdms.shape}"
        )
    n_subj, n_stim = data_rdms.shape[0], data_rdms.shape[1]
    subj, stim = bootstrap_indices(n_subj, n_stim, n_boot, seed)
    m = len(model_rdms)
    per = np.empty((3, n_boot, m, n_subj))
    nc = np.full((3, n_boot, 2), np.nan)
    mv_full, dv_full = upper_tri(model_rdms), upper_tri(data_rdms)
    full = compare(mv_full, dv_full, comparator)
    if squared:
        full = full**2

    def ceil(vecs: np.ndarray, groups: np.ndarray | None) -> tuple[float, float]:
        c = noise_ceiling(vecs, comparator, squared=squared, pooling=pooling, groups=groups)
        return c.lower, c.upper

    scorer = StimulusResampler(model_rdms, data_rdms, comparator)
    for b in range(n_boot):
        s, k = subj[b], stim[b]
        on_stim = scorer(k)
        if squared:
            on_stim = on_stim**2
        per[0, b], per[1, b], per[2, b] = on_stim[:, s], full[:, s], on_stim
        if ceiling and n_subj > 1:
            dv = stimulus_view(data_rdms, k, comparator)
            nc[0, b] = ceil(dv[s], s)
            nc[1, b] = ceil(dv_full[s], s)
            nc[2, b] = ceil(dv, None)
    return DualBootstrap(per, nc, subj, stim)
