"""Compare one model (a learning rule's networks along training, or a control) with one recording.

For every network (arch, training set, seed) of the model table: the states ranked at matched
examples (the final snapshot) and at matched accuracy (the first snapshot reaching the training
set's ``match_accuracy``) get the full statistics (every layer, cross-validated best layer,
reweighted RSA, intervals, permutation p); every snapshot gets per-layer and best-layer scores with
subject-bootstrap intervals for the trajectory table. Writes three CSVs: scores (with ``match``),
per-subject scores (with ``match``) and the trajectory; and the best_cv bootstrap samples of every
ranked state (``--resamples-out``), on which the rankings pair rules.
"""

from __future__ import annotations

import argparse
import json
import logging

import numpy as np
import pandas as pd

from analyses.matching import snapshot_matches
from analyses.model_table import ModelTable
from analyses.ranking import many_resample_arrays
from analyses.scoring import score_groups
from analyses.trajectory import trajectory_rows
from pipelines._io import run_main, setup_logging, write_csv, write_npz
from pipelines.ceilings import load_ceilings

log = logging.getLogger("bioalign.compare")
RUN = ["rule", "arch", "trainset", "seed"]


def _load_table(path: str) -> ModelTable:
    with np.load(path) as npz:
        return ModelTable.from_arrays(npz, source=path)


def score_model(
    table: ModelTable, brain, p: dict, ceilings: dict | None = None
) -> tuple[pd.DataFrame, ...]:
    """(scores, subjects, trajectory) tables of every network in ``table`` against ``brain``, and
    the resamples of every ranked state: [(run keys with ``match``, {(roi, method): samples})].
    ``ceilings``: the recording's bootstrap noise ceilings per (roi, method), from
    ``pipelines.ceilings`` (computed here when absent; the numbers are the same)."""
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
        alpha=p.get("alpha", 0.05),
    )
    light = dict(n_boot=p["n_boot"], n_splits=p["n_splits"], seed=p["boot_seed"])
    thresholds = p.get("match_accuracy") or {}
    runs: dict[tuple, list] = {}
    for info, rows in table.networks():
        runs.setdefault(tuple(info[k] for k in RUN), []).append((info, rows))
    states, matches = [], []  # every network state, and which rankings it stands for
    for key, snaps in runs.items():
        snaps.sort(key=lambda s: s[0]["snapshot"])
        by_index = snapshot_matches(
            [s[0]["test_accuracy"] for s in snaps],
            is_control=snaps[0][0]["kind"] == "control",
            threshold=thresholds.get(key[2]),
        )
        for i, (info, rows) in enumerate(snaps):
            meta = {
                **dict(zip(RUN, key, strict=True)),
                "seed": int(key[3]),
                "kind": info["kind"],
                "snapshot": int(info["snapshot"]),
                "examples_seen": int(info["examples_seen"]),
                "test_accuracy": float(info["test_accuracy"]),
                "recording": p["recording"],
            }
            states.append((meta, rows))
            matches.append(by_index.get(i, []))
        log.info("%s: %d snapshots, matches %s", "/".join(map(str, key)), len(snaps), by_index)
    all_rows = np.concatenate([rows for _, rows in states])
    rdms = table.squares(all_rows, stim)  # (rows, n_rec, n_rec) in the recording's order
    layers = list(table.meta.loc[all_rows, "layer"])
    offsets = np.cumsum([0] + [len(rows) for _, rows in states])
    groups = [np.arange(a, b) for a, b in zip(offsets[:-1], offsets[1:], strict=True)]
    scores, subjects, trajectory = [], [], []
    resamples: dict[tuple, dict] = {}
    for roi in rois:
        brain_rdms = brain[f"rdm_{roi}"]
        for method in p["methods"]:
            traj = trajectory_rows(rdms, groups, layers, brain_rdms, method=method, **light)
            for (meta, _), rows in zip(states, traj, strict=True):
                trajectory += [{**meta, "roi": roi, **x} for x in rows]
            ranked = [i for i, ms in enumerate(matches) if ms]  # scored together: shared brain side
            if not ranked:
                continue
            samples = [{} for _ in ranked]
            results = score_groups(
                rdms,
                brain_rdms,
                layers,
                [groups[i] for i in ranked],
                method=method,
                resamples=samples,
                ceilings=(ceilings or {}).get((roi, method)),
                **full,
            )
            for i, (r, sub), res in zip(ranked, results, samples, strict=True):
                meta = states[i][0]
                for match in matches[i]:
                    scores += [{**meta, "match": match, "roi": roi, **x} for x in r]
                    subjects += [{**meta, "match": match, "roi": roi, **x} for x in sub]
                    run = tuple(meta[k] for k in RUN) + (match,)
                    resamples.setdefault(run, {})[(roi, method)] = res
    runs_out = [
        (
            {
                **dict(zip(RUN, run[:-1], strict=True)),
                "match": run[-1],
                "recording": p["recording"],
            },
            per_cell,
        )
        for run, per_cell in resamples.items()
    ]
    return pd.DataFrame(scores), pd.DataFrame(subjects), pd.DataFrame(trajectory), runs_out


def main(argv: list[str] | None = None) -> None:
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
    ap.add_argument("--resamples-out", help="npz: best_cv bootstrap samples of every ranked state")
    ap.add_argument(
        "--ceilings", help="the recording's bootstrap noise ceilings (pipelines.ceilings)"
    )
    ap.add_argument("--log")
    args = ap.parse_args(argv)
    setup_logging(args.log)
    p = json.loads(args.params)
    table = _load_table(args.table)
    with np.load(args.brain) as f:
        brain = dict(f)
    ceilings = load_ceilings(args.ceilings, brain, p) if args.ceilings else None
    scores, subjects, trajectory, resamples = score_model(table, brain, p, ceilings)
    write_csv(args.out, scores)
    write_csv(args.subjects_out, subjects)
    write_csv(args.trajectory_out, trajectory)
    if args.resamples_out:
        write_npz(args.resamples_out, **many_resample_arrays(resamples))


if __name__ == "__main__":
    run_main(main)
