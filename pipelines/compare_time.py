"""Time-resolved RSA of one network's layers with one M/EEG recording, and their aggregation.

``python -m pipelines.compare_time compare ...`` writes one row per (roi, layer, time, method) and
one peak-latency row per (roi, layer, method); ``... aggregate`` concatenates every run's tables.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import pandas as pd

from analyses.timecourse import timecourse_rsa
from brain_data.errors import RecordingError
from pipelines._io import run_main, setup_logging, write_csv

KEYS = ("rule", "arch", "trainset", "seed", "recording")


def compare(args: argparse.Namespace) -> None:
    p = json.loads(args.params)
    model = np.load(args.model_rdms)
    brain = np.load(args.brain)
    if "times" not in brain.files:
        raise RecordingError(f"{args.brain}: not a time-resolved recording (no 'times')")
    layers = [str(s) for s in model["layers"]]
    stim = brain["stimuli"]
    rdms = model["rdms"][:, stim][:, :, stim]  # (layers, n_rec, n_rec) in the recording's order
    keys = {k: p[k] for k in KEYS}
    rows, peaks = [], []
    for roi in [str(r) for r in brain["rois"]]:
        for method in p["methods"]:
            res = timecourse_rsa(
                rdms,
                brain[f"rdm_{roi}"],
                brain["times"],
                layers,
                method=method,
                n_boot=p["n_boot"],
                n_boot_stimuli=p.get("n_boot_stimuli", 100),
                seed=p["boot_seed"],
            )
            rows.append(res.to_frame().assign(roi=roi))
            peaks.append(res.peaks_frame().assign(roi=roi))
    write_csv(args.out, pd.concat(rows).assign(**keys))
    write_csv(args.peaks_out, pd.concat(peaks).assign(**keys))


def aggregate(args: argparse.Namespace) -> None:
    for files, out in ((args.scores, args.out_scores), (args.peaks, args.out_peaks)):
        frames = [pd.read_csv(f) for f in files]
        write_csv(out, pd.concat(frames) if frames else pd.DataFrame())


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    sub = ap.add_subparsers(dest="command", required=True)
    c = sub.add_parser("compare")
    c.add_argument("--model-rdms", required=True)
    c.add_argument("--brain", required=True)
    c.add_argument("--params", required=True, help="JSON: run keys, methods, n_boot, boot_seed")
    c.add_argument("--out", required=True)
    c.add_argument("--peaks-out", required=True)
    c.add_argument("--log")
    a = sub.add_parser("aggregate")
    a.add_argument("--scores", nargs="*", default=[])
    a.add_argument("--peaks", nargs="*", default=[])
    a.add_argument("--out-scores", required=True)
    a.add_argument("--out-peaks", required=True)
    a.add_argument("--log")
    args = ap.parse_args(argv)
    setup_logging(args.log)
    (compare if args.command == "compare" else aggregate)(args)


if __name__ == "__main__":
    run_main(main)
