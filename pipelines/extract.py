"""Show a stimulus set to every network of one rule (all its archs, training sets, seeds and
snapshots along training), in each training set's input format; save the layer RDMs.

One job per (rule, stimulus set) instead of one per network: the cost is a forward pass per
snapshot, so most of a per-network job would be process start-up. Writes

- ``--snapshots-out``: every snapshot's layer RDMs in one table (:mod:`analyses.model_table`);
- ``--activations-out`` / ``--rdms-out``: per network (in the order of ``--records``), the final
  network's layer activations and RDMs, as read by the encoding, time-resolved and report steps.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
import torch

from analyses.hidden_learning import layer_change
from analyses.model_table import ModelTable
from analyses.rdm import correlation_rdm
from brain_data.images import model_input
from brain_data.stimuli import load_stimuli
from brain_data.trainsets import trainset_info
from models import registry
from models.training import build_rule, evaluation_only
from pipelines._io import load_torch, read_json, run_main, setup_logging, write_csv, write_npz


def _check_lengths(args: argparse.Namespace) -> None:
    n = len(args.records)
    for name in ("snapshots", "activations_out", "rdms_out"):
        if len(getattr(args, name)) != n:
            raise ValueError(
                f"--{name.replace('_', '-')}: {len(getattr(args, name))} paths for {n} records"
            )


def layer_activations(rule, x: torch.Tensor, seed: int) -> dict[str, np.ndarray]:
    """Layer name -> (n_stim, features) float32 activations of ``rule`` (eval mode) for ``x``."""
    rule.eval()
    torch.manual_seed(seed)  # stochastic rules (spiking) read out reproducibly
    with torch.no_grad():
        return {
            k: v.reshape(len(x), -1).numpy().astype(np.float32) for k, v in rule.layers(x).items()
        }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--records", nargs="+", required=True, help="run records (.json) of one rule")
    ap.add_argument("--snapshots", nargs="+", required=True, help="their snapshot files (.pt)")
    ap.add_argument("--stimset", required=True)
    ap.add_argument("--snapshots-out", required=True, help="all snapshots' layer RDMs (.npz)")
    ap.add_argument("--activations-out", nargs="+", required=True)
    ap.add_argument("--rdms-out", nargs="+", required=True)
    ap.add_argument(
        "--movement-out", help="CSV: per network and layer, 1 - Spearman(final RDM, untrained RDM)"
    )
    ap.add_argument("--log")
    args = ap.parse_args(argv)
    setup_logging(args.log)
    _check_lengths(args)
    torch.set_num_threads(1)
    evaluation_only()  # no optimiser steps here: skip torch's compiler import
    stimuli, table = None, None
    inputs: dict[str, torch.Tensor] = {}
    movement = []
    for rec_path, snap_path, act_out, rdm_out in zip(
        args.records, args.snapshots, args.activations_out, args.rdms_out, strict=True
    ):
        rec = read_json(rec_path)
        # the run's own files first: a corrupt one is refused before any stimulus is fetched
        snaps = load_torch(snap_path, rec.get("snapshots_sha256"), what="snapshot file")
        if stimuli is None:
            stimuli = load_stimuli(args.stimset)
            table = ModelTable.empty(stimuli.n_stimuli)
        if rec["trainset"] not in inputs:  # (n, c, h, w) in the training set's input format
            inputs[rec["trainset"]] = model_input(
                stimuli.images, trainset_info(rec["trainset"])["input"]
            )
        x = inputs[rec["trainset"]]
        rule = build_rule(
            rec["rule"],
            rec["arch"],
            rec["in_shape"],
            rec["n_classes"],
            arch_params=rec.get("arch_params"),
            hparams=rec.get("hparams"),
            seed=rec["seed"],
        )
        kind = "control" if registry.get(rec["rule"]).card.family == "control" else "rule"
        n_snap = len(snaps["states"])
        for i, state in enumerate(snaps["states"]):
            rule.load_state_dict(state)
            acts = layer_activations(rule, x, rec["seed"])
            if i == 0:
                first = acts
            rdms = {k: correlation_rdm(v) for k, v in acts.items()}
            table.add(
                rdms,
                rule=rec["rule"],
                arch=rec["arch"],
                trainset=rec["trainset"],
                seed=int(rec["seed"]),
                snapshot=i,
                examples_seen=int(snaps["examples_seen"][i]),
                test_accuracy=float(snaps["test_accuracy"][i]),
                final=i == n_snap - 1,
                kind=kind,
            )
            if i == n_snap - 1:
                layers = list(acts)
                movement += [
                    {**{k: rec[k] for k in ("rule", "arch", "trainset", "seed")},
                     "stimset": args.stimset, "examples_seen": int(snaps["examples_seen"][i]), "layer": k, "movement": v}
                    for k, v in layer_change(acts, first).items()
                ]  # fmt: skip
                write_npz(act_out, layers=np.array(layers), **acts)
                write_npz(
                    rdm_out,
                    layers=np.array(layers),
                    rdms=np.stack([rdms[k] for k in layers]).astype(np.float64),
                )
    write_npz(args.snapshots_out, **table.to_arrays())
    if args.movement_out:
        write_csv(args.movement_out, pd.DataFrame(movement))


if __name__ == "__main__":
    run_main(main)
