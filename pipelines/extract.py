"""Show a stimulus set to a trained network (in its training set's input format); save layer
activations and their correlation-distance RDMs."""

from __future__ import annotations

import argparse

import numpy as np
import torch

from analyses.rdm import correlation_rdm
from brain_data.images import model_input
from brain_data.stimuli import load_stimuli
from brain_data.trainsets import trainset_info
from models.training import build_rule
from pipelines._io import load_torch, read_json, run_main, setup_logging, write_npz


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--record", required=True)
    ap.add_argument("--stimset", required=True)
    ap.add_argument("--activations", required=True)
    ap.add_argument("--rdms", required=True)
    ap.add_argument("--log")
    args = ap.parse_args()
    setup_logging(args.log)
    torch.set_num_threads(1)
    rec = read_json(args.record)
    rule = build_rule(
        rec["rule"],
        rec["arch"],
        rec["in_shape"],
        rec["n_classes"],
        arch_params=rec.get("arch_params"),
        hparams=rec.get("hparams"),
        seed=rec["seed"],
    )
    rule.load_state_dict(
        load_torch(args.checkpoint, rec.get("checkpoint_sha256"), what="checkpoint")
    )
    rule.eval()
    stimuli = load_stimuli(args.stimset)
    x = model_input(stimuli.images, trainset_info(rec["trainset"])["input"])  # (n, c, h, w)
    torch.manual_seed(rec["seed"])  # stochastic rules (spiking) read out reproducibly
    with torch.no_grad():
        acts = {
            k: v.reshape(len(x), -1).numpy().astype(np.float32) for k, v in rule.layers(x).items()
        }
    layers = list(acts)
    write_npz(args.activations, layers=np.array(layers), **acts)
    write_npz(
        args.rdms,
        layers=np.array(layers),
        rdms=np.stack([correlation_rdm(acts[k]) for k in layers]).astype(np.float64),
    )


if __name__ == "__main__":
    run_main(main)
