"""Comparators, ceilings, dual bootstrap and permutation test equal rsatoolbox / a plain loop."""

from __future__ import annotations

import numpy as np
import pytest
import rsatoolbox
from rsatoolbox.inference import boot_noise_ceiling

from analyses.bootstrap import (
    SCHEMES,
    DualBootstrap,
    StimulusResampler,
    dual_bootstrap,
    stimulus_view,
)
from analyses.inference import loso_best_layer
from analyses.permutation import p_value, permutations, permuted_scores
from analyses.rdm import correlation_rdm, upper_tri
from analyses.reweighted import reweighted_cv
from analyses.rsa import compare, noise_ceiling
from analyses.scoring import METHODS, loso_scores, score_roi

PAIRS = [
    ("spearman", "spearman"),
    ("pearson", "corr"),
    ("tau-a", "tau-a"),
    ("corr_cov", "corr_cov"),
]


def _rdms(k, n=12, seed=0, signal=None):
    rng = np.random.default_rng(seed)
    base = 0 if signal is None else signal
    return np.stack([correlation_rdm(base + rng.normal(size=(n, 30))) for _ in range(k)])


@pytest.mark.parametrize("ours, theirs", PAIRS)
def test_comparators_equal_rsatoolbox_with_ties(ours, theirs):
    a, b = upper_tri(_rdms(3, seed=1)), upper_tri(_rdms(4, seed=2))
    b[0] = np.round(b[0], 1)  # ties
    ref = rsatoolbox.rdm.compare(rsatoolbox.rdm.RDMs(a), rsatoolbox.rdm.RDMs(b), method=theirs)
    assert np.allclose(compare(a, b, ours), ref)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("ours, theirs", PAIRS)
def test_ceilings_with_duplicated_subjects_equal_rsatoolbox(ours, theirs):
    signal = np.random.default_rng(4).normal(size=(12, 30))
    data = upper_tri(_rdms(5, seed=3, signal=signal))
    groups = np.array([0, 0, 1, 2, 3, 3, 4])
    rdms = rsatoolbox.rdm.RDMs(data[groups], rdm_descriptors={"index": groups})
    lo, hi = boot_noise_ceiling(rdms, method=theirs, rdm_descriptor="index")
    nc = noise_ceiling(data[groups], ours, groups=groups)
    assert (nc.lower, nc.upper) == pytest.approx((lo, hi))


def test_unknown_names_are_rejected():
    v = upper_tri(_rdms(2))
    with pytest.raises(ValueError, match="comparator 'cosine' is unknown"):
        compare(v, v, "cosine")
    with pytest.raises(ValueError, match="method='nope' is unknown"):
        score_roi(_rdms(2), _rdms(3), ["a", "b"], method="nope")
    with pytest.raises(ValueError, match="ci='jackknife' is unknown"):
        score_roi(_rdms(2), _rdms(3), ["a", "b"], method="spearman", ci="jackknife")
    with pytest.raises(ValueError, match="not the upper triangle"):
        compare(v[:, :-1], v[:, :-1], "corr_cov")


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize(
    "ours, theirs", [("spearman", "spearman"), ("pearson", "corr"), ("corr_cov", "corr_cov")]
)
def test_dual_bootstrap_sample_equals_rsatoolbox_on_the_same_resample(ours, theirs):
    """Every scheme's evaluations and ceilings equal rsatoolbox's on the very same resample, with
    duplicated stimuli kept as duplicates (no np.unique that would hide a difference)."""
    signal = np.random.default_rng(9).normal(size=(12, 30))
    models, data = _rdms(3, seed=5, signal=signal), _rdms(6, seed=6, signal=signal)
    db = dual_bootstrap(models, data, ours, n_boot=4, seed=2)
    rsa_data = rsatoolbox.rdm.RDMs(upper_tri(data))
    rsa_models = rsatoolbox.rdm.RDMs(upper_tri(models))
    for b in range(4):
        s, k = db.subj_idx[b], db.stim_idx[b]
        assert len(np.unique(k)) < len(k)  # the resample has duplicates
        by_subj = rsa_data.subsample("index", s)
        refs = {
            "both": (
                by_subj.subsample_pattern("index", k),
                rsa_models.subsample_pattern("index", k),
            ),
            "subjects": (by_subj, rsa_models),
            "stimuli": (
                rsa_data.subsample_pattern("index", k),
                rsa_models.subsample_pattern("index", k),
            ),
        }
        for scheme, (ref_data, m) in refs.items():
            i = SCHEMES.index(scheme)
            ref = rsatoolbox.rdm.compare(m, ref_data, method=theirs).mean(axis=1)
            assert np.allclose(db.evaluations[i, b], ref, atol=1e-12), scheme
            nc = boot_noise_ceiling(ref_data, method=theirs, rdm_descriptor="index")
            assert np.allclose(db.noise_ceiling[i, b], nc, atol=1e-12), scheme


