"""Scoring many networks at once gives, network by network, what scoring each alone does (to rounding)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analyses.inference import first_best
from analyses.rdm import correlation_rdm
from analyses.scoring import score_groups, score_roi


@pytest.mark.parametrize("n_subjects", [1, 5])
@pytest.mark.parametrize("ci", ["both", "subjects"])
def test_score_groups_equals_score_roi_per_network(n_subjects, ci):
    rng = np.random.default_rng(3)
    n = 14
    truth = rng.normal(size=(n, 6))
    brain = np.stack([correlation_rdm(truth + rng.normal(size=(n, 6))) for _ in range(n_subjects)])
    models = np.stack(
        [correlation_rdm(q * truth + rng.normal(size=(n, 6))) for q in (0.1, 1.0, 2.0, 0.5, 3.0)]
    )
    layers = ["a", "b", "c", "d", "e"]
    groups = [np.array([0, 1]), np.array([2, 3, 4])]
    kw = dict(
        method="spearman",
        n_boot=30,
        n_splits=2,
        seed=1,
        ci=ci,
        n_perm=20,
        reweighted={"n_folds_subjects": 2, "n_folds_stimuli": 2, "n_repeats": 1}
        if n_subjects > 1
        else None,
    )
    res_many = [{}, {}]
    many = score_groups(models, brain, layers, groups, resamples=res_many, **kw)
    for g, (rows, subj), res in zip(groups, many, res_many, strict=True):
        one_res = {}
        rows1, subj1 = score_roi(models[g], brain, [layers[i] for i in g], resamples=one_res, **kw)
        pd.testing.assert_frame_equal(pd.DataFrame(rows), pd.DataFrame(rows1))
        pd.testing.assert_frame_equal(pd.DataFrame(subj), pd.DataFrame(subj1))
        # the comparator runs on a different stack of rows: equal up to rounding
        np.testing.assert_allclose(res["best"], one_res["best"], rtol=0, atol=1e-12)


def test_layer_choice_ties_go_to_the_first_layer_and_nan_never_wins():
    """Scores equal in theory but apart in their last bits (Spearman on a half of four distinct
    stimuli, computed for 3 or 5 layers at once) choose the same layer; ``np.argmax`` would not."""
    tied = np.array([0.3618677, -0.61867704, 0.3618677 + 5.6e-17])
    assert np.argmax(tied) == 2 and first_best(tied) == 0
    assert first_best(np.array([np.nan, 0.1, 0.2])) == 2
    assert first_best(np.array([np.nan, np.nan])) == 0
    by_subject = np.array([[0.1, 0.5], [0.1 + 1e-16, 0.4]])  # (layers, subjects)
    assert list(first_best(by_subject, axis=0)) == [0, 0]
