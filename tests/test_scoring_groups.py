"""Scoring many networks at once gives, network by network, what scoring each alone does (to rounding)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

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
