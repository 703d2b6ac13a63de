"""RSA numbers equal rsatoolbox's; published noise ceilings reproduce; inference is honest."""

from __future__ import annotations

import numpy as np
import pytest
import rsatoolbox
from rsatoolbox.inference import boot_noise_ceiling

from analyses.inference import bootstrap_subjects, loso_best_layer
from analyses.rdm import correlation_rdm, upper_tri
from analyses.rsa import compare, noise_ceiling
from analyses.scoring import score_roi
from brain_data.errors import DataError
from brain_data.recordings import load_recording


def _random_rdm_vectors(n_rdms, n_stim=12, seed=0):
    rng = np.random.default_rng(seed)
    return np.stack(
        [upper_tri(correlation_rdm(rng.normal(size=(n_stim, 30)))) for _ in range(n_rdms)]
    )


def test_correlation_rdm_equals_rsatoolbox():
    x = np.random.default_rng(1).normal(size=(20, 50))
    ref = rsatoolbox.rdm.calc_rdm(rsatoolbox.data.Dataset(x), method="correlation").get_matrices()[
        0
    ]
    assert np.allclose(correlation_rdm(x), ref)


@pytest.mark.parametrize("ours, theirs", [("spearman", "spearman"), ("pearson", "corr")])
def test_comparators_equal_rsatoolbox(ours, theirs):
    a, b = _random_rdm_vectors(3, seed=1), _random_rdm_vectors(4, seed=2)
    ref = rsatoolbox.rdm.compare(rsatoolbox.rdm.RDMs(a), rsatoolbox.rdm.RDMs(b), method=theirs)
    assert np.allclose(compare(a, b, ours), ref)


@pytest.mark.parametrize("ours, theirs", [("spearman", "spearman"), ("pearson", "corr")])
def test_noise_ceiling_equals_rsatoolbox(ours, theirs):
    data = _random_rdm_vectors(6, seed=3) + 0.5 * _random_rdm_vectors(1, seed=4)
    lo, hi = boot_noise_ceiling(rsatoolbox.rdm.RDMs(data), method=theirs)
    nc = noise_ceiling(data, ours)
    assert (nc.lower, nc.upper) == pytest.approx((lo, hi))


@pytest.mark.needs_data
def test_algonauts_noise_ceilings_match_the_published_values():
    try:
        rec = load_recording("algonauts2019-92")
    except DataError as err:
        pytest.skip(str(err))
    for roi, published in {"EVC": 0.159, "IT": 0.308}.items():
        nc = noise_ceiling(upper_tri(rec.rdms[roi]), "spearman", squared=True, pooling="mean")
        assert round(nc.upper, 3) == published


def test_loso_equals_a_plain_loop_and_never_sees_the_held_out_subject():
    scores = np.random.default_rng(5).normal(size=(4, 7))
    held, chosen = loso_best_layer(scores)
    for s in range(7):
        others = np.delete(scores, s, axis=1).mean(axis=1)
        assert chosen[s] == np.argmax(others) and held[s] == scores[np.argmax(others), s]
    spiked = scores.copy()
    spiked[2, 0] = 100.0  # only subject 0 loves layer 2: it must not pick layer 2 for itself
    assert loso_best_layer(spiked)[1][0] == loso_best_layer(scores)[1][0]


def test_bootstrap_is_seeded():
    x = np.random.default_rng(0).normal(size=(3, 10))
    assert np.array_equal(bootstrap_subjects(x, 50, 1), bootstrap_subjects(x, 50, 1))
    assert not np.array_equal(bootstrap_subjects(x, 50, 1), bootstrap_subjects(x, 50, 2))


def test_score_roi_finds_the_planted_layer():
    rng = np.random.default_rng(0)
    n = 20
    truth = correlation_rdm(rng.normal(size=(n, 40)))
    subjects = np.stack([truth + 0.2 * correlation_rdm(rng.normal(size=(n, 40))) for _ in range(8)])
    layers = np.stack(
        [
            correlation_rdm(rng.normal(size=(n, 40))),
            truth,
            correlation_rdm(rng.normal(size=(n, 40))),
        ]
    )
    rows, subj = score_roi(layers, subjects, ["a", "planted", "c"], method="spearman", n_boot=200)
    by = {r["layer"]: r for r in rows}
    assert by["best_cv"]["best_layer"] == "planted"
    assert by["planted"]["ci_low"] > by["a"]["ci_high"]
    assert by["planted"]["noise_ceiling_low"] <= by["planted"]["noise_ceiling_high"]
    assert len([s for s in subj if s["layer"] == "best_cv"]) == 8


def test_single_rdm_recording_uses_stimulus_bootstrap_and_has_no_ceiling():
    rng = np.random.default_rng(1)
    truth = correlation_rdm(rng.normal(size=(15, 30)))
    layers = np.stack([truth, correlation_rdm(rng.normal(size=(15, 30)))])
    rows, _ = score_roi(
        layers, truth[None], ["good", "bad"], method="spearman", n_boot=100, n_splits=3
    )
    by = {r["layer"]: r for r in rows}
    assert by["good"]["ci_method"] == "bootstrap_stimuli" and np.isnan(
        by["good"]["noise_ceiling_high"]
    )
    assert by["good"]["ci_low"] > by["bad"]["ci_high"] and by["best_cv"]["best_layer"] == "good"
