"""A recording's bootstrap noise ceilings, computed once, give every model exactly the numbers it
would get computing them itself; a ceilings file made from other RDMs or settings is refused."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analyses.rdm import correlation_rdm
from analyses.scoring import ceiling_samples, score_groups
from pipelines._io import write_npz
from pipelines.ceilings import load_ceilings, recording_ceilings


def _recording(n_subjects: int, seed: int = 4):
    rng = np.random.default_rng(seed)
    truth = rng.normal(size=(12, 5))
    brain = np.stack([correlation_rdm(truth + rng.normal(size=(12, 5))) for _ in range(n_subjects)])
    models = np.stack([correlation_rdm(q * truth + rng.normal(size=(12, 5))) for q in (0.2, 1, 3)])
    return models, brain


@pytest.mark.parametrize("method", ["spearman", "r2_spearman", "kendall"])
@pytest.mark.parametrize(
    ("n_subjects", "ci"), [(5, "both"), (4, "subjects"), (5, "stimuli"), (1, "both")]
)
def test_precomputed_ceilings_give_identical_scores(method, n_subjects, ci):
    models, brain = _recording(n_subjects)
    kw = dict(method=method, n_boot=12, n_splits=2, seed=5, ci=ci, n_perm=5)
    groups = [np.array([0, 1]), np.array([2])]
    ceilings = ceiling_samples(brain, method=method, n_boot=12, seed=5, ci=ci)
    assert np.isnan(ceilings).all() == (n_subjects == 1)
    res_own, res_shared = [{}, {}], [{}, {}]
    own = score_groups(models, brain, ["a", "b", "c"], groups, resamples=res_own, **kw)
    shared = score_groups(
        models, brain, ["a", "b", "c"], groups, resamples=res_shared, ceilings=ceilings, **kw
    )
    for (rows, subj), (rows2, subj2) in zip(own, shared, strict=True):
        pd.testing.assert_frame_equal(pd.DataFrame(rows), pd.DataFrame(rows2), check_exact=True)
        pd.testing.assert_frame_equal(pd.DataFrame(subj), pd.DataFrame(subj2), check_exact=True)
    for a, b in zip(res_own, res_shared, strict=True):
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])


def test_ceilings_of_another_seed_change_the_scores():
    """The shared ceilings are really used: those of other resamples move the ceiling columns."""
    models, brain = _recording(5)
    kw = dict(method="spearman", n_boot=12, n_splits=2, seed=5, ci="both")
    other = ceiling_samples(brain, method="spearman", n_boot=12, seed=6, ci="both")
    rows = pd.DataFrame(score_groups(models, brain, list("abc"), [np.arange(3)], **kw)[0][0])
    moved = pd.DataFrame(
        score_groups(models, brain, list("abc"), [np.arange(3)], ceilings=other, **kw)[0][0]
    )
    assert not np.allclose(rows["score_nc_low"], moved["score_nc_low"])
    pd.testing.assert_series_equal(rows["score"], moved["score"])
    with pytest.raises(ValueError, match="shape"):
        score_groups(models, brain, list("abc"), [np.arange(3)], ceilings=other[:, :5], **kw)


def test_a_ceilings_file_is_checked_against_the_recording_and_settings(tmp_path):
    _, brain = _recording(5)
    rec = {"rois": np.array(["IT"]), "rdm_IT": brain}
    p = {"methods": ["spearman"], "n_boot": 8, "boot_seed": 0, "ci": "both"}
    path = tmp_path / "rec.npz"
    write_npz(path, **recording_ceilings(rec, p))
    got = load_ceilings(str(path), rec, p)
    np.testing.assert_array_equal(
        got[("IT", "spearman")],
        ceiling_samples(brain, method="spearman", n_boot=8, seed=0, ci="both"),
    )
    with pytest.raises(ValueError, match=r"rec\.npz: made with RSA settings"):
        load_ceilings(str(path), rec, {**p, "n_boot": 9})
    with pytest.raises(ValueError, match="no ceilings for method 'pearson'"):
        load_ceilings(str(path), rec, {**p, "methods": ["pearson"]})
    with pytest.raises(ValueError, match="made from other RDMs"):
        load_ceilings(str(path), {**rec, "rdm_IT": brain[::-1]}, p)
    with pytest.raises(ValueError, match="no ceilings for ROI 'EVC'"):
        load_ceilings(str(path), {"rois": np.array(["EVC"]), "rdm_EVC": brain}, p)
