"""Encoding models: cross-validated ridge from each layer's features to every response channel.

``run``: one network x one response-level recording -> per (ROI, subject, layer) the mean and
median of the per-channel prediction r and explained variance. ``aggregate``: concatenate the runs.
No repetitions are stored for these recordings, so no per-channel ceiling exists; ``ev_nc`` stays
empty rather than invented.
"""

from __future__ import annotations

import argparse
import json
import logging

import numpy as np
import pandas as pd

from analyses.encoding import encode
from pipelines._io import run_main, setup_logging, write_csv

log = logging.getLogger("bioalign.encode")

#: Fewest training stimuli per cross-validation fold for a held-out r worth reporting. Ridge on
#: fewer images fits noise: on the 20-image NSD sample (16 per fold) the held-out r averaged -0.18
#: over 880 layer x ROI fits. Fits below this are still computed but marked ``reliable = False``.
MIN_TRAIN_STIMULI = 50


def reliability_note(frame: pd.DataFrame) -> str | None:
    """A sentence for the report when some encoding rows are marked unreliable, else None."""
    if "reliable" not in frame or frame["reliable"].astype(bool).all():
        return None
    bad = frame.loc[~frame["reliable"].astype(bool)]
    recs = ", ".join(
        f"{r} ({int(g['n_train_stimuli'].min())} training stimuli per fold)"
        for r, g in bad.groupby("recording")
    )
    return (
        f"Unreliable: {recs}: fewer than {MIN_TRAIN_STIMULI} training stimuli per fold, so the "
        "held-out r of these encoding models mostly measures noise; do not rank rules by it."
    )


def score_layers(
    activations: dict[str, np.ndarray],
    responses: np.ndarray,
    *,
    n_components: int | None,
    n_folds: int,
    seed: int,
) -> list[dict]:
    """Rows per (subject, layer): channel-mean/median r and EV of a cross-validated ridge model.

    ``activations``: layer -> (n_stim, features) rows in the recording's stimulus order;
    ``responses``: (subjects, n_stim, channels).
    """
    n_stim = responses.shape[1]
    n_train = n_stim - int(np.ceil(n_stim / n_folds))  # smallest training fold
    reliable = n_train >= MIN_TRAIN_STIMULI
    if not reliable:
        log.warning(
            "encoding on %d stimuli with %d folds trains on %d per fold (< %d): rows marked "
            "reliable = False",
            n_stim,
            n_folds,
            n_train,
            MIN_TRAIN_STIMULI,
        )
    rows = []
    for s, resp in enumerate(responses):
        for layer, feats in activations.items():
            if len(feats) != n_stim:
                raise ValueError(f"layer {layer}: {len(feats)} stimuli, responses {n_stim}")
            # PCA keeps at most as many components as the training fold and the layer allow
            k = None if n_components is None else max(1, min(n_components, n_train, feats.shape[1]))
            res = encode(feats, resp, n_components=k, n_folds=n_folds, seed=seed)
            rows.append(
                {
                    "subject": s + 1,
                    "layer": layer,
                    "r_mean": float(np.nanmean(res.r)),
                    "r_median": float(np.nanmedian(res.r)),
                    "ev_mean": float(np.nanmean(res.ev)),
                    "ev_nc_mean": float(np.nanmean(res.ev_nc))
                    if np.isfinite(res.ev_nc).any()
                    else np.nan,
                    "n_channels": int(res.r.size),
                    "n_components": k if k is not None else -1,
                    "n_folds": n_folds,
                    "n_train_stimuli": n_train,
                    "reliable": reliable,
                }
            )
    return rows


def _run(args: argparse.Namespace) -> None:
    p = json.loads(args.params)
    with np.load(args.brain) as brain, np.load(args.activations) as acts:
        stim = brain["stimuli"]
        rois = [str(r) for r in brain["rois"] if f"responses_{r}" in brain]
        if not rois:
            raise ValueError(f"{args.brain}: the recording has no response patterns to encode")
        layers = {str(name): acts[str(name)][stim] for name in acts["layers"]}
        rows = []
        for roi in rois:
            log.info("%s: %s channels", roi, brain[f"responses_{roi}"].shape[-1])
            rows += [
                {"roi": roi, **r}
                for r in score_layers(
                    layers,
                    brain[f"responses_{roi}"],
                    n_components=p["n_components"],
                    n_folds=p["n_folds"],
                    seed=p["cv_seed"],
                )
            ]
    keys = {k: p[k] for k in ("rule", "arch", "trainset", "seed", "recording")}
    write_csv(args.out, pd.DataFrame([{**keys, **r} for r in rows]))


def _aggregate(args: argparse.Namespace) -> None:
    frame = pd.concat([pd.read_csv(f) for f in args.scores], ignore_index=True)
    order = ["recording", "roi", "rule", "arch", "trainset", "seed", "subject", "layer"]
    write_csv(args.out, frame.sort_values(order, kind="stable"))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    sub = ap.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="encoding models of one network for one recording")
    run.add_argument("--activations", required=True)
    run.add_argument("--brain", required=True)
    run.add_argument(
        "--params", required=True, help="JSON: run keys, n_components, n_folds, cv_seed"
    )
    run.add_argument("--out", required=True)
    run.add_argument("--log")
    agg = sub.add_parser("aggregate", help="concatenate every run's encoding scores")
    agg.add_argument("--scores", nargs="+", required=True)
    agg.add_argument("--out", required=True)
    agg.add_argument("--log")
    args = ap.parse_args(argv)
    setup_logging(args.log)
    (_run if args.command == "run" else _aggregate)(args)


if __name__ == "__main__":
    run_main(main)
