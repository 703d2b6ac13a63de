"""Ranking table: rank intervals, FDR p-values against every rule, seed stability."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import false_discovery_control
from scipy.stats import t as t_dist

from analyses.inference import loso_best_layer, loso_on_resamples
from analyses.intervals import scheme_variance
from analyses.ranking import ONE_SEED, RUN_KEYS, kendalls_w, rank_rules

KEYS = {"trainset": "t", "arch": "a", "recording": "rec", "roi": "r", "method": "spearman"}


def _tables(means: dict, n_seeds=1, n_subj=10, seed=0):
    """Scores and per-subject tables of rules whose 2 layers have the given mean scores."""
    rng = np.random.default_rng(seed)
    scores, subj = [], []
    for s in range(n_seeds):
        for rule, mu in means.items():
            per = mu + 0.05 * rng.normal(size=(2, n_subj))
            per[0] -= 0.3  # layer l1 is the good one
            held, _ = loso_best_layer(per)
            base = {**KEYS, "rule": rule, "seed": s}
            scores.append(
                {
                    **base,
                    "layer": "best_cv",
                    "score": held.mean(),
                    "ci_low": 0,
                    "ci_high": 0,
                    "noise_ceiling_low": 0.5,
                    "noise_ceiling_high": 0.6,
                    "score_nc": 0,
                    "n_subjects": n_subj,
                    "best_layer": "l1",
                    "p_perm": 0.01,
                }
            )
            subj += [
                {**base, "layer": "best_cv", "subject": i + 1, "score": v}
                for i, v in enumerate(held)
            ]
            subj += [
                {**base, "layer": f"l{li}", "subject": i + 1, "score": per[li, i]}
                for li in range(2)
                for i in range(n_subj)
            ]
    return pd.DataFrame(scores), pd.DataFrame(subj)


def test_kendalls_w():
    same = np.tile(np.arange(1, 6)[:, None], (1, 3))
    assert kendalls_w(same) == pytest.approx(1.0)
    assert kendalls_w(np.stack([np.arange(1, 6), np.arange(5, 0, -1)], axis=1)) == pytest.approx(
        0.0
    )
    assert np.isnan(kendalls_w(same[:, :1]))


def test_ranking_has_rank_intervals_fdr_columns_and_ties():
    scores, subj = _tables({"good": 0.5, "mid_a": 0.3, "mid_b": 0.3, "bad": 0.0})
    ranking, pairwise = rank_rules(scores, subj, n_boot=300)
    r = ranking.set_index("rule")
    assert r.loc["good", "rank"] == 1 and r.loc["good", "rank_ci_high"] == 1
    assert r.loc["mid_a", "rank_ci_low"] <= 3 and r.loc["mid_a", "rank_ci_high"] >= 2
    assert "mid_b" in r.loc["mid_a", "tied_with"] and r.loc["good", "tied_with"] == ""
    assert np.allclose(pairwise["p_fdr"], false_discovery_control(pairwise["p"]))
    p = pairwise.set_index(["rule_a", "rule_b"])["p_fdr"]
    assert r.loc["bad", "p_fdr_vs_good"] == p[("bad", "good")] and np.isnan(
        r.loc["good", "p_fdr_vs_good"]
    )
    assert np.isnan(r.loc["good", "rank_stability_w"])  # one seed: no stability to speak of


def test_rank_stability_across_seeds():
    stable, subj = _tables({"a": 0.6, "b": 0.4, "c": 0.2, "d": 0.0}, n_seeds=3)
    assert rank_rules(stable, subj, n_boot=50)[0]["rank_stability_w"].iloc[0] == pytest.approx(1.0)
    noisy, subj = _tables({"a": 0.3, "b": 0.3, "c": 0.3, "d": 0.3}, n_seeds=3, n_subj=4, seed=2)
    assert rank_rules(noisy, subj, n_boot=50)[0]["rank_stability_w"].iloc[0] < 0.9


def test_loso_on_resamples_equals_a_loop_without_leaking_copies():
    rng = np.random.default_rng(0)
    per = rng.normal(size=(3, 6))
    idx = rng.integers(0, 6, size=(20, 6))
    fast = loso_on_resamples(per, idx)
    for b, row in enumerate(idx):
        held = []
        for s in row:
            others = [j for j in range(6) if row[j] != s]
            if not others:
                held = None
                break
            layer = np.argmax(per[:, row[others]].mean(axis=1))
            held.append(per[layer, s])
        assert np.isnan(fast[b]) if held is None else fast[b] == pytest.approx(np.mean(held))


def test_bootstrap_loso_leaves_every_copy_of_the_held_out_subject_out():
    """The subject bootstrap of best_cv equals a loop that drops all copies (it kept the others)."""
    from analyses.inference import bootstrap_loso

    rng = np.random.default_rng(1)
    per = rng.normal(size=(3, 5))
    idx = np.random.default_rng(7).integers(0, 5, size=(30, 5))
    got = bootstrap_loso(per, 30, 7)
    for b, row in enumerate(idx):
        if len(np.unique(row)) < 2:
            assert np.isnan(got[b])
            continue
        held = [per[np.argmax(per[:, row[row != s]].mean(axis=1)), s] for s in row]
        assert got[b] == pytest.approx(np.mean(held))


def test_loso_on_per_sample_matrices_equals_one_matrix_per_sample():
    rng = np.random.default_rng(2)
    per = rng.normal(size=(6, 3, 5))  # one (layers, subjects) matrix per sample
    idx = rng.integers(0, 5, size=(6, 5))
    many = loso_on_resamples(per, idx)
    one = [loso_on_resamples(per[b], idx[b : b + 1])[0] for b in range(6)]
    assert np.allclose(many, one, equal_nan=True)


def _resampled_tables(n_rules=3, n_seeds=1, recordings=("r1", "r2"), matches=None, n_subj=6):
    """Scores, subjects and resamples from score_roi on simulated recordings."""
    from analyses.rdm import correlation_rdm
    from analyses.scoring import score_roi

    rng = np.random.default_rng(0)
    n = 14
    rows, subj, res = [], [], {}
    for rec in recordings:
        truth = rng.normal(size=(n, 10))
        brain = np.stack([correlation_rdm(truth + rng.normal(size=(n, 10))) for _ in range(n_subj)])
        for r in range(n_rules):
            for seed in range(n_seeds):
                for match in matches or [None]:
                    q = 1.5 * r + 0.3 * rng.normal()
                    layers = np.stack(
                        [correlation_rdm(truth * q + rng.normal(size=(n, 10))) for _ in range(2)]
                    )
                    keys = {"rule": f"rule{r}", "arch": "a", "trainset": "t", "seed": seed}
                    keys.update({"recording": rec, "kind": "control" if r == 0 else "rule"})
                    if match:
                        keys["match"] = match
                    d = {}
                    rr, ss = score_roi(
                        layers,
                        brain,
                        ["l0", "l1"],
                        method="spearman",
                        n_boot=60,
                        n_splits=2,
                        ci="both",
                        resamples=d,
                        ceiling=False,
                    )
                    rows += [{**keys, "roi": "roi", **x} for x in rr]
                    subj += [{**keys, "roi": "roi", **x} for x in ss]
                    run = {**keys, "roi": "roi", "method": "spearman"}
                    cols = tuple(k for k in RUN_KEYS if k in run)
                    res[tuple(run[k] for k in cols)] = {**d, "key_columns": cols}
    return pd.DataFrame(rows), pd.DataFrame(subj), res


def test_ranking_uses_the_corrected_dual_bootstrap_and_one_fdr_family_per_recording():
    from rsatoolbox.util.inference_util import _dual_bootstrap

    scores, subj, res = _resampled_tables()
    ranking, pairwise = rank_rules(scores, subj, n_boot=60, ci="both", resamples=res)
    assert set(ranking["ci_method"]) == {"bootstrap_dual"}
    assert set(ranking["kind"]) == {"control", "rule"}
    for _, fam in pairwise.groupby("recording"):  # BH within a family, not across the table
        assert np.allclose(fam["p_fdr"], false_discovery_control(fam["p"]))
    # the variance of a difference is rsatoolbox's small-sample dual-bootstrap formula
    row = pairwise.iloc[0]
    key = lambda rule: tuple(  # noqa: E731
        {
            "rule": rule,
            "arch": "a",
            "trainset": "t",
            "seed": 0,
            "recording": row["recording"],
            "roi": "roi",
            "method": "spearman",
        }[k]
        for k in RUN_KEYS
        if k != "match"
    )
    a, b = res[key(row["rule_a"])], res[key(row["rule_b"])]
    d = a["best"] - b["best"]
    n_r, n_p = a["n_subjects"], a["n_stimuli"]
    v_rsa = _dual_bootstrap(np.nanvar(d[:3], axis=1, ddof=1), n_r, n_p)
    assert scheme_variance(d[:3], "both", n_r, n_p)[0] == pytest.approx(v_rsa)
    # with the half splits, the stimulus part loses its pair over-count (never gains)
    v = scheme_variance(d, "both", n_r, n_p)[0]
    assert len(d) == 4 and np.isfinite(d[3]).all() and v <= v_rsa
    t = abs(row["diff"]) / np.sqrt(v)
    assert row["p"] == pytest.approx(2 * t_dist.sf(t, row["df"]))
    assert row["diff_ci_low"] < row["diff"] < row["diff_ci_high"]


def test_match_is_part_of_the_family_and_seeds_are_a_random_factor():
    scores, subj, res = _resampled_tables(
        n_rules=2, n_seeds=3, recordings=("r1",), matches=["examples", "accuracy"]
    )
    ranking, pairwise = rank_rules(scores, subj, n_boot=60, ci="both", resamples=res)
    assert len(pairwise) == 2 and set(pairwise["match"]) == {"examples", "accuracy"}
    assert (ranking["seed_variance"] == "included").all() and (ranking["n_seeds"] == 3).all()
    one, _ = rank_rules(
        scores[scores["seed"] == 0], subj[subj["seed"] == 0], n_boot=60, ci="both", resamples=res
    )
    assert set(one["seed_variance"]) == {ONE_SEED, "control model (no initialisation)"}
    # the seed-to-seed variance enlarges the standard error of the seed mean (the interval's
    # width also depends on the df, which a component with few seeds can raise or lower)

    def se(t: pd.DataFrame) -> np.ndarray:
        return ((t["ci_high"] - t["ci_low"]) / (2 * t_dist.ppf(0.975, t["ci_df"]))).to_numpy()

    wide = se(ranking)
    seed_sd = ranking["seed_sd"].to_numpy()
    assert np.all(seed_sd > 0)
    scores_flat = scores.copy()
    best = scores_flat["layer"] == "best_cv"
    scores_flat.loc[best, "score"] = (
        scores_flat[best].groupby(["rule", "match"])["score"].transform("mean")
    )  # no seed-to-seed spread
    flat, _ = rank_rules(scores_flat, subj, n_boot=60, ci="both", resamples=res)
    assert np.all(wide > se(flat))


def test_single_rdm_recordings_get_rank_intervals_and_tests_from_the_stimulus_bootstrap():
    scores, subj, res = _resampled_tables(n_subj=1, recordings=("r1",))
    ranking, pairwise = rank_rules(scores, subj, n_boot=60, ci="both", resamples=res)
    assert set(ranking["ci_method"]) == {"bootstrap_stimuli"}
    assert len(pairwise) == 3 and pairwise["p"].notna().all()
    assert ranking["rank_ci_low"].notna().all() and (ranking["ci_low"] < ranking["score"]).all()


def test_compare_saves_resamples_that_aggregate_ranks_with(tmp_path):
    """pipelines.compare --resamples-out -> pipelines.aggregate --resamples: dual-bootstrap ranking."""
    import json
    import subprocess
    import sys

    from analyses.model_table import ModelTable
    from analyses.rdm import correlation_rdm

    rng = np.random.default_rng(0)
    n = 12
    truth = rng.normal(size=(n, 10))
    brain = np.stack([correlation_rdm(truth + rng.normal(size=(n, 10))) for _ in range(5)])
    np.savez(tmp_path / "brain.npz", stimuli=np.arange(n), rois=np.array(["it"]), rdm_it=brain)
    outs = {k: [] for k in ("scores", "subjects", "trajectories", "resamples", "records")}
    for rule, q in (("good", 2.0), ("bad", 0.2)):
        table = ModelTable.empty(n)
        rdms = {f"l{i}": correlation_rdm(q * truth + rng.normal(size=(n, 10))) for i in range(2)}
        table.add(
            rdms,
            rule=rule,
            arch="mlp",
            trainset="mnist",
            seed=0,
            snapshot=0,
            examples_seen=10,
            test_accuracy=0.9,
            final=True,
            kind="rule",
        )
        np.savez(tmp_path / f"{rule}.npz", **table.to_arrays())
        params = {
            "recording": "rec",
            "methods": ["spearman"],
            "n_boot": 40,
            "n_splits": 2,
            "boot_seed": 0,
            "ci": "both",
            "match_accuracy": {"mnist": 0.5},
        }
        out = {k: tmp_path / f"{rule}_{k}" for k in ("s.csv", "subj.csv", "t.csv", "res.npz")}
        cmd = [
            sys.executable, "-m", "pipelines.compare", "--table", tmp_path / f"{rule}.npz",
            "--brain", tmp_path / "brain.npz", "--params", json.dumps(params),
            "--out", out["s.csv"], "--subjects-out", out["subj.csv"],
            "--trajectory-out", out["t.csv"], "--resamples-out", out["res.npz"],
        ]  # fmt: skip
        subprocess.run(cmd, check=True)
        rec = tmp_path / f"{rule}.json"
        rec.write_text(
            json.dumps(
                {
                    "rule": rule,
                    "arch": "mlp",
                    "trainset": "mnist",
                    "seed": 0,
                    "test_accuracy": 0.9,
                    "examples_seen": 10,
                    "wall_time_s": 1,
                    "n_train": 10,
                }
            )
        )
        for key, path in zip(
            outs, (out["s.csv"], out["subj.csv"], out["t.csv"], out["res.npz"], rec), strict=True
        ):
            outs[key].append(path)
    res = {
        k: tmp_path / k
        for k in (
            "scores.csv",
            "ranking.csv",
            "pairwise.csv",
            "trajectories.csv",
            "acc.csv",
            "metrics.json",
            "curves.csv",
        )
    }
    spec = {
        "n_boot": 40,
        "boot_seed": 0,
        "alpha": 0.05,
        "ci": "both",
        "match_accuracy": {"mnist": 0.5},
    }
    cmd = [sys.executable, "-m", "pipelines.aggregate"]
    for key, paths in outs.items():
        cmd += [f"--{key}", *paths]
    cmd += ["--params", json.dumps(spec)]
    for key, name in (
        ("scores", "scores.csv"),
        ("ranking", "ranking.csv"),
        ("pairwise", "pairwise.csv"),
        ("trajectories", "trajectories.csv"),
        ("accuracy", "acc.csv"),
        ("metrics", "metrics.json"),
        ("curves", "curves.csv"),
    ):
        cmd += [f"--out-{key}", res[name]]
    subprocess.run(cmd, check=True)
    ranking = pd.read_csv(res["ranking.csv"])
    ranking = ranking[ranking["match"] == "examples"].set_index("rule")
    assert set(ranking["ci_method"]) == {"bootstrap_dual"}
    pairwise = pd.read_csv(res["pairwise.csv"])
    assert ranking.loc["good", "rank"] == 1
    assert len(pairwise[pairwise["match"] == "examples"]) == 1
