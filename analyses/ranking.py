"""Rank learning rules per (training set, architecture, recording, ROI, method).

A rule's score is its cross-validated best-layer score averaged over seeds. Intervals and pairwise
tests bootstrap subjects (paired: the same resamples for every rule); p-values are
Benjamini-Hochberg corrected across all pairwise tests. Single-RDM recordings get no pairwise test.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from scipy.stats import false_discovery_control

from analyses.inference import percentile_ci
from analyses.scoring import BEST

GROUP = ["trainset", "arch", "recording", "roi", "method"]


def _paired_p(diff_boot: np.ndarray) -> float:
    """Two-sided bootstrap p-value that a paired difference is zero."""
    n = len(diff_boot)
    p = 2 * min(np.mean(diff_boot <= 0), np.mean(diff_boot >= 0))
    return float(min(1.0, max(p, 1.0 / n)))


def rank_rules(
    scores: pd.DataFrame,
    subjects: pd.DataFrame,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(ranking, pairwise) tables from tidy ``scores`` and per-subject ``subjects`` tables."""
    best = scores[scores["layer"] == BEST]
    subj = subjects[subjects["layer"] == BEST]
    rankings, pairs = [], []
    for key, grp in best.groupby(GROUP, sort=True):
        g_subj = subj.set_index(GROUP).loc[[key]] if len(subj) else subj
        per_rule = (
            g_subj.groupby(["rule", "subject"])["score"].mean().unstack("subject")
            if len(g_subj)
            else pd.DataFrame()
        )
        n_subj = per_rule.shape[1] if len(per_rule) else 1
        rows = {}
        boots = {}
        rng_idx = np.random.default_rng(seed).integers(0, n_subj, size=(n_boot, n_subj))
        for rule, rg in grp.groupby("rule"):
            row = {
                **dict(zip(GROUP, key, strict=True)),
                "rule": rule,
                "score": rg["score"].mean(),
                "n_seeds": rg["seed"].nunique(),
                "noise_ceiling_low": rg["noise_ceiling_low"].mean(),
                "noise_ceiling_high": rg["noise_ceiling_high"].mean(),
                "score_nc": rg["score_nc"].mean(),
                "n_subjects": int(rg["n_subjects"].iloc[0]),
                "best_layer": rg["best_layer"].mode().iloc[0],
            }
            if n_subj >= 2 and rule in per_rule.index:
                v = per_rule.loc[rule].to_numpy()
                boots[rule] = v[rng_idx].mean(axis=1)
                row["ci_low"], row["ci_high"] = (float(c) for c in percentile_ci(boots[rule]))
            else:
                row["ci_low"], row["ci_high"] = rg["ci_low"].mean(), rg["ci_high"].mean()
            rows[rule] = row
        for a, b in itertools.combinations(sorted(boots), 2):
            pairs.append(
                {
                    **dict(zip(GROUP, key, strict=True)),
                    "rule_a": a,
                    "rule_b": b,
                    "diff": rows[a]["score"] - rows[b]["score"],
                    "p": _paired_p(boots[a] - boots[b]),
                }
            )
        table = pd.DataFrame(rows.values())
        table["rank"] = table["score"].rank(ascending=False, method="min").astype(int)
        rankings.append(table)
    ranking = pd.concat(rankings, ignore_index=True) if rankings else pd.DataFrame()
    pairwise = pd.DataFrame(pairs, columns=GROUP + ["rule_a", "rule_b", "diff", "p"])
    pairwise["p_fdr"] = false_discovery_control(pairwise["p"].to_numpy()) if len(pairwise) else []
    pairwise["significant"] = pairwise["p_fdr"] < alpha
    if len(ranking):
        ranking["tied_with"] = [_ties(r, pairwise) for r in ranking.to_dict("records")]
        ranking = ranking.sort_values(GROUP + ["rank"]).reset_index(drop=True)
    return ranking, pairwise


def _ties(row: dict, pairwise: pd.DataFrame) -> str:
    """Rules whose difference from ``row``'s rule is not significant (';'-joined)."""
    if not len(pairwise):
        return ""
    m = np.ones(len(pairwise), bool)
    for k in GROUP:
        m &= (pairwise[k] == row[k]).to_numpy()
    g = pairwise[m & ~pairwise["significant"].to_numpy()]
    other = pd.concat(
        [g.loc[g["rule_a"] == row["rule"], "rule_b"], g.loc[g["rule_b"] == row["rule"], "rule_a"]]
    )
    return ";".join(sorted(other))