@pytest.mark.parametrize("comparator", ["spearman", "pearson"])
def test_weighted_resample_scores_equal_the_expanded_resample(comparator):
    models, data = _rdms(3, seed=1), _rdms(4, seed=2)
    data[0] = np.round(data[0], 1)  # ties
    scorer = StimulusResampler(models, data, comparator)
    for idx in np.random.default_rng(0).integers(0, 12, size=(5, 12)):
        expanded = compare(
            stimulus_view(models, idx, comparator), stimulus_view(data, idx, comparator), comparator
        )
        assert np.allclose(scorer(idx), expanded)


def test_dual_bootstrap_is_seeded_and_saves(tmp_path):
    models, data = _rdms(2, seed=1), _rdms(4, seed=2)
    a = dual_bootstrap(models, data, n_boot=5, seed=1)
    assert np.array_equal(a.per_subject, dual_bootstrap(models, data, n_boot=5, seed=1).per_subject)
    assert not np.array_equal(
        a.per_subject, dual_bootstrap(models, data, n_boot=5, seed=2).per_subject
    )
    a.save(tmp_path / "b.npz")
    assert np.array_equal(
        DualBootstrap.load(tmp_path / "b.npz").noise_ceiling, a.noise_ceiling, equal_nan=True
    )
    v = a.variance()
    assert v.shape == (2,) and np.all(v >= 0)


@pytest.mark.parametrize("comparator", ["spearman", "pearson", "corr_cov"])
def test_vectorised_permutations_equal_a_plain_loop(comparator):
    models, data = _rdms(3, seed=1), upper_tri(_rdms(4, seed=2))
    perms = permutations(12, 7, seed=0)
    fast = permuted_scores(models, data, comparator, perms, chunk=3)
    for p, got in zip(perms, fast, strict=True):
        loop = compare(upper_tri(models[:, p][:, :, p]), data, comparator)
        assert np.allclose(got, loop, atol=1e-6)  # float32 on the fast path
    assert p_value(np.array([0.1, 0.5, 0.9]), 0.5) == pytest.approx(3 / 4)


def test_loso_scores_equal_loso_best_layer():
    x = np.random.default_rng(3).normal(size=(5, 4, 7))
    assert np.allclose(loso_scores(x), [loso_best_layer(s)[0].mean() for s in x])


@pytest.mark.parametrize("method", sorted(METHODS))
@pytest.mark.parametrize("ci", ["subjects", "both"])
def test_every_method_finds_the_planted_layer(method, ci):
    rng = np.random.default_rng(0)
    truth = rng.normal(size=(14, 30))
    brain = _rdms(6, n=14, seed=1, signal=2 * truth)
    layers = np.stack(
        [_rdms(1, n=14, seed=2)[0], correlation_rdm(truth), _rdms(1, n=14, seed=3)[0]]
    )
    rows, _ = score_roi(
        layers, brain, ["a", "planted", "c"], method=method, n_boot=50, ci=ci, n_perm=50
    )
    by = {r["layer"]: r for r in rows}
    assert by["best_cv"]["best_layer"] == "planted"
    assert by["planted"]["ci_low"] > by["a"]["ci_high"]
    assert by["planted"]["p_perm"] < 0.05 and by["best_cv"]["p_perm"] < 0.05
    assert by["planted"]["noise_ceiling_low"] <= by["planted"]["noise_ceiling_high"]
    assert (
        by["planted"]["ci_method"]
        == {"subjects": "bootstrap_subjects", "both": "bootstrap_dual"}[ci]
    )


