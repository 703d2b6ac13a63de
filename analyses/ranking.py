"""Rank learning rules per (training set, architecture, recording, ROI, method).

A rule's score is its cross-validated best-layer score averaged over seeds. Intervals, rank
intervals and pairwise tests bootstrap subjects, paired: every rule is scored on the same resamples.
A pairwise difference is tested with a t statistic whose variance is the bootstrap variance of the
paired difference (small-sample corrected by n/(n-1), n-1 degrees of freedom, as rsatoolbox's
``t_tests``); p-values are Benjamini-Hochberg corrected across all pairwise tests of the table.
Single-RDM recordings get no pairwise test and no rank interval. Rank stability across seeds is
Kendall's W of the per-seed rankings (NaN with one seed).
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from scipy.stats import false_discovery_control, rankdata, spearmanr
from scipy.stats import t as t_dist

from analyses.inference import loso_on_resamples, percentile_ci
from analyses.scoring import BEST, REWEIGHTED

GROUP = ["trainset", "arch", "recording", "roi", "method"]


def paired_t_p(diff_boot: np.ndarray, diff: float, n: int) -> float:
    """Two-sided p of a paired difference from its bootstrap samples over ``n`` subjects."""
    var = np.nanvar(diff_boot, ddof=1) * n / (n - 1)
    if not var > 0:
        return 1.0 if diff == 0 else 0.0
    return float(2 * t_dist.sf(abs(diff) / np.sqrt(var), n - 1))


def kendalls_w(ranks: np.ndarray) -> float:
    """Kendall's coefficient of concordance of a (rules, raters) rank matrix; NaN below 2 raters."""
    n, m = ranks.shape
    if m < 2 or n < 2:
        return np.nan
    s = ((ranks.sum(axis=1) - m * (n + 1) / 2) ** 2).sum()
    return float(12 * s / (m**2 * (n**3 - n)))


def seed_stability(per_seed: pd.DataFrame) -> tuple[float, float]:
    """(Kendall's W, mean pairwise Spearman r) between the rankings of a (rules, seeds) table."""
    full = per_seed.dropna()
    if full.shape[1] < 2 or full.shape[0] < 2:
        return np.nan, np.nan
    ranks = rankdata(-full.to_numpy(), axis=0)
    rhos = [
        spearmanr(ranks[:, a], ranks[:, b]).statistic
        for a, b in itertools.combinations(range(ranks.shape[1]), 2)
    ]
    return kendalls_w(ranks), float(np.nanmean(rhos))


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
    subj = subjects[~subjects["layer"].isin([BEST, REWEIGHTED])]
    subj_groups = dict(list(subj.groupby(GROUP, sort=True))) if len(subj) else {}
    rankings, pairs = [], []
    for key, grp in best.groupby(GROUP, sort=True):
        g_subj = subj_groups.get(key)
        per_rule = (
            g_subj.groupby(["rule", "layer", "subject"], sort=False)["score"]
            .mean()
            .unstack("subject")
            if g_subj is not None
            else pd.DataFrame()
        )
        n_subj = per_rule.shape[1] if len(per_rule) else 1
        rules_with_subjects = (
            set(per_rule.index.get_level_values("rule")) if len(per_rule) else set()
        )
        rows, boots = {}, {}
        rng_idx = np.random.default_rng(seed).integers(0, n_subj, size=(n_boot, n_subj))
        stab_w, stab_rho = seed_stability(grp.pivot_table("score", "rule", "seed"))
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
                "p_perm_max": rg["p_perm"].max() if "p_perm" in rg else np.nan,
                "rank_stability_w": stab_w,
                "rank_stability_rho": stab_rho,
            }
            if n_subj >= 2 and rule in rules_with_subjects and per_rule.loc[rule].notna().all(None):
                # (layers, subjects), seeds averaged; LOSO layer choice redone per resample
                boots[rule] = loso_on_resamples(per_rule.loc[rule].to_numpy(), rng_idx)
                row["ci_low"], row["ci_high"] = (float(c) for c in percentile_ci(boots[rule]))
            else:
                row["ci_low"], row["ci_high"] = rg["ci_low"].mean(), rg["ci_high"].mean()
            rows[rule] = row
        for a, b in itertools.combinations(sorted(boots), 2):
            diff = rows[a]["score"] - rows[b]["score"]
            pairs.append(
                {
                    **dict(zip(GROUP, key, strict=True)),
                    "rule_a": a,
                    "rule_b": b,
                    "diff": diff,
                    "p": paired_t_p(boots[a] - boots[b], diff, n_subj),
                }
            )
        table = pd.DataFrame(rows.values())
        table["rank"] = table["score"].rank(ascending=False, method="min").astype(int)
        table["rank_ci_low"] = table["rank_ci_high"] = np.nan
        if len(boots) >= 2:
            names = sorted(boots)
            boot_ranks = rankdata(-np.stack([boots[r] for r in names]), axis=0, method="min")
            lo, hi = percentile_ci(boot_ranks)
            pos = table.set_index("rule").index.get_indexer(names)
            table.loc[pos, "rank_ci_low"], table.loc[pos, "rank_ci_high"] = lo, hi
        rankings.append(table)
    ranking = pd.concat(rankings, ignore_index=True) if rankings else pd.DataFrame()
    pairwise = pd.DataFrame(pairs, columns=GROUP + ["rule_a", "rule_b", "diff", "p"])
    pairwise["p_fdr"] = false_discovery_control(pairwise["p"].to_numpy()) if len(pairwise) else []
    pairwise["significant"] = pairwise["p_fdr"] < alpha
    if len(ranking):
        ranking["tied_with"] = [_ties(r, pairwise) for r in ranking.to_dict("records")]
        ranking = _add_p_columns(ranking, pairwise)
        ranking = ranking.sort_values(GROUP + ["rank"]).reset_index(drop=True)
    return ranking, pairwise


def _add_p_columns(ranking: pd.DataFrame, pairwise: pd.DataFrame) -> pd.DataFrame:
    """One ``p_fdr_vs_<rule>`` column per rule: the corrected p against that rule (NaN: untested)."""
    both = pd.concat(
        [
            pairwise.rename(columns={"rule_a": "rule", "rule_b": "other"}),
            pairwise.rename(columns={"rule_b": "rule", "rule_a": "other"}),
        ]
    )
    wide = both.pivot_table("p_fdr", GROUP + ["rule"], "other") if len(both) else pd.DataFrame()
    for other in sorted(ranking["rule"].unique()):
        col = f"p_fdr_vs_{other}"
        if other in wide.columns:
            idx = pd.MultiIndex.from_frame(ranking[GROUP + ["rule"]])
            ranking[col] = wide[other].reindex(idx).to_numpy()
        else:
            ranking[col] = np.nan
    return ranking


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
