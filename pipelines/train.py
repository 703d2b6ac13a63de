"""Train one (rule, arch, trainset) for each of its seeds, in one process; per seed write the final
checkpoint, the snapshots along training (weights and test accuracy at log-spaced example counts,
the first the untrained network) and the JSON record (budget actually used, accuracy, curves,
snapshot table)."""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import platform
from pathlib import Path

import numpy as np
import torch

from brain_data.errors import CorruptFileError
from brain_data.trainsets import as_tensors, trainset_info
from models import registry
from models.training import build_rule, snapshot_points, train
from pipelines._io import load_torch, run_main, save_torch, setup_logging, write_json

log = logging.getLogger("bioalign.train")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", required=True, help="prepared training set (.npz)")
    ap.add_argument(
        "--params",
        required=True,
        help="JSON: rule, arch, trainset, seeds (or one seed), hparams, arch_params, training, "
        "snapshots (fractions of the examples budget)",
    )
    ap.add_argument("--checkpoints", "--checkpoint", nargs="+", required=True, help="one per seed")
    ap.add_argument(
        "--snapshots", nargs="+", required=True, help="output: snapshots (.pt), per seed"
    )
    ap.add_argument("--records", "--record", nargs="+", required=True, help="one per seed")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--log")
    args = ap.parse_args(argv)
    setup_logging(args.log)
    p = json.loads(args.params)
    seeds = [int(s) for s in p.pop("seeds", None) or [p.pop("seed")]]
    if not len(seeds) == len(args.checkpoints) == len(args.snapshots) == len(args.records):
        raise ValueError(
            f"{len(seeds)} seeds but {len(args.checkpoints)} checkpoints, {len(args.snapshots)} "
            f"snapshot files and {len(args.records)} records: give one of each per seed"
        )
    torch.set_num_threads(args.threads)
    with np.load(args.data) as npz:
        raw = dict(npz)
    for seed, *paths in zip(seeds, args.checkpoints, args.snapshots, args.records, strict=True):
        train_run({**p, "seed": seed}, raw, *paths)


def train_run(p: dict, raw: dict, checkpoint: str, snapshots: str, record: str) -> None:
    """Train one (rule, arch, trainset, seed) on the prepared arrays ``raw``; write its checkpoint,
    snapshots and record (atomically; an interrupted run resumes from its last epoch)."""
    device = "cuda" if torch.cuda.is_available() else "cpu"
    info, tr = trainset_info(p["trainset"]), p["training"]
    d = as_tensors(
        raw,
        p["trainset"],
        n_train=tr.get("n_train"),
        n_test=tr.get("n_test"),
        seed=p["seed"],
        device=device,
    )
    x_tr, y_tr, x_te, y_te = d["x_train"], d["y_train"], d["x_test"], d["y_test"]
    rule = build_rule(
        p["rule"],
        p["arch"],
        x_tr.shape[1:],
        info["n_classes"],
        arch_params=p.get("arch_params"),
        hparams=p.get("hparams"),
        seed=p["seed"],
    ).to(device)
    epochs = int(tr["epochs"])
    points = snapshot_points(p.get("snapshots", [0, 1]), len(y_tr) * epochs)
    log.info(
        "training %s/%s/%s seed %d: %d images x %d epochs = %d examples, batch %d, %s (%s); "
        "snapshots at %s",
        p["rule"],
        p["arch"],
        p["trainset"],
        p["seed"],
        len(y_tr),
        epochs,
        len(y_tr) * epochs,
        int(tr["batch_size"]),
        tr.get("lr_schedule", "constant"),
        device,
        points,
    )
    resume_path = Path(checkpoint).with_suffix(".resume.pt")
    digest = hashlib.sha256(json.dumps(p, sort_keys=True).encode()).hexdigest()
    result = train(
        rule,
        x_tr,
        y_tr,
        x_te,
        y_te,
        epochs=epochs,
        batch_size=int(tr["batch_size"]),
        seed=p["seed"],
        lr_schedule=tr.get("lr_schedule", "constant"),
        snapshots=points,
        resume=load_resume(resume_path, digest),
        on_epoch=lambda state: save_resume(resume_path, state, digest),
    )
    snaps = result.snapshots
    snapshots_sha256 = save_torch(
        snapshots,
        {
            "examples_seen": torch.tensor([s.examples_seen for s in snaps]),
            "test_accuracy": torch.tensor([s.test_accuracy for s in snaps], dtype=torch.float64),
            "states": [s.state for s in snaps],
        },
    )
    sha256 = save_torch(checkpoint, {k: v.cpu() for k, v in rule.state_dict().items()})
    write_json(
        record,
        {
            **p,
            "checkpoint_sha256": sha256,
            "snapshots_sha256": snapshots_sha256,
            "test_accuracy": result.test_accuracy,
            "curves": result.curves,
            "wall_time_s": result.wall_time_s,
            "n_train": len(y_tr),
            "n_test": len(y_te),
            "epochs": epochs if rule.learns else 0,
            "batch_size": int(tr["batch_size"]),
            "examples_seen": result.examples_seen,
            "snapshots": [
                {"index": i, "examples_seen": s.examples_seen, "test_accuracy": s.test_accuracy}
                for i, s in enumerate(snaps)
            ],
            "in_shape": list(x_tr.shape[1:]),
            "n_classes": info["n_classes"],
            "device": device,
            "card": registry.get(p["rule"]).card.as_dict(),
            "torch": torch.__version__,
            "python": platform.python_version(),
        },
    )
    resume_path.unlink(missing_ok=True)
    log.info("test accuracy %.4f in %.1f s", result.test_accuracy, result.wall_time_s)


def save_resume(path: Path, state: dict, digest: str) -> None:
    """Write the end-of-epoch training state (atomically) so an interrupted run can resume."""
    save_torch(path, {**state, "params_sha256": digest})


def load_resume(path: Path, digest: str) -> dict | None:
    """The saved state of an interrupted run with the same parameters, else None."""
    if not path.is_file():
        return None
    try:
        state = load_torch(path, what="resume file")
    except CorruptFileError as err:
        log.warning("%s; training starts afresh", err)
        return None
    if state.get("params_sha256") != digest:
        log.info("ignoring %s: written for different parameters", path)
        return None
    log.info("found %s (epoch %d)", path, state["epoch"])
    return state


if __name__ == "__main__":
    run_main(main)