def test_reweighted_rsa_recovers_a_layer_mixture_on_held_out_data():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(16, 30)), rng.normal(size=(16, 30))
    la, lb = correlation_rdm(a), correlation_rdm(b)
    brain = np.stack(
        [0.5 * la + 0.5 * lb + 0.05 * correlation_rdm(rng.normal(size=(16, 30))) for _ in range(6)]
    )
    layers = np.stack([la, lb, correlation_rdm(rng.normal(size=(16, 30)))])
    rows, subj = score_roi(
        layers,
        brain,
        ["a", "b", "noise"],
        method="spearman",
        n_boot=50,
        reweighted={"n_folds_subjects": 3, "n_folds_stimuli": 2},
    )
    by = {r["layer"]: r for r in rows}
    assert by["reweighted_cv"]["score"] > max(by["a"]["score"], by["b"]["score"]) + 0.05
    assert len([s for s in subj if s["layer"] == "reweighted_cv"]) == 6
    single, _ = score_roi(
        layers,
        brain[:1],
        ["a", "b", "noise"],
        method="spearman",
        n_boot=20,
        n_splits=2,
        reweighted={"n_folds_stimuli": 2},
    )
    assert {r["layer"]: r for r in single}["reweighted_cv"]["score"] > 0.5


def test_single_rdm_best_cv_has_an_interval_and_a_permutation_p_of_the_split_half_score():
    rng = np.random.default_rng(0)
    truth = rng.normal(size=(16, 30))
    brain = _rdms(1, n=16, seed=1, signal=2 * truth)
    layers = np.stack([_rdms(1, n=16, seed=2)[0], correlation_rdm(truth)])
    rows, _ = score_roi(
        layers, brain, ["a", "planted"], method="spearman", n_boot=40, n_splits=2, n_perm=30
    )
    best = {r["layer"]: r for r in rows}["best_cv"]
    assert best["ci_method"] == "bootstrap_stimuli" and best["best_layer"] == "planted"
    assert best["ci_low"] < best["score"] < best["ci_high"]
    assert best["p_perm"] == pytest.approx(1 / 31)  # no permutation reaches the split-half score
    null, _ = score_roi(
        np.stack([_rdms(1, n=16, seed=3)[0], _rdms(1, n=16, seed=4)[0]]),
        brain,
        ["a", "b"],
        method="spearman",
        n_boot=10,
        n_splits=2,
        n_perm=30,
    )
    assert {r["layer"]: r for r in null}["best_cv"]["p_perm"] > 0.05


def test_score_nc_intervals_and_reweighted_score_against_its_test_stimuli_ceiling():
    rng = np.random.default_rng(0)
    truth = rng.normal(size=(16, 30))
    brain = _rdms(6, n=16, seed=1, signal=truth)
    layers = np.stack([_rdms(1, n=16, seed=2)[0], correlation_rdm(truth)])
    rows, _ = score_roi(
        layers,
        brain,
        ["a", "planted"],
        method="spearman",
        n_boot=60,
        ci="both",
        reweighted={"n_folds_subjects": 3, "n_folds_stimuli": 2},
    )
    by = {r["layer"]: r for r in rows}
    for name in ("planted", "best_cv", "reweighted_cv"):
        r = by[name]
        assert r["score_nc_low"] < r["score_nc"] < r["score_nc_high"], name
    assert by["best_cv"]["score_nc"] == pytest.approx(
        by["best_cv"]["score"] / by["best_cv"]["noise_ceiling_high"]
    )
    # the reweighted score is tested on held-out stimuli: normalised by their ceiling
    held, _, held_nc = reweighted_cv(
        layers, brain, "spearman", n_folds_subjects=3, n_folds_stimuli=2, seed=0
    )
    rw = by["reweighted_cv"]
    assert rw["score_nc"] == pytest.approx(held.mean() / held_nc.mean())
    assert held_nc.mean() != pytest.approx(rw["noise_ceiling_high"], abs=1e-4)
