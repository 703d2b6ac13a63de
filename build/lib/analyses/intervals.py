"""Bootstrap variances, t-intervals and t-tests: the one interval method of the project.

A bootstrap over subjects (or stimuli) underestimates the sampling variance of a mean by the factor
(n - 1) / n, and the percentile interval of a few subjects ignores that the variance itself is
estimated. Every interval and test here therefore uses the bootstrap only for a variance:

- ``subjects``: n_s / (n_s - 1) times the bootstrap variance, t with n_s - 1 degrees of freedom;
- ``stimuli``: the stimulus-bootstrap variance with its pair over-count removed (below), t with
  n_p - 1 degrees of freedom (fewer for a corrected variance: below);
- ``both`` (dual bootstrap, Schütt et al. 2023): the subject, stimulus and joint bootstrap
  variances combined by rsatoolbox's small-sample formula (``_dual_bootstrap`` in
  ``rsatoolbox.util.inference_util``), which removes the double counting of the joint
  bootstrap, with the stimulus part corrected as for ``stimuli``; t with the Welch-Satterthwaite
  degrees of freedom of its subject and stimulus parts (and of the Monte Carlo error: below).

**The pair over-count.** An RDM score is a statistic of stimulus *pairs*. Its sampling variance
over stimulus sets has a stimulus part V1 (a stimulus's effect on all its pairs) and a pair part
V2 (what is specific to a pair: most of the measurement noise, and most of the geometry of
unstructured stimuli); V2 is far from negligible at 40-92 stimuli. A stimulus bootstrap weights a
pair by n_i n_j (how often each of its stimuli was drawn), so it counts V2 about three times:
E[n / (n - 1) * var] = V1 + k V2 with k = n / (n - 1) * (E[(n_i n_j)^2] / E[n_i n_j]^2 - 1)
(multinomial moments; 2.95 at 40 stimuli). Any resampling of stimuli counts V2 at least twice
(every pair belongs to two stimuli), so V2 is estimated separately: the ``pairs`` row of the
samples holds the statistic on random halves of the stimuli (only the pairs within a half,
subjects fixed), whose variance over splits is V2 (P / P_half - 1) with no V1 part (every stimulus
keeps the same number of partners). The stimulus variance is then n / (n - 1) var - (k - 1) V2,
kept within [n / (n - 1) var / k, n / (n - 1) var] (all V2 .. all V1). A subtraction amplifies
the Monte Carlo error of the bootstrap variances, so a corrected variance's df also counts that
error (Satterthwaite, n_boot - 1 per variance). Without a ``pairs`` row (single-RDM split-half
best_cv, resamples saved before it existed) the stimulus variance is the bootstrap's,
conservative, with the df above.

The interval is estimate +- t(1 - alpha/2, df) * sqrt(variance); the test of a paired difference
is the same t statistic (rsatoolbox's ``t_tests``). Coverage and false-positive rates are measured
by ``benchmarks/calibration.py``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import stdtr, stdtrit  # Student's t CDF and quantile (not scipy.stats: start-up)

SCHEMES = ("both", "subjects", "stimuli")
ROWS = (*SCHEMES, "pairs")  # rows of a samples array: the three schemes, then the pair splits


def _var(samples: np.ndarray) -> np.ndarray:
    finite = np.isfinite(samples)
    n = finite.sum(axis=0)
    x = np.where(finite, samples, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = x.sum(axis=0) / n
        v = (np.where(finite, samples - mean, 0.0) ** 2).sum(axis=0) / (n - 1)
    return np.where(n >= 2, v, np.nan)


def pair_overcount(n_stimuli: int) -> float:
    """k: the stimulus bootstrap's n / (n - 1) times variance counts the pair part k times."""
    n = n_stimuli
    f = [np.prod(np.arange(n, n - j, -1, dtype=float)) / float(n) ** j for j in (2, 3, 4)]
    return n / (n - 1) * ((f[2] + 2 * f[1] + f[0]) / f[0] ** 2 - 1)


def split_factor(n_stimuli: int) -> float:
    """P / P_half - 1: the variance over half-splits of a mean over within-half pairs, in units
    of the pair part V2 of the mean over all P pairs."""
    h = n_stimuli // 2
    within = h * (h - 1) / 2 + (n_stimuli - h) * (n_stimuli - h - 1) / 2
    return n_stimuli * (n_stimuli - 1) / 2 / within - 1


