"""Gather every run's scores and training records into the tidy result tables and DVC metrics."""

from __future__ import annotations

import argparse
import json

import pandas as pd

from analyses.ranking import load_resamples, rank_rules
from pipelines._io import run_main, setup_logging, write_csv, write_json


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scores", nargs="+", required=True)
    ap.add_argument("--subjects", nargs="+", required=True)
    ap.add_argument("--records", nargs="+", required=True)
    ap.add_argument(
        "--resamples", nargs="*", default=[], help="pipelines.compare --resamples-out files"
    )
    ap.add_argument("--params", required=True, help="JSON: n_boot, boot_seed, alpha, ci")
    ap.add_argument("--out-scores", required=True)
    ap.add_argument("--out-ranking", required=True)
    ap.add_argument("--out-pairwise", required=True)
    ap.add_argument("--out-accuracy", required=True)
    ap.add_argument("--out-metrics", required=True)
    ap.add_argument("--out-curves", required=True, help="per-epoch training curves (DVC plots)")
    ap.add_argument("--log")
    args = ap.parse_args()
    setup_logging(args.log)
    p = json.loads(args.params)
    scores = pd.concat([pd.read_csv(f) for f in args.scores], ignore_index=True)
    subjects = pd.concat([pd.read_csv(f) for f in args.subjects], ignore_index=True)
    ranking, pairwise = rank_rules(
        scores,
        subjects,
        n_boot=p["n_boot"],
        seed=p["boot_seed"],
        alpha=p["alpha"],
        ci=p.get("ci", "both"),
        resamples=load_resamples(args.resamples) if args.resamples else None,
    )
    records = [json.loads(open(f).read()) for f in args.records]
    accuracy = pd.DataFrame(
        [
            {
                k: r[k]
                for k in (
                    "rule",
                    "arch",
                    "trainset",
                    "seed",
                    "test_accuracy",
                    "wall_time_s",
                    "n_train",
                )
            }
            for r in records
        ]
    )
    order = ["rule", "arch", "trainset", "seed", "recording", "roi", "method", "layer"]
    write_csv(args.out_scores, scores.sort_values(order, kind="stable"))
    write_csv(args.out_ranking, ranking)
    write_csv(args.out_pairwise, pairwise)
    write_csv(args.out_accuracy, accuracy.sort_values(["rule", "arch", "trainset", "seed"]))
    write_csv(args.out_curves, curves_table(records))
    metrics: dict = {"accuracy": {}, "brain_score": {}}
    for r in (
        accuracy.groupby(["rule", "arch", "trainset"])["test_accuracy"]
        .mean()
        .reset_index()
        .itertuples()
    ):
        metrics["accuracy"][f"{r.rule}/{r.arch}/{r.trainset}"] = round(float(r.test_accuracy), 4)
    for r in ranking.itertuples():
        value = r.score_nc if r.method == "r2_spearman" else r.score
        metrics["brain_score"][
            f"{r.recording}/{r.roi}/{r.method}/{r.rule}/{r.arch}/{r.trainset}"
        ] = None if pd.isna(value) else round(float(value), 4)
    write_json(args.out_metrics, metrics)


if __name__ == "__main__":
    run_main(main)
