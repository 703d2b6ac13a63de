"""Gather every model's scores and training records into the tidy result tables and DVC metrics:
scores, trajectories (brain score along training), rankings at matched examples and at matched
accuracy (controls ranked beside the rules), pairwise tests, accuracy, curves, metrics."""

from __future__ import annotations

import argparse
import json
import logging

import numpy as np
import pandas as pd

from analyses.matching import MATCHES
from analyses.ranking import load_resamples, rank_rules
from analyses.scoring import BEST
from pipelines._io import run_main, setup_logging, write_csv, write_json

log = logging.getLogger("bioalign.aggregate")
RUN = ["rule", "arch", "trainset", "seed"]
CELL = ["trainset", "arch", "recording", "roi", "method"]
TRAJECTORY_COLUMNS = RUN + [
    "kind",
    "snapshot",
    "examples_seen",
    "test_accuracy",
    "recording",
    "roi",
    "method",
    "layer",
    "score",
    "ci_low",
    "ci_high",
]


def read_tables(paths: list[str]) -> pd.DataFrame:
    """Concatenate CSV files; a file with no rows contributes nothing (and no error)."""
    frames = []
    for path in paths:
        try:
            frames.append(pd.read_csv(path))
        except pd.errors.EmptyDataError:
            continue
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def curves_table(records: list[dict]) -> pd.DataFrame:
    """Tidy per-epoch curves (rule, arch, trainset, seed, epoch, metrics) from the run records."""
    keys = ["rule", "arch", "trainset", "seed", "epoch"]
    rows = []
    for r in records:
        curves = r.get("curves") or {}
        for i, epoch in enumerate(curves.get("epoch", [])):
            metrics = {k: v[i] for k, v in curves.items() if k != "epoch" and i < len(v)}
            rows.append({**{k: r[k] for k in keys[:4]}, "epoch": epoch, **metrics})
    frame = pd.DataFrame(rows, columns=None if rows else keys + ["test_accuracy"])
    return frame.sort_values(keys).reset_index(drop=True) if rows else frame


def accuracy_table(records: list[dict]) -> pd.DataFrame:
    """One row per run: the budget it actually used and its final test accuracy."""
    keys = (
        "rule",
        "arch",
        "trainset",
        "seed",
        "test_accuracy",
        "examples_seen",
        "n_train",
        "epochs",
        "batch_size",
        "n_test",
        "wall_time_s",
    )
    rows = [{k: r.get(k) for k in keys} for r in records]
    return pd.DataFrame(rows, columns=list(keys)).sort_values(["rule", "arch", "trainset", "seed"])


