"""Rank learning rules (and control models) per (training set, architecture, recording, ROI, method)
and, when the tables have one, per ``match`` (training examples or accuracy matched).

A rule's score is its cross-validated best-layer score averaged over seeds. Its interval, its rank
interval and its tests against the other rules use the resampling the scores were computed with
(``ci``): the dual bootstrap over subjects and stimuli with rsatoolbox's small-sample variance
correction by default, the stimulus bootstrap for single-RDM recordings. Every rule of a recording
is scored on the same resamples (``analyses.scoring.score_roi(..., resamples=...)`` saves them),
so the tests are paired. Without saved resamples the subjects are resampled here from the
per-subject layer scores (the layer choice redone per sample, all copies of a held-out subject
left out) and the rows say ``bootstrap_subjects``.

Network instances are a random factor: with several seeds the seed-to-seed variance of a rule's
best-layer score (divided by the number of seeds) is added to the subject x stimulus variance of
its seed mean, with Welch-Satterthwaite degrees of freedom, in its interval, its rank interval and
its tests. With one seed that variance cannot be estimated, and ``seed_variance`` says the ranking
cannot separate a rule from its initialisation.

Intervals are t-intervals and tests t-tests on these variances (``analyses.intervals``). Rank
intervals: percentiles of the ranks over the bootstrap samples of the configured scheme, each rule's
deviations rescaled to its corrected variance (seed variance included). Benjamini-Hochberg runs
within one family: the pairwise tests of one (trainset, arch, recording, roi, method[, match]).
Rank stability across seeds is Kendall's W of the per-seed rankings (NaN with one seed).
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd

from analyses.inference import loso_on_resamples
from analyses.intervals import SCHEMES, add_variance, scheme_variance, t_interval, t_p
from analyses.ranks import rankdata
from analyses.scoring import BEST, REWEIGHTED

GROUP = ["trainset", "arch", "recording", "roi", "method"]
#: columns that identify one compare run's rows (those present in the tables are used)
RUN_KEYS = ["rule", "arch", "trainset", "seed", "match", "recording", "roi", "method"]
#: what the report should say about the statistics of rankings.csv / pairwise.csv
STATS_NOTE = (
    "Intervals: 95 % t-intervals on the bootstrap variance of the configured resampling "
    "(default: dual bootstrap over subjects and stimuli with rsatoolbox's small-sample variance "
    "correction, Schütt et al. 2023; single-RDM recordings: stimuli), the layer choice redone in "
    "every sample with all copies of a held-out subject left out; score_nc intervals use each "
    "sample's own noise ceiling. Rule-vs-rule tests: paired t-tests on the same resamples; with "
    "several seeds the seed-to-seed variance enters every interval and test (seeds are a random "
    "factor), with one seed the ranking cannot separate a rule from its initialisation. "
    "Benjamini-Hochberg correction within each family: the tests of one training set, "
    "architecture, recording, ROI, method (and matching: training examples or accuracy). Rank "
    "intervals: percentiles of the ranks over the same bootstrap samples, rescaled to the "
    "corrected variances. Coverage and false-positive rates: benchmarks/calibration.py."
)
ONE_SEED = "not estimable (1 seed): the ranking cannot separate the rule from its initialisation"


def group_columns(scores: pd.DataFrame) -> list[str]:
    """The FDR family / ranking key: ``GROUP`` plus ``match`` when the table has that column."""
    return GROUP + (["match"] if "match" in scores.columns else [])


def pair_tests(
    diff: np.ndarray,
    diff_samples: np.ndarray,
    scheme: str,
    n_subjects: int,
    n_stimuli: int,
    seed_parts: list[tuple[np.ndarray, np.ndarray]] = (),
    alpha: float = 0.05,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(ci_low, ci_high, df, p) of paired differences of two rules' scores (``diff``, any shape)
    from their bootstrap samples (3, n_boot, *diff.shape) and each rule's seed variance component
    (variance of its seed mean, df; arrays of diff's shape or scalars)."""
    v, d = scheme_variance(diff_samples, scheme, n_subjects, n_stimuli)
    for part in seed_parts:
        v, d = add_variance(v, d, *part)
    lo, hi = t_interval(diff, v, d, alpha)
    return lo, hi, d, t_p(diff, v, d)


