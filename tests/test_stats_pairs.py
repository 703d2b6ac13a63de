"""The stimulus bootstrap's pair over-count and its correction from half splits (analyses.intervals)."""

from __future__ import annotations

import numpy as np
import pytest

from analyses.bootstrap import dual_bootstrap, half_splits
from analyses.intervals import ROWS, pair_overcount, scheme_variance, split_factor
from analyses.rdm import correlation_rdm, upper_tri
from analyses.rsa import compare, noise_ceiling


def test_pair_overcount_is_the_variance_of_multinomial_pair_weights():
    n, draws = 12, 40_000
    counts = np.random.default_rng(0).multinomial(n, np.full(n, 1 / n), size=draws)
    w = counts[:, 0] * counts[:, 1]  # the weight of one pair of two different stimuli
    k = n / (n - 1) * (w.var() / w.mean() ** 2)
    assert k == pytest.approx(pair_overcount(n), rel=0.03)


@pytest.mark.parametrize("n", [9, 12, 40])
def test_split_factor_counts_the_pairs_within_halves(n):
    half = half_splits(n, 3, 0)
    assert (half.sum(axis=1) == n // 2).all() and not (half[0] == half[1]).all()
    iu, ju = np.triu_indices(n, 1)
    within = (half[0][iu] == half[0][ju]).sum()
    assert split_factor(n) == pytest.approx(len(iu) / within - 1)


@pytest.mark.parametrize("comparator", ["spearman", "pearson", "corr_cov", "tau-a"])
def test_pairs_row_scores_and_ceilings_are_those_of_the_pairs_within_each_half(comparator):
    rng = np.random.default_rng(1)
    n = 12
    truth = rng.normal(size=(n, 20))
    models = np.stack([correlation_rdm(truth + rng.normal(size=(n, 20))) for _ in range(2)])
    data = np.stack([correlation_rdm(truth + rng.normal(size=(n, 20))) for _ in range(4)])
    data[0] = np.round(data[0], 1)  # ties
    db = dual_bootstrap(models, data, comparator, n_boot=4, seed=3)
    assert db.per_subject.shape[0] == len(ROWS) == 4
    iu, ju = np.triu_indices(n, 1)
    for b, half in enumerate(half_splits(n, 4, 3)):
        keep = half[iu] == half[ju]
        layout = (iu[keep], ju[keep], n)
        mv, dv = upper_tri(models)[:, keep], upper_tri(data)[:, keep]
        assert np.allclose(db.per_subject[3, b], compare(mv, dv, comparator, layout), atol=1e-12)
        nc = noise_ceiling(dv, comparator, pairs=layout)
        assert np.allclose(db.noise_ceiling[3, b], [nc.lower, nc.upper], atol=1e-12)


def test_stimulus_variance_counts_the_pair_part_once():
    """New stimuli per recording: the stimulus bootstrap's variance is about twice the variance
    of the score over recordings (the check can fail); corrected by the half splits it is not."""
    rng = np.random.default_rng(2)
    n, n_subj, sims = 24, 4, 300
    scores, raw, corrected = [], [], []
    for sim in range(sims):
        u = rng.normal(size=(n, 20))
        model = correlation_rdm(u + rng.normal(size=(n, 20)))[None]
        data = np.stack([correlation_rdm(u + rng.normal(size=(n, 20))) for _ in range(n_subj)])
        db = dual_bootstrap(model, data, n_boot=60, seed=sim, ceiling=False, schemes=("stimuli",))
        scores.append(db.full.mean())
        samples = db.evaluations[:, :, 0]
        raw.append(scheme_variance(samples[:3], "stimuli", n_subj, n)[0])
        corrected.append(scheme_variance(samples, "stimuli", n_subj, n)[0])
    truth = np.var(scores, ddof=1)
    assert np.mean(raw) / truth > 1.9  # measured 2.5-2.6
    assert 0.8 < np.mean(corrected) / truth < 1.4  # measured 1.17-1.22 (clipping at V2 only)