def complete_accuracy_match(
    scores: pd.DataFrame, subjects: pd.DataFrame, records: list[dict]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Keep a rule at matched accuracy only if every seed of its network reached the threshold.

    Returns (scores, subjects, not_reached) where ``not_reached`` lists (rule, arch, trainset,
    n_seeds, n_reached) of learning rules left out of the accuracy ranking.
    """
    runs = pd.DataFrame([{k: r[k] for k in RUN} for r in records])
    acc = scores[scores["match"] == "accuracy"]
    reached = acc.drop_duplicates(RUN)[RUN]
    counts = runs.groupby(["rule", "arch", "trainset"]).size().rename("n_seeds")
    hits = reached.groupby(["rule", "arch", "trainset"]).size().rename("n_reached")
    table = pd.concat([counts, hits], axis=1).fillna(0).astype(int).reset_index()
    missing = table[table["n_reached"] < table["n_seeds"]]
    drop = pd.MultiIndex.from_frame(missing[["rule", "arch", "trainset"]])

    def keep(frame: pd.DataFrame) -> pd.DataFrame:
        if not len(frame):
            return frame
        idx = pd.MultiIndex.from_frame(frame[["rule", "arch", "trainset"]])
        return frame[~((frame["match"] == "accuracy").to_numpy() & idx.isin(drop))]

    return keep(scores), keep(subjects), missing.reset_index(drop=True)


def rank_matched(
    scores: pd.DataFrame,
    subjects: pd.DataFrame,
    not_reached: pd.DataFrame,
    p: dict,
    resamples: dict | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rankings and pairwise tests at matched examples and matched accuracy (one FDR family per
    match and cell), with ``kind``, ``reached`` and the mean ``examples_seen`` / ``test_accuracy``
    of the ranked states; rules that never reach the matched accuracy are listed as not reached."""
    if not len(scores):
        return pd.DataFrame(), pd.DataFrame()
    kinds = scores.drop_duplicates("rule").set_index("rule")["kind"]
    best = scores[scores["layer"] == BEST]
    extra = (
        best.groupby(["match", *CELL, "rule"])[["examples_seen", "test_accuracy"]]
        .mean()
        .reset_index()
    )
    ranking, pairwise = rank_rules(
        scores,
        subjects,
        n_boot=p["n_boot"],
        seed=p["boot_seed"],
        alpha=p["alpha"],
        ci=p.get("ci", "both"),
        resamples=resamples,
    )
    if not len(ranking):
        return ranking, pairwise
    ranking = ranking.drop(columns=["kind", "examples_seen", "test_accuracy"], errors="ignore")
    ranking = ranking.merge(extra, on=["match", *CELL, "rule"], how="left")
    ranking.insert(ranking.columns.get_loc("rule") + 1, "kind", ranking["rule"].map(kinds))
    ranking["reached"] = True
    if len(not_reached):
        cells = ranking[ranking["match"] == "accuracy"][CELL].drop_duplicates()
        rows = [
            {
                "match": "accuracy",
                **cell,
                "rule": nr["rule"],
                "kind": "rule",
                "reached": False,
                "n_seeds": nr["n_seeds"],
                "n_seeds_reached": nr["n_reached"],
                "score": np.nan,
            }
            for nr in not_reached.to_dict("records")
            for cell in cells.to_dict("records")
            if cell["arch"] == nr["arch"] and cell["trainset"] == nr["trainset"]
        ]
        ranking = pd.concat([ranking, pd.DataFrame(rows)], ignore_index=True)
    ranking["rank"] = ranking["rank"].astype("Int64")
    order = {m: i for i, m in enumerate(MATCHES)}
    ranking = ranking.sort_values(
        ["match", *CELL, "rank"], key=lambda c: c.map(order) if c.name == "match" else c
    ).reset_index(drop=True)
    return ranking, pairwise


def metrics_of(accuracy: pd.DataFrame, ranking: pd.DataFrame) -> dict:
    """Headline numbers for ``dvc metrics diff``: mean accuracy per network, brain scores."""
    out: dict = {"accuracy": {}, "brain_score": {}}
    mean_acc = accuracy.groupby(["rule", "arch", "trainset"])["test_accuracy"].mean().reset_index()
    for r in mean_acc.itertuples():
        out["accuracy"][f"{r.rule}/{r.arch}/{r.trainset}"] = round(float(r.test_accuracy), 4)
    for r in ranking.itertuples():
        value = r.score_nc if r.method == "r2_spearman" else r.score
        key = f"{r.match}/{r.recording}/{r.roi}/{r.method}/{r.rule}/{r.arch}/{r.trainset}"
        out["brain_score"][key] = None if pd.isna(value) else round(float(value), 4)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scores", nargs="+", required=True)
    ap.add_argument("--subjects", nargs="+", required=True)
    ap.add_argument("--trajectories", nargs="+", required=True)
    ap.add_argument("--records", nargs="+", required=True)
    ap.add_argument("--resamples", nargs="*", default=[], help="pipelines.compare --resamples-out")
    ap.add_argument("--movement", nargs="*", default=[], help="pipelines.extract --movement-out")
    ap.add_argument(
        "--out-movement", help="how far training moved each layer (results/layer_movement.csv)"
    )
    ap.add_argument(
        "--params", required=True, help="JSON: n_boot, boot_seed, alpha, match_accuracy"
    )
    ap.add_argument("--out-scores", required=True)
    ap.add_argument("--out-ranking", required=True)
    ap.add_argument("--out-pairwise", required=True)
    ap.add_argument("--out-trajectories", required=True)
    ap.add_argument("--out-accuracy", required=True)
    ap.add_argument("--out-metrics", required=True)
    ap.add_argument("--out-curves", required=True, help="per-epoch training curves (DVC plots)")
    ap.add_argument("--log")
    args = ap.parse_args(argv)
    setup_logging(args.log)
    p = json.loads(args.params)
    records = [json.loads(open(f).read()) for f in args.records]
    scores, subjects, not_reached = complete_accuracy_match(
        read_tables(args.scores), read_tables(args.subjects), records
    )
    for nr in not_reached.to_dict("records"):
        log.warning(
            "%s/%s/%s: %d of %d seeds reach the matched accuracy %s: not ranked at matched accuracy",
            nr["rule"],
            nr["arch"],
            nr["trainset"],
            nr["n_reached"],
            nr["n_seeds"],
            p["match_accuracy"].get(nr["trainset"]),
        )
    resamples = load_resamples(args.resamples) if args.resamples else None
    ranking, pairwise = rank_matched(scores, subjects, not_reached, p, resamples)
    trajectories = read_tables(args.trajectories)
    accuracy = accuracy_table(records)
    order = ["match", "rule", "arch", "trainset", "seed", "recording", "roi", "method", "layer"]
    write_csv(args.out_scores, scores.sort_values(order, kind="stable"))
    write_csv(args.out_ranking, ranking)
    write_csv(args.out_pairwise, pairwise)
    write_csv(
        args.out_trajectories,
        trajectories[TRAJECTORY_COLUMNS].sort_values(
            ["rule", "arch", "trainset", "seed", "recording", "roi", "method", "layer", "snapshot"],
            kind="stable",
        ),
    )
    write_csv(args.out_accuracy, accuracy)
    if args.out_movement:
        write_csv(args.out_movement, read_tables(args.movement))
    write_csv(args.out_curves, curves_table(records))
    write_json(args.out_metrics, metrics_of(accuracy, ranking))


if __name__ == "__main__":
    run_main(main)
