"""Calibration on simulated recordings (a small version of ``benchmarks/calibration.py``): a planted
rule wins significantly; under nulls the intervals cover and the tests keep their level, with
thresholds that subject-only resampling and percentile intervals fail."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analyses.ranking import RUN_KEYS, rank_rules
from analyses.rdm import correlation_rdm
from analyses.scoring import BEST, score_roi
from benchmarks.calibration import run_cell, summarise

ALPHA = 0.05


def _rdms(rng, k, n, signal=None, noise=1.0):
    base = 0 if signal is None else signal
    return np.stack([correlation_rdm(base + noise * rng.normal(size=(n, 20))) for _ in range(k)])


def _score_rules(models: dict, brain, sim: int, n_perm=0, n_boot=100):
    rows, subj, res = [], [], {}
    keys = {"trainset": "t", "arch": "a", "recording": f"sim{sim}", "roi": "r", "seed": 0}
    for rule, layers in models.items():
        d = {}
        r, s = score_roi(
            layers,
            brain,
            [f"l{i}" for i in range(len(layers))],
            method="spearman",
            n_boot=n_boot,
            n_perm=n_perm,
            seed=sim,
            ci="both",
            resamples=d,
            ceiling=False,
        )
        rows += [{**keys, "rule": rule, **x} for x in r]
        subj += [{**keys, "rule": rule, **x} for x in s]
        run = {**keys, "rule": rule, "method": "spearman"}
        cols = tuple(k for k in RUN_KEYS if k in run)
        res[tuple(run[k] for k in cols)] = {**d, "key_columns": cols}
    return rows, subj, res


def _table(null: str, n_subjects: int) -> pd.DataFrame:
    recs = run_cell(null, n_subjects, 24, 30, 50, 0)
    return pd.DataFrame(summarise(recs, null, n_subjects, 24)).set_index("scheme")


def test_planted_rule_ranks_first_and_differs_significantly():
    rng = np.random.default_rng(0)
    n = 16
    truth = rng.normal(size=(n, 20))
    brain = _rdms(rng, 10, n, truth, noise=1.0)
    models = {
        "planted": np.stack(
            [_rdms(rng, 1, n)[0], correlation_rdm(truth + 0.3 * rng.normal(size=(n, 20)))]
        ),
        **{f"other{i}": _rdms(rng, 2, n) for i in range(4)},
    }
    rows, subj, res = _score_rules(models, brain, 0, n_perm=200, n_boot=200)
    ranking, pairwise = rank_rules(pd.DataFrame(rows), pd.DataFrame(subj), resamples=res)
    top = ranking.sort_values("rank").iloc[0]
    assert top["rule"] == "planted" and top["best_layer"] == "l1"
    assert top["ci_method"] == "bootstrap_dual"
    assert top["tied_with"] == "" and top["rank_ci_high"] == 1
    vs = pairwise[(pairwise["rule_a"] == "planted") | (pairwise["rule_b"] == "planted")]
    assert len(vs) == 4 and vs["significant"].all()
    assert top["p_perm_max"] < 0.01


def test_stimulus_null_dual_bootstrap_keeps_the_level_where_subjects_alone_do_not():
    """Rules equally good over stimulus sets: the subject bootstrap alone (the former ranking)
    rejects far too often; the dual bootstrap holds alpha and its intervals cover."""
    t = _table("stimulus", 6)
    assert t.loc["both", "false_positive_rate"] <= 2 / 30
    assert t.loc["both", "coverage_layer"] >= 0.9 and t.loc["both", "coverage_best_cv"] >= 0.9
    assert t.loc["subjects", "false_positive_rate"] >= 0.15  # the check can fail


def test_intervals_cover_at_four_subjects():
    """Dual null at 4 subjects (Kriegeskorte hIT): t-intervals on the corrected variance cover;
    subject-bootstrap percentile intervals (the former method) do not."""
    t = _table("dual", 4)
    assert t.loc["both", "coverage_layer"] >= 0.9 and t.loc["both", "coverage_best_cv"] >= 0.9
    assert t.loc["both", "false_positive_rate"] <= 2 / 30
    assert t.loc["percentile_subjects", "coverage_layer"] < 0.9  # the check can fail


@pytest.mark.parametrize(("n_subj", "n"), [(6, 12), (1, 16)])
def test_permutation_test_keeps_its_level_on_null_recordings(n_subj, n):
    """Many subjects: LOSO best layer, model labels permuted. One RDM: split-half best layer, the
    brain's labels permuted (the models' side of each half computed once for every permutation)."""
    rng = np.random.default_rng(1)
    n_sims = 150
    rows = []
    for sim in range(n_sims):
        brain = _rdms(rng, n_subj, n)  # subjects share no structure with any model
        rows += _score_rules({"a": _rdms(rng, 2, n)}, brain, sim, n_perm=99, n_boot=10)[0]
    best = pd.DataFrame(rows)
    best = best[best["layer"] == BEST]
    fpr = float((best["p_perm"] <= ALPHA).mean())
    assert 0 < fpr <= 0.08, f"permutation false-positive rate {fpr:.3f}"
