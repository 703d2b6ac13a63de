"""Compare one network's layer RDMs with one recording (every ROI, every method)."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pandas as pd

from analyses.ranking import resample_arrays
from analyses.scoring import score_roi
from pipelines._io import run_main, setup_logging, write_csv, write_npz


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model-rdms", required=True)
    ap.add_argument("--brain", required=True)
    ap.add_argument(
        "--params",
        required=True,
        help="JSON: run keys, recording, methods, n_boot, n_splits, boot_seed, ci, n_perm, "
        "reweighted (null or keyword arguments of analyses.reweighted.reweighted_cv)",
    )
    ap.add_argument("--out", required=True)
    ap.add_argument("--subjects-out", required=True)
    ap.add_argument(
        "--resamples-out",
        help="npz of the best_cv bootstrap samples per ROI and method (what rank_rules pairs on)",
    )
    ap.add_argument("--log")
    args = ap.parse_args()
    setup_logging(args.log)
    p = json.loads(args.params)
    model = np.load(args.model_rdms)
    brain = np.load(args.brain)
    layers = [str(s) for s in model["layers"]]
    stim = brain["stimuli"]
    rdms = model["rdms"][:, stim][:, :, stim]  # (layers, n_rec, n_rec) in the recording's order
    rows, subj, resamples = [], [], {}
    for roi in [str(r) for r in brain["rois"]]:
        for method in p["methods"]:
            r, s = score_roi(
                rdms,
                brain[f"rdm_{roi}"],
                layers,
                method=method,
                n_boot=p["n_boot"],
                n_splits=p["n_splits"],
                seed=p["boot_seed"],
                ci=p.get("ci", "subjects"),
                n_perm=p.get("n_perm", 0),
                reweighted=p.get("reweighted"),
                alpha=p.get("alpha", 0.05),
                resamples=resamples.setdefault((roi, method), {}),
            )
            rows += [{"roi": roi, **x} for x in r]
            subj += [{"roi": roi, **x} for x in s]
    keys = {k: p[k] for k in ("rule", "arch", "trainset", "seed", "recording")}
    keys.update({k: p[k] for k in ("match", "kind") if k in p})
    write_csv(args.out, pd.DataFrame([{**keys, **r} for r in rows]))
    write_csv(args.subjects_out, pd.DataFrame([{**keys, **s} for s in subj]))
    if args.resamples_out:
        write_npz(args.resamples_out, **resample_arrays(keys, resamples))


if __name__ == "__main__":
    run_main(main)