def _stimulus_parts(
    v_stim: np.ndarray, v_pairs: np.ndarray | None, n_stimuli: int, n_boot: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(stimulus variance, its pair over-count k where corrected (1 elsewhere), sum of squares of
    its Monte Carlo terms)."""
    c = n_stimuli / (n_stimuli - 1) * np.asarray(v_stim, float)
    if v_pairs is None or n_stimuli < 4 or n_boot < 2:
        return c, np.ones(np.shape(c)), np.zeros(np.shape(c))
    k = pair_overcount(n_stimuli)
    part = (k - 1) * np.asarray(v_pairs, float) / split_factor(n_stimuli)
    out = np.clip(c - part, c / k, c)
    clipped = (part <= 0) | (c - part <= c / k)  # the estimate is a multiple of one variance
    ok = np.isfinite(part)
    mc = np.where(clipped, out**2, c**2 + part**2)
    return np.where(ok, out, c), np.where(ok, k, 1.0), np.where(ok, mc, 0.0)


def _with_mc(df: np.ndarray, var: np.ndarray, mc: np.ndarray, n_boot: int) -> np.ndarray:
    """df combined with the Satterthwaite df of the Monte Carlo error of ``var``, a sum of
    bootstrap variances whose squares (times their coefficients) sum to ``mc``:
    1 / df' = 1 / df + mc / ((n_boot - 1) var^2); unchanged where ``mc`` is 0."""
    with np.errstate(invalid="ignore", divide="ignore"):
        inv_mc = np.where(mc > 0, mc / ((n_boot - 1) * var**2), 0.0)
        out = 1 / (1 / df + np.nan_to_num(inv_mc, nan=0.0, posinf=1.0))
    return np.clip(out, 1, df)


def stimulus_variance(
    v_stim: np.ndarray, v_pairs: np.ndarray | None, n_stimuli: int, n_boot: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(variance, df) of stimulus sampling from the raw variances of the stimulus bootstrap and
    of ``n_boot`` half splits (``v_pairs`` None or NaN: the bootstrap's, df n - 1), as in the
    module docstring."""
    c, _, mc = _stimulus_parts(v_stim, v_pairs, n_stimuli, n_boot)
    return c, _with_mc(np.full(np.shape(c), n_stimuli - 1.0), c, mc, n_boot)


def dual_variance(
    v_both: np.ndarray,
    v_subj: np.ndarray,
    v_stim: np.ndarray,
    n_subjects: int,
    n_stimuli: int,
    v_pairs: np.ndarray | None = None,
    n_boot: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """(variance, df) from the raw variances of the joint, subject and stimulus bootstraps (and of
    ``n_boot`` half splits: the stimulus part without its pair over-count).

    The joint-minus-single term estimates the subject x stimulus interaction as the bootstrap
    counts it, its pair-specific part k times; with the pair correction the stimulus part
    counts that part once, so the term is divided by k. This is exact when the interaction is
    pair-specific (subjects weighting features differently, as in the calibration's dual null)
    and conservative by up to (1 - 1/k) of a stimulus-level interaction otherwise."""
    fr, fp = n_subjects / (n_subjects - 1), n_stimuli / (n_stimuli - 1)
    a = fr * v_subj
    c, k, mc_c = _stimulus_parts(v_stim, v_pairs, n_stimuli, n_boot)
    inter = fr * fp * (v_both - v_subj - v_stim) / k
    out = a + c - inter
    out = np.minimum(np.maximum(np.maximum(out, a), c), v_both)
    with np.errstate(invalid="ignore", divide="ignore"):
        df = (a + c) ** 2 / (a**2 / (n_subjects - 1) + c**2 / (n_stimuli - 1))
    df = np.clip(np.nan_to_num(df, nan=min(n_subjects, n_stimuli) - 1), 1, None)
    g = fr * fp / k  # the Monte Carlo terms of the corrected sum (their correlations ignored)
    mc = np.where(k > 1, a**2 + mc_c + g**2 * (v_both**2 + v_subj**2 + v_stim**2), 0.0)
    return out, _with_mc(df, out, mc, n_boot)


def scheme_variance(
    samples: np.ndarray, scheme: str, n_subjects: int, n_stimuli: int
) -> tuple[np.ndarray, np.ndarray]:
    """(variance, df) of an estimate from its bootstrap ``samples`` (3 or 4, n_boot, ...), the
    rows in the order of ``ROWS`` (rows a scheme does not use may be NaN; without the ``pairs``
    row the stimulus variance is not corrected for the pair over-count)."""
    if scheme not in SCHEMES:
        raise ValueError(f"scheme={scheme!r} is unknown; choose one of {SCHEMES}")
    samples = np.asarray(samples, float)
    if scheme == "subjects":
        if n_subjects < 2:
            raise ValueError("a subject bootstrap needs at least 2 subjects")
        v = _var(samples[1]) * n_subjects / (n_subjects - 1)
        return v, np.full(np.shape(v), n_subjects - 1.0)
    v_pairs, n_pairs = None, 0
    if len(samples) > 3:
        v_pairs, n_pairs = _var(samples[3]), int(np.isfinite(samples[3]).sum(axis=0).min())
    if scheme == "stimuli":
        return stimulus_variance(_var(samples[2]), v_pairs, n_stimuli, n_pairs)
    if n_subjects < 2:
        return scheme_variance(samples, "stimuli", n_subjects, n_stimuli)
    return dual_variance(
        _var(samples[0]), _var(samples[1]), _var(samples[2]), n_subjects, n_stimuli, v_pairs,
        n_pairs,
    )  # fmt: skip


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
