"""Calibration on simulated recordings: a planted rule wins significantly; without planted structure
the permutation test and the pairwise tests keep their false-positive rate at alpha."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import binom

from analyses.ranking import rank_rules
from analyses.rdm import correlation_rdm
from analyses.scoring import BEST, score_roi

ALPHA = 0.05


def _rdms(rng, k, n, signal=None, noise=1.0):
    base = 0 if signal is None else signal
    return np.stack([correlation_rdm(base + noise * rng.normal(size=(n, 20))) for _ in range(k)])


def _score_rules(models: dict, brain, sim: int, n_perm=0, n_boot=100):
    rows, subj = [], []
    keys = {"trainset": "t", "arch": "a", "recording": f"sim{sim}", "roi": "r", "seed": 0}
    for rule, layers in models.items():
        r, s = score_roi(
            layers,
            brain,
            [f"l{i}" for i in range(len(layers))],
            method="spearman",
            n_boot=n_boot,
            n_perm=n_perm,
            seed=sim,
        )
        rows += [{**keys, "rule": rule, "roi": "r", **x} for x in r]
        subj += [{**keys, "rule": rule, **x} for x in s]
    return rows, subj


def _too_many(k: int, n: int) -> bool:
    """True if k false positives in n tests are significantly (p < 0.01) more than alpha allows."""
    return binom.sf(k - 1, n, ALPHA) < 0.01


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
    rows, subj = _score_rules(models, brain, 0, n_perm=200, n_boot=200)
    ranking, pairwise = rank_rules(pd.DataFrame(rows), pd.DataFrame(subj), n_boot=500)
    top = ranking.sort_values("rank").iloc[0]
    assert top["rule"] == "planted" and top["best_layer"] == "l1"
    assert top["tied_with"] == "" and top["rank_ci_high"] == 1
    vs = pairwise[(pairwise["rule_a"] == "planted") | (pairwise["rule_b"] == "planted")]
    assert len(vs) == 4 and vs["significant"].all()
    assert top["p_perm_max"] < 0.01


def test_null_false_positive_rates_stay_at_alpha():
    rng = np.random.default_rng(1)
    n_sims, n, n_subj = 200, 12, 8
    rows, subj = [], []
    for sim in range(n_sims):
        brain = _rdms(rng, n_subj, n)  # subjects share no structure with any model
        r, s = _score_rules({"a": _rdms(rng, 2, n), "b": _rdms(rng, 2, n)}, brain, sim, n_perm=99)
        rows += r
        subj += s
    scores = pd.DataFrame(rows)
    best = scores[scores["layer"] == BEST]
    perm_fp = int((best["p_perm"] <= ALPHA).sum())
    assert not _too_many(perm_fp, len(best)), f"{perm_fp}/{len(best)} permutation false positives"
    _, pairwise = rank_rules(scores, pd.DataFrame(subj), n_boot=200)
    assert len(pairwise) == n_sims
    pair_fp = int((pairwise["p"] <= ALPHA).sum())
    assert not _too_many(pair_fp, n_sims), f"{pair_fp}/{n_sims} pairwise false positives"
    assert (pairwise["p_fdr"] <= ALPHA).sum() <= pair_fp  # FDR never adds rejections
    # and the tests are not dead: some null p-values do fall below alpha by chance
    assert perm_fp + pair_fp > 0
