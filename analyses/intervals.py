"""Bootstrap variances, t-intervals and t-tests: the one interval method of the project.

A bootstrap over subjects (or stimuli) underestimates the sampling variance of a mean by the factor
(n - 1) / n, and the percentile interval of a few subjects ignores that the variance itself is
estimated. Every interval and test here therefore uses the bootstrap only for a variance:

- ``subjects``: n_s / (n_s - 1) times the bootstrap variance, t with n_s - 1 degrees of freedom;
- ``stimuli``: n_p / (n_p - 1) times the bootstrap variance, t with n_p - 1;
- ``both`` (dual bootstrap, Schütt et al. 2023): the subject, stimulus and joint bootstrap
  variances combined by rsatoolbox's small-sample formula (``_dual_bootstrap`` in
  ``rsatoolbox.util.inference_util``), which removes the double counting of the joint
  bootstrap; t with the Welch-Satterthwaite degrees of freedom of its subject and stimulus parts.

The interval is estimate +- t(1 - alpha/2, df) * sqrt(variance); the test of a paired difference
is the same t statistic (rsatoolbox's ``t_tests``). Coverage and false-positive rates are measured
by ``benchmarks/calibration.py``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import stdtr, stdtrit  # Student's t CDF and quantile (not scipy.stats: start-up)

SCHEMES = ("both", "subjects", "stimuli")


def _var(samples: np.ndarray) -> np.ndarray:
    ok = np.isfinite(samples).sum(axis=0) >= 2
    with np.errstate(invalid="ignore", divide="ignore"):
        v = np.nanvar(np.where(np.isfinite(samples), samples, np.nan), axis=0, ddof=1)
    return np.where(ok, v, np.nan)


def dual_variance(
    v_both: np.ndarray, v_subj: np.ndarray, v_stim: np.ndarray, n_subjects: int, n_stimuli: int
) -> tuple[np.ndarray, np.ndarray]:
    """(variance, df) from the raw variances of the joint, subject and stimulus bootstraps."""
    fr, fp = n_subjects / (n_subjects - 1), n_stimuli / (n_stimuli - 1)
    a, c = fr * v_subj, fp * v_stim
    out = a + c - fr * fp * (v_both - v_subj - v_stim)
    out = np.minimum(np.maximum(np.maximum(out, a), c), v_both)
    with np.errstate(invalid="ignore", divide="ignore"):
        df = (a + c) ** 2 / (a**2 / (n_subjects - 1) + c**2 / (n_stimuli - 1))
    df = np.clip(np.nan_to_num(df, nan=min(n_subjects, n_stimuli) - 1), 1, None)
    return out, df


def scheme_variance(
    samples: np.ndarray, scheme: str, n_subjects: int, n_stimuli: int
) -> tuple[np.ndarray, np.ndarray]:
    """(variance, df) of an estimate from its bootstrap ``samples`` (3, n_boot, ...), the
    schemes in the order of ``SCHEMES`` (rows a scheme does not use may be NaN)."""
    if scheme not in SCHEMES:
        raise ValueError(f"scheme={scheme!r} is unknown; choose one of {SCHEMES}")
    samples = np.asarray(samples, float)
    if scheme == "subjects":
        if n_subjects < 2:
            raise ValueError("a subject bootstrap needs at least 2 subjects")
        v = _var(samples[1]) * n_subjects / (n_subjects - 1)
        return v, np.full(np.shape(v), n_subjects - 1.0)
    if scheme == "stimuli":
        v = _var(samples[2]) * n_stimuli / (n_stimuli - 1)
        return v, np.full(np.shape(v), n_stimuli - 1.0)
    if n_subjects < 2:
        return scheme_variance(samples, "stimuli", n_subjects, n_stimuli)
    return dual_variance(
        _var(samples[0]), _var(samples[1]), _var(samples[2]), n_subjects, n_stimuli
    )


def add_variance(
    var: np.ndarray, df: np.ndarray, extra: np.ndarray, extra_df: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Sum of two independent variance components with Welch-Satterthwaite degrees of freedom
    (e.g. the subject x stimulus variance and the seed-to-seed variance of a mean over seeds)."""
    var, df, extra, extra_df = np.broadcast_arrays(
        *(np.asarray(x, float) for x in (var, df, extra, extra_df))
    )
    total = var + extra
    with np.errstate(invalid="ignore", divide="ignore"):
        new_df = total**2 / (var**2 / df + np.where(extra > 0, extra**2 / extra_df, 0.0))
    new_df = np.where(np.isfinite(new_df) & (new_df > 0), new_df, df)
    return total, new_df


def t_interval(
    estimate: np.ndarray, var: np.ndarray, df: np.ndarray, alpha: float = 0.05
) -> tuple[np.ndarray, np.ndarray]:
    """estimate -/+ t(1 - alpha/2, df) * sqrt(var)."""
    half = stdtrit(df, 1 - alpha / 2) * np.sqrt(var)
    return estimate - half, estimate + half


def t_p(estimate: np.ndarray, var: np.ndarray, df: np.ndarray) -> np.ndarray:
    """Two-sided p of ``estimate`` against 0 (variance 0: p = 1 for an estimate of 0, else 0)."""
    estimate, var, df = np.broadcast_arrays(*(np.asarray(x, float) for x in (estimate, var, df)))
    with np.errstate(invalid="ignore", divide="ignore"):
        p = 2 * stdtr(df, -np.abs(estimate) / np.sqrt(var))
    degenerate = ~(var > 0)
    p = np.where(degenerate, np.where(estimate == 0, 1.0, 0.0), p)
    return np.where(np.isnan(var) | np.isnan(estimate), np.nan, p)
