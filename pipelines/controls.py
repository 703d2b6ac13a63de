"""RDMs of one control model (pixels, luminance, colour, gabor, category) on one stimulus set, in
the model-table format of the learning rules' snapshots: one row per network of the grid (the
control stands in every (arch, training set) ranking; ``pixels`` differs by training set, since it
is the stimulus as that network sees it)."""

from __future__ import annotations

import argparse
import json

from analyses.model_table import ModelTable
from brain_data.images import model_input
from brain_data.stimuli import load_stimuli
from brain_data.trainsets import trainset_info
from models.controls import control_rdm
from pipelines._io import run_main, setup_logging, write_npz


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--control", required=True)
    ap.add_argument("--stimset", required=True)
    ap.add_argument("--params", required=True, help='JSON: {"nets": [[arch, trainset], ...]}')
    ap.add_argument("--out", required=True)
    ap.add_argument("--log")
    args = ap.parse_args(argv)
    setup_logging(args.log)
    nets = [tuple(n) for n in json.loads(args.params)["nets"]]
    stimuli = load_stimuli(args.stimset)
    table = ModelTable.empty(stimuli.n_stimuli)
    by_trainset = {}
    for arch, trainset in nets:
        if trainset not in by_trainset:
            net_input = (
                model_input(stimuli.images, trainset_info(trainset)["input"]).numpy()
                if args.control == "pixels"
                else None
            )
            by_trainset[trainset] = control_rdm(
                args.control, stimuli.images, stimuli.groups, net_input, stimset=args.stimset
            )
        table.add(
            {args.control: by_trainset[trainset]},
            rule=args.control,
            arch=arch,
            trainset=trainset,
            seed=0,
            snapshot=0,
            examples_seen=0,
            test_accuracy=float("nan"),
            final=True,
            kind="control",
        )
    write_npz(args.out, **table.to_arrays())


if __name__ == "__main__":
    run_main(main)
