"""Compare one model (a learning rule's networks along training, or a control) with one recording.

For every network (arch, training set, seed) of the model table: the states ranked at matched
examples (the final snapshot) and at matched accuracy (the first snapshot reaching the training
set's ``match_accuracy``) get the full statistics (every layer, cross-validated best layer,
reweighted RSA, intervals, permutation p); every snapshot gets per-layer and best-layer scores with
subject-bootstrap intervals for the trajectory table. Writes three CSVs: scores (with ``match``),
per-subject scores (with ``match``) and the trajectory.
"""

from __future__ import annotations

import argparse
import json
import logging

import numpy as np
import pandas as pd

from analyses.matching import snapshot_matches
from analyses.model_table import ModelTable
from analyses.scoring import score_roi
from pipelines._io import run_main, setup_logging, write_csv

log = logging.getLogger("bioalign.compare")
RUN = ["rule", "arch", "trainset", "seed"]


def _load_table(path: str) -> ModelTable:
    with np.load(path) as npz:
        return ModelTable.from_arrays(npz, source=path)


def score_model(table: ModelTable, brain, p: dict) -> tuple[pd.DataFrame, ...]:
    """(scores, subjects, trajectory) tables of every network in ``table`` against ``brain``."""
    stim = np.asarray(brain["stimuli"])
    if table.n_stimuli <= stim.max(initial=-1):
        raise ValueError(
            f"recording {p['recording']} indexes stimulus {int(stim.max()) + 1}, the model table "
            f"holds {table.n_stimuli}"
        )
    rois = [str(r) for r in brain["rois"]]
    full = dict(
        n_boot=p["n_boot"],
        n_splits=p["n_splits"],
        seed=p["boot_seed"],
        ci=p.get("ci", "subjects"),
        n_perm=p.get("n_perm", 0),
        reweighted=p.get("reweighted"),
    )
    light = dict(n_boot=p["n_boot"], n_splits=p["n_splits"], seed=p["boot_seed"], ci="subjects")
    thresholds = p.get("match_accuracy") or {}
    nets = list(table.networks())
    runs: dict[tuple, list] = {}
    for info, rows in nets:
        runs.setdefault(tuple(info[k] for k in RUN), []).append((info, rows))
    scores, subjects, trajectory = [], [], []
    for key, states in runs.items():
        states.sort(key=lambda s: s[0]["snapshot"])
        accs = [s[0]["test_accuracy"] for s in states]
        is_control = states[0][0]["kind"] == "control"
        matches = snapshot_matches(accs, is_control=is_control, threshold=thresholds.get(key[2]))
        for i, (info, rows) in enumerate(states):
            rdms = table.squares(rows, stim)  # (layers, n_rec, n_rec) in the recording's order
            layers = list(table.meta.loc[rows, "layer"])
            meta = {
                **dict(zip(RUN, key, strict=True)),
                "kind": info["kind"],
                "snapshot": int(info["snapshot"]),
                "examples_seen": int(info["examples_seen"]),
                "test_accuracy": float(info["test_accuracy"]),
                "recording": p["recording"],
            }
            for roi in rois:
                for method in p["methods"]:
                    r, _ = score_roi(rdms, brain[f"rdm_{roi}"], layers, method=method, **light)
                    trajectory += [
                        {
                            **meta,
                            "roi": roi,
                            **{k: x[k] for k in ("method", "layer", "score", "ci_low", "ci_high")},
                        }
                        for x in r
                    ]
                    if i not in matches:
                        continue
                    r, s = score_roi(rdms, brain[f"rdm_{roi}"], layers, method=method, **full)
                    for match in matches[i]:
                        scores += [{**meta, "match": match, "roi": roi, **x} for x in r]
                        subjects += [{**meta, "match": match, "roi": roi, **x} for x in s]
        log.info("%s: %d snapshots, matches %s", "/".join(map(str, key)), len(states), matches)
    return pd.DataFrame(scores), pd.DataFrame(subjects), pd.DataFrame(trajectory)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--table", required=True, help="the model's RDM table (.npz)")
    ap.add_argument("--brain", required=True)
    ap.add_argument(
        "--params",
        required=True,
        help="JSON: recording, methods, n_boot, n_splits, boot_seed, ci, n_perm, reweighted (null "
        "or keyword arguments of analyses.reweighted.reweighted_cv), match_accuracy",
    )
    ap.add_argument("--out", required=True)
    ap.add_argument("--subjects-out", required=True)
    ap.add_argument("--trajectory-out", required=True)
    ap.add_argument("--log")
    args = ap.parse_args()
    setup_logging(args.log)
    p = json.loads(args.params)
    table = _load_table(args.table)
    with np.load(args.brain) as brain:
        scores, subjects, trajectory = score_model(table, dict(brain), p)
    write_csv(args.out, scores)
    write_csv(args.subjects_out, subjects)
    write_csv(args.trajectory_out, trajectory)


if __name__ == "__main__":
    run_main(main)