def pair_test(
    diff: float,
    diff_samples: np.ndarray,
    scheme: str,
    n_subjects: int,
    n_stimuli: int,
    seed_parts: list[tuple[float, float]] = (),
    alpha: float = 0.05,
) -> tuple[float, float, float, float]:
    """``pair_tests`` of one difference: floats."""
    out = pair_tests(diff, diff_samples, scheme, n_subjects, n_stimuli, seed_parts, alpha)
    return tuple(float(x) for x in out)


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
    from scipy.stats import spearmanr  # aggregation only: not in every comparison's start-up

    ranks = rankdata(-full.to_numpy(), axis=0)
    rhos = [
        spearmanr(ranks[:, a], ranks[:, b]).statistic
        for a, b in itertools.combinations(range(ranks.shape[1]), 2)
    ]
    return kendalls_w(ranks), float(np.nanmean(rhos))


def resample_arrays(keys: dict, per_roi_method: dict[tuple[str, str], dict]) -> dict:
    """Arrays of one compare run (``keys``: its run keys) for an npz that ``load_resamples``
    reads: per (roi, method) what ``score_roi(..., resamples=d)`` filled."""
    return many_resample_arrays([(keys, per_roi_method)])


def many_resample_arrays(runs: list[tuple[dict, dict[tuple[str, str], dict]]]) -> dict:
    """Arrays of several runs (a model's networks and matched states) for one npz file."""
    arrays = {"runs": np.array(json.dumps([keys for keys, _ in runs]))}
    for i, (_, per_roi_method) in enumerate(runs):
        for (roi, method), d in per_roi_method.items():
            for name in ("best", "ceiling"):
                arrays[f"{i}/{roi}/{method}/{name}"] = np.asarray(d[name], np.float64)
            arrays[f"{i}/{roi}/{method}/meta"] = np.array(
                [d["n_subjects"], d["n_stimuli"], d["n_boot"], d["seed"]], np.int64
            )
    return arrays


def load_resamples(paths: list[str | Path]) -> dict[tuple, dict]:
    """{run key values (``RUN_KEYS`` present in the file, in that order): arrays} from npz files
    of ``resample_arrays`` / ``many_resample_arrays``."""
    out = {}
    for path in paths:
        try:
            f = np.load(path, allow_pickle=False)
            runs = json.loads(str(f["runs"]))
        except (OSError, ValueError, KeyError) as e:
            raise ValueError(
                f"{path}: not a resamples file written by pipelines.compare ({e})"
            ) from e
        with f:
            for name in f.files:
                if not name.endswith("/meta"):
                    continue
                i, roi, method = name.split("/")[:3]
                run = {**runs[int(i)], "roi": roi, "method": method}
                n_subj, n_stim, n_boot, seed = (int(x) for x in f[name])
                out[tuple(run.get(k) for k in RUN_KEYS if k in run)] = {
                    "best": f[f"{i}/{roi}/{method}/best"],
                    "ceiling": f[f"{i}/{roi}/{method}/ceiling"],
                    "n_subjects": n_subj,
                    "n_stimuli": n_stim,
                    "n_boot": n_boot,
                    "seed": seed,
                    "key_columns": tuple(k for k in RUN_KEYS if k in run),
                }
    return out


def _subject_samples(per_seed_tables: list[pd.DataFrame], idx: np.ndarray) -> np.ndarray:
    """Subject-bootstrap best_cv samples (3, n_boot) of a seed mean from per-seed (layers,
    subjects) tables (row 1 filled)."""
    out = np.full((3, len(idx)), np.nan)
    out[1] = np.mean([loso_on_resamples(t.to_numpy(), idx) for t in per_seed_tables], axis=0)
    return out


