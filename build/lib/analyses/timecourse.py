"""Time-resolved RSA for M/EEG: per time point and layer scores, noise ceilings, bootstrap CIs,
peak latencies.

Vectorised: all (layer, subject, time) comparisons are one ``analyses.rsa.compare`` call; subject
bootstrap resamples the per-subject score matrix; single-RDM recordings bootstrap stimuli.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analyses.ranks import rankdata
from analyses.rdm import upper_tri
from analyses.rsa import compare, noise_ceiling


@dataclass(frozen=True)
class TimecourseResult:
    """Scores (layers, times) with CIs, ceilings per time, peak latency per layer with CI."""

    layers: list[str]
    times: np.ndarray
    method: str
    score: np.ndarray  # (layers, times) mean over subjects
    ci_low: np.ndarray
    ci_high: np.ndarray
    nc_low: np.ndarray  # (times,)
    nc_high: np.ndarray
    peak_time: np.ndarray  # (layers,)
    peak_ci: np.ndarray  # (layers, 2)
    n_subjects: int
    bootstrap: str  # "subjects" | "stimuli"
    cluster_p: np.ndarray | None = None  # (layers, times): p of the cluster holding each point

    def to_frame(self) -> pd.DataFrame:
        """One row per (layer, time)."""
        n_l, n_t = self.score.shape
        return pd.DataFrame(
            {
                "layer": np.repeat(self.layers, n_t),
                "time": np.tile(self.times, n_l),
                "method": self.method,
                "score": self.score.ravel(),
                "ci_low": self.ci_low.ravel(),
                "ci_high": self.ci_high.ravel(),
                "noise_ceiling_low": np.tile(self.nc_low, n_l),
                "noise_ceiling_high": np.tile(self.nc_high, n_l),
                "n_subjects": self.n_subjects,
                "bootstrap": self.bootstrap,
                "cluster_p": (
                    np.full(n_l * n_t, np.nan) if self.cluster_p is None else self.cluster_p.ravel()
                ),
            }
        )

    def peaks_frame(self) -> pd.DataFrame:
        """One row per layer: peak latency (s), its CI and the score at the peak."""
        return pd.DataFrame(
            {
                "layer": self.layers,
                "method": self.method,
                "peak_time": self.peak_time,
                "peak_ci_low": self.peak_ci[:, 0],
                "peak_ci_high": self.peak_ci[:, 1],
                "peak_score": self.score.max(axis=1),
            }
        )


def rsa_timecourse(models: np.ndarray, data: np.ndarray, method: str = "spearman") -> np.ndarray:
    """Model vectors (L, p) vs data vectors (S, T, p) -> per-subject scores (L, S, T)."""
    if data.ndim != 3 or models.ndim != 2 or models.shape[1] != data.shape[2]:
        raise ValueError(f"need models (L, p) and data (S, T, p); got {models.shape}, {data.shape}")
    s, t, p = data.shape
    return compare(models, data.reshape(s * t, p), method).reshape(len(models), s, t)


def _rowwise_pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson r between matching rows (last axis) of two equally shaped arrays."""
    a = a - a.mean(axis=-1, keepdims=True)
    b = b - b.mean(axis=-1, keepdims=True)
    num = (a * b).sum(axis=-1)
    return num / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1) + 1e-300)


def noise_ceiling_timecourse(data: np.ndarray, method: str = "spearman") -> np.ndarray:
    """Lower and upper noise ceiling per time point, (2, T); NaN with a single subject.

    Same definition as ``analyses.rsa.noise_ceiling`` (rsatoolbox pooling: rank-mean for
    Spearman, z-score mean for Pearson), vectorised over subjects and time points for those two;
    other comparators fall back to a loop over time points.
    """
    n_subj, n_times, _ = data.shape
    out = np.full((2, n_times), np.nan)
    if n_subj < 2:
        return out
    if method == "spearman":
        x = rankdata(data, axis=-1)
    elif method == "pearson":
        x = data - data.mean(axis=-1, keepdims=True)
        x = x / x.std(axis=-1, keepdims=True)
    else:
        for t in range(n_times):
            nc = noise_ceiling(data[:, t], method)
            out[:, t] = nc.lower, nc.upper
        return out
    total = x.sum(axis=0)  # (T, p)
    upper_pool = np.broadcast_to(total / n_subj, x.shape)
    lower_pool = (total[None] - x) / (n_subj - 1)  # leave subject s out
    if method == "spearman":  # the comparator re-ranks both vectors
        upper_pool, lower_pool = rankdata(upper_pool, axis=-1), rankdata(lower_pool, axis=-1)
    out[0] = _rowwise_pearson(x, lower_pool).mean(axis=0)
    out[1] = _rowwise_pearson(x, upper_pool).mean(axis=0)
    return out


