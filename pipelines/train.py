"""Train one (rule, arch, trainset, seed) and write the checkpoint and its JSON record."""

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
from models.training import build_rule, train
from pipelines._io import load_torch, run_main, save_torch, setup_logging, write_json

log = logging.getLogger("bioalign.train")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", required=True, help="prepared training set (.npz)")
    ap.add_argument(
        "--params",
        required=True,
        help="JSON: rule, arch, trainset, seed, hparams, arch_params, training",
    )
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--record", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--log")
    args = ap.parse_args()
    setup_logging(args.log)
    p = json.loads(args.params)
    torch.set_num_threads(args.threads)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    info, tr = trainset_info(p["trainset"]), p["training"]
    with np.load(args.data) as npz:
        d = as_tensors(
            dict(npz),
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
    log.info(
        "training %s/%s/%s seed %d on %d images (%s)",
        p["rule"],
        p["arch"],
        p["trainset"],
        p["seed"],
        len(y_tr),
        device,
    )
    resume_path = Path(args.checkpoint).with_suffix(".resume.pt")
    digest = hashlib.sha256(args.params.encode()).hexdigest()
    result = train(
        rule,
        x_tr,
        y_tr,
        x_te,
        y_te,
        epochs=int(tr["epochs"]),
        batch_size=int(tr["batch_size"]),
        seed=p["seed"],
        lr_schedule=tr.get("lr_schedule", "constant"),
        resume=load_resume(resume_path, digest),
        on_epoch=lambda state: save_resume(resume_path, state, digest),
    )
    sha256 = save_torch(args.checkpoint, {k: v.cpu() for k, v in rule.state_dict().items()})
    write_json(
        args.record,
        {
            **p,
            "checkpoint_sha256": sha256,
            "test_accuracy": result.test_accuracy,
            "curves": result.curves,
            "wall_time_s": result.wall_time_s,
            "n_train": len(y_tr),
            "n_test": len(y_te),
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