def _lookup(resamples: dict, rg: pd.DataFrame) -> list[dict] | None:
    found = []
    cols = next(iter(resamples.values()))["key_columns"] if resamples else ()
    present = [k for k in cols if k in rg]
    for row in rg[present].to_dict("records"):
        key = tuple(_norm(row.get(k)) for k in cols)
        hit = resamples.get(key)
        if hit is None:
            return None
        found.append(hit)
    return found


def _norm(v):
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def rank_rules(
    scores: pd.DataFrame,
    subjects: pd.DataFrame,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
    ci: str = "both",
    resamples: dict | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(ranking, pairwise) tables from tidy ``scores`` and per-subject ``subjects`` tables.

    ``resamples``: ``load_resamples``'s mapping (best_cv samples per run); rules of a family that
    all have them are ranked with ``ci`` (subjects | stimuli | both; single-RDM recordings:
    stimuli); otherwise subjects are resampled here (``n_boot`` samples from ``seed``).
    """
    if ci not in SCHEMES:
        raise ValueError(f"ci={ci!r} is unknown; choose one of {SCHEMES}")
    group = group_columns(scores)
    best = scores[scores["layer"] == BEST]
    subj = subjects[~subjects["layer"].isin([BEST, REWEIGHTED])]
    subj_keys = [k for k in group if k in subj.columns] + ["rule", "seed"]
    subj_groups = dict(list(subj.groupby(subj_keys, sort=False))) if len(subj) else {}
    rankings, pairs = [], []
    for key, grp in best.groupby(group, sort=True):
        table, group_pairs = _rank_group(
            dict(zip(group, key, strict=True)),
            grp,
            subj_groups,
            subj_keys,
            n_boot=n_boot,
            seed=seed,
            alpha=alpha,
            ci=ci,
            resamples=resamples or {},
        )
        rankings.append(table)
        pairs += group_pairs
    ranking = pd.concat(rankings, ignore_index=True) if rankings else pd.DataFrame()
    pairwise = pd.DataFrame(
        pairs,
        columns=group
        + ["rule_a", "rule_b", "diff", "diff_ci_low", "diff_ci_high", "df", "p", "p_fdr"],
    )
    pairwise["significant"] = pairwise["p_fdr"] < alpha
    if len(ranking):
        ties = _tie_lists(pairwise, group)
        ranking["tied_with"] = [
            ties.get(key, "")
            for key in ranking[group + ["rule"]].itertuples(index=False, name=None)
        ]
        ranking = _add_p_columns(ranking, pairwise, group)
        ranking = ranking.sort_values(group + ["rank"]).reset_index(drop=True)
    return ranking, pairwise


def _rank_group(
    keys: dict,
    grp: pd.DataFrame,
    subj_groups: dict,
    subj_keys: list[str],
    *,
    n_boot: int,
    seed: int,
    alpha: float,
    ci: str,
    resamples: dict,
) -> tuple[pd.DataFrame, list[dict]]:
    n_subj = int(grp["n_subjects"].iloc[0])
    n_stim = int(grp["n_stimuli"].iloc[0]) if "n_stimuli" in grp else 0
    by_rule = {rule: rg for rule, rg in grp.groupby("rule", sort=True)}
    found = {rule: _lookup(resamples, rg) for rule, rg in by_rule.items()}
    samples: dict[str, np.ndarray] = {}
    ceiling = None
    if found and all(v is not None for v in found.values()):
        metas = {
            (h["n_subjects"], h["n_stimuli"], h["n_boot"], h["seed"])
            for v in found.values()
            for h in v
        }
        if len(metas) > 1:
            raise ValueError(
                f"{keys}: the rules' saved resamples differ in (n_subjects, n_stimuli, n_boot, "
                f"seed) {sorted(metas)}; rerun compare with one rsa.n_boot and rsa.seed"
            )
        n_subj, n_stim = next(iter(metas))[:2]
        scheme = ci if n_subj >= 2 else "stimuli"
        ci_method = {"subjects": "bootstrap_subjects", "stimuli": "bootstrap_stimuli"}.get(
            scheme, "bootstrap_dual"
        )
        need = [0, 1, 2] if scheme == "both" else [SCHEMES.index(scheme)]
        for rule, hits in found.items():
            samples[rule] = np.mean([h["best"] for h in hits], axis=0)
            if not np.isfinite(samples[rule][need]).any(axis=1).all():
                raise ValueError(
                    f"{keys}, rule {rule}: the saved resamples have no {scheme!r} samples; "
                    f"compare and aggregate must use the same rsa.ci"
                )
        ceiling = next(iter(found.values()))[0]["ceiling"]
    else:
        scheme, ci_method = "subjects", "bootstrap_subjects"
        if n_subj >= 2:
            idx = np.random.default_rng(seed).integers(0, n_subj, size=(n_boot, n_subj))
            for rule, rg in by_rule.items():
                tables = []
                for s in sorted(rg["seed"].unique()):
                    g = subj_groups.get(tuple(keys[k] for k in subj_keys[:-2]) + (rule, s))
                    if g is None:
                        break
                    t = g.groupby(["layer", "subject"])["score"].mean().unstack("subject")
                    if t.shape[1] != n_subj or t.isna().any(axis=None):
                        break
                    tables.append(t)
                else:
                    if tables:
                        samples[rule] = _subject_samples(tables, idx)
    stab_w, stab_rho = seed_stability(grp.pivot_table("score", "rule", "seed"))
    rows, var, dfs, seed_parts = {}, {}, {}, {}
    for rule, rg in by_rule.items():
        per_seed = rg.groupby("seed")["score"].mean()
        k = len(per_seed)
        row = {
            **keys,
            "rule": rule,
            **({"kind": rg["kind"].iloc[0]} if "kind" in rg else {}),
            "score": float(per_seed.mean()),
            "n_seeds": k,
            "noise_ceiling_low": rg["noise_ceiling_low"].mean(),
            "noise_ceiling_high": rg["noise_ceiling_high"].mean(),
            "score_nc": rg["score_nc"].mean(),
            "n_subjects": n_subj,
            "best_layer": rg["best_layer"].mode().iloc[0],
            "p_perm_max": rg["p_perm"].max() if "p_perm" in rg else np.nan,
            "rank_stability_w": stab_w,
            "rank_stability_rho": stab_rho,
            "seed_sd": float(per_seed.std(ddof=1)) if k >= 2 else np.nan,
            "seed_variance": "included" if k >= 2 else ONE_SEED,
        }
        if "kind" in rg and rg["kind"].iloc[0] == "control" and k < 2:
            row["seed_variance"] = "control model (no initialisation)"
        seed_parts[rule] = (per_seed.var(ddof=1) / k, k - 1.0) if k >= 2 else (0.0, 1.0)
        if rule in samples:
            v, d = scheme_variance(samples[rule], scheme, n_subj, n_stim)
            v, d = add_variance(v, d, *seed_parts[rule])
            var[rule], dfs[rule] = float(v), float(d)
            lo, hi = t_interval(row["score"], v, d, alpha)
            row.update(ci_low=float(lo), ci_high=float(hi), ci_method=ci_method, ci_df=float(d))
            if ceiling is not None and np.isfinite(ceiling[SCHEMES.index(scheme)]).any():
                with np.errstate(invalid="ignore", divide="ignore"):
                    vn, dn = scheme_variance(samples[rule] / ceiling, scheme, n_subj, n_stim)
                sv, sd = seed_parts[rule]
                vn, dn = add_variance(vn, dn, sv / row["noise_ceiling_high"] ** 2, sd)
                lo, hi = t_interval(row["score_nc"], vn, dn, alpha)
                row.update(score_nc_low=float(lo), score_nc_high=float(hi))
        else:
            row.update(
                ci_low=rg["ci_low"].mean(),
                ci_high=rg["ci_high"].mean(),
                ci_method=rg["ci_method"].iloc[0] if "ci_method" in rg else "",
                ci_df=np.nan,
            )
        for c in ("score_nc_low", "score_nc_high"):
            if c not in row:
                row[c] = rg[c].mean() if c in rg else np.nan
        rows[rule] = row
    pairs = []
    tested = sorted(samples)
    ab = list(itertools.combinations(tested, 2))
    if ab:
        diff = np.array([rows[a]["score"] - rows[b]["score"] for a, b in ab])
        lo, hi, d, p = pair_tests(
            diff,
            np.stack([samples[a] - samples[b] for a, b in ab], axis=-1),
            scheme,
            n_subj,
            n_stim,
            [tuple(np.array([seed_parts[r[side]][i] for r in ab]) for i in (0, 1))
             for side in (0, 1)],
            alpha,
        )  # fmt: skip
        pairs = [
            {**keys, "rule_a": a, "rule_b": b, "diff": float(diff[i]), "diff_ci_low": float(lo[i]),
             "diff_ci_high": float(hi[i]), "df": float(d[i]), "p": float(p[i])}
            for i, (a, b) in enumerate(ab)
        ]  # fmt: skip
    if pairs:
        from scipy.stats import false_discovery_control  # aggregation only (start-up)

        p = np.array([x["p"] for x in pairs])
        fdr = np.full(len(p), np.nan)
        ok = np.isfinite(p)
        fdr[ok] = false_discovery_control(p[ok]) if ok.any() else []
        for x, f in zip(pairs, fdr, strict=True):
            x["p_fdr"] = float(f)
    table = pd.DataFrame(rows.values())
    table["rank"] = table["score"].rank(ascending=False, method="min").astype(int)
    table["rank_ci_low"] = table["rank_ci_high"] = np.nan
    if len(tested) >= 2:
        row_i = SCHEMES.index(scheme)
        draws = []
        for r in tested:
            x = samples[r][row_i]
            raw = np.nanvar(x, ddof=1)
            scale = np.sqrt(var[r] / raw) if raw > 0 else 0.0
            draws.append(rows[r]["score"] + (x - np.nanmean(x)) * scale)
        draws = np.stack(draws)
        ok = np.isfinite(draws).all(axis=0)
        boot_ranks = rankdata(-draws[:, ok], axis=0, method="min")
        lo, hi = np.percentile(boot_ranks, [100 * alpha / 2, 100 * (1 - alpha / 2)], axis=1)
        pos = table.set_index("rule").index.get_indexer(tested)
        table.loc[pos, "rank_ci_low"], table.loc[pos, "rank_ci_high"] = lo, hi
    return table, pairs


def _add_p_columns(ranking: pd.DataFrame, pairwise: pd.DataFrame, group: list[str]) -> pd.DataFrame:
    """One ``p_fdr_vs_<rule>`` column per rule: the corrected p against that rule (NaN: untested)."""
    both = pd.concat(
        [
            pairwise.rename(columns={"rule_a": "rule", "rule_b": "other"}),
            pairwise.rename(columns={"rule_b": "rule", "rule_a": "other"}),
        ]
    )
    wide = both.pivot_table("p_fdr", group + ["rule"], "other") if len(both) else pd.DataFrame()
    for other in sorted(ranking["rule"].unique()):
        col = f"p_fdr_vs_{other}"
        if other in wide.columns:
            idx = pd.MultiIndex.from_frame(ranking[group + ["rule"]])
            ranking[col] = wide[other].reindex(idx).to_numpy()
        else:
            ranking[col] = np.nan
    return ranking


def _tie_lists(pairwise: pd.DataFrame, group: list[str]) -> dict[tuple, str]:
    """(group values..., rule) -> the rules whose difference from it is not significant
    (';'-joined, sorted); rules tied with none are absent."""
    ties: dict[tuple, set] = {}
    ns = pairwise.loc[~pairwise["significant"].to_numpy(), group + ["rule_a", "rule_b"]]
    for *key, a, b in ns.itertuples(index=False, name=None):
        ties.setdefault((*key, a), set()).add(b)
        ties.setdefault((*key, b), set()).add(a)
    return {k: ";".join(sorted(v)) for k, v in ties.items()}