def _peaks(curves: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Time of the maximum along the last axis."""
    return times[np.argmax(curves, axis=-1)]


def _stimulus_boot(model_rdms, brain_rdms, method, n_boot, rng) -> np.ndarray:
    """(n_boot, L, T) mean scores on stimulus resamples (pairs of a stimulus with itself dropped)."""
    n = model_rdms.shape[-1]
    i, j = np.triu_indices(n, 1)
    out = []
    for _ in range(n_boot):
        idx = rng.integers(0, n, n)
        a, b = idx[i], idx[j]
        keep = a != b
        a, b = a[keep], b[keep]
        m = model_rdms[:, a, b]  # (L, p')
        d = brain_rdms[:, :, a, b]  # (S, T, p')
        out.append(rsa_timecourse(m, d, method).mean(axis=1))
    return np.stack(out)


def cluster_p_values(
    per_subject: np.ndarray, n_permutations: int = 1000, seed: int = 0
) -> np.ndarray | None:
    """Cluster-based sign-permutation test vs 0 over time (one-sided, MNE), per layer.

    per_subject (L, S, T) -> (L, T): the p-value of the supra-threshold cluster each time point
    belongs to (1 outside clusters); None with fewer than 3 subjects.
    """
    if per_subject.shape[1] < 3:
        return None
    from mne.stats import permutation_cluster_1samp_test

    out = np.ones((per_subject.shape[0], per_subject.shape[2]))
    for layer, x in enumerate(per_subject):
        _, clusters, p, _ = permutation_cluster_1samp_test(
            x, n_permutations=n_permutations, tail=1, rng=seed, out_type="indices", verbose="error"
        )
        for cluster, pv in zip(clusters, p, strict=True):
            idx = np.asarray(cluster[0] if isinstance(cluster, tuple) else cluster)
            out[layer, idx] = np.minimum(out[layer, idx], pv)
    return out


def timecourse_rsa(
    model_rdms: np.ndarray,
    brain_rdms: np.ndarray,
    times: np.ndarray,
    layers: list[str],
    method: str = "spearman",
    n_boot: int = 1000,
    n_boot_stimuli: int = 100,
    seed: int = 0,
    ci: float = 0.95,
    clusters: bool = True,
) -> TimecourseResult:
    """RSA of each layer's RDM with the brain RDM at every time point.

    model_rdms (L, n, n); brain_rdms (S, T, n, n) over the same stimuli; times (T,) in seconds.
    CIs: percentile bootstrap over subjects (S >= 2; ``n_boot``) or over stimuli (S == 1;
    ``n_boot_stimuli``, each resample recomputes every comparison). The peak latency of a layer
    is the time of its maximum mean score; its CI is the bootstrap distribution of that time.
    With ``clusters`` and >= 3 subjects, time clusters where a layer's score exceeds 0 are tested
    by cluster-based permutation (``cluster_p``).
    """
    model_rdms, brain_rdms = np.asarray(model_rdms, float), np.asarray(brain_rdms, float)
    if brain_rdms.ndim != 4 or brain_rdms.shape[-1] != model_rdms.shape[-1]:
        raise ValueError(
            f"brain RDMs must be (subjects, times, n, n) over the model's {model_rdms.shape[-1]} "
            f"stimuli, got {brain_rdms.shape}"
        )
    if brain_rdms.shape[1] != len(times) or len(layers) != len(model_rdms):
        raise ValueError(f"{len(times)} times / {len(layers)} layers do not match the RDMs")
    models, data = upper_tri(model_rdms), upper_tri(brain_rdms)
    per_subject = rsa_timecourse(models, data, method)  # (L, S, T)
    score = per_subject.mean(axis=1)
    rng = np.random.default_rng(seed)
    n_subj = brain_rdms.shape[0]
    if n_subj >= 2:
        idx = rng.integers(0, n_subj, (n_boot, n_subj))
        boot = per_subject[:, idx].mean(axis=2).transpose(1, 0, 2)  # (B, L, T)
        kind = "subjects"
    else:
        boot = _stimulus_boot(model_rdms, brain_rdms, method, n_boot_stimuli, rng)
        kind = "stimuli"
    q = [(1 - ci) / 2 * 100, (1 + ci) / 2 * 100]
    lo, hi = np.percentile(boot, q, axis=0)
    peak_ci = np.percentile(_peaks(boot, np.asarray(times)), q, axis=0).T  # (L, 2)
    nc = noise_ceiling_timecourse(data, method)
    return TimecourseResult(
        list(layers),
        np.asarray(times, float),
        method,
        score,
        lo,
        hi,
        nc[0],
        nc[1],
        _peaks(score, np.asarray(times)),
        peak_ci,
        n_subj,
        kind,
        cluster_p_values(per_subject, seed=seed) if clusters else None,
    )
