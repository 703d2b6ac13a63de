"""Noise ceilings of every bootstrap sample of one recording, computed once for all models.

The ceilings of a bootstrap sample depend only on the recording's RDMs and the resample indices (the
RSA settings ``methods``, ``n_boot``, ``boot_seed``, ``ci``), never on the model, so every compare
job of the recording reads them from here instead of recomputing them (the numbers are identical).
Writes an .npz: ``ceilings`` (rois, methods, rows, n_boot, 2) as ``analyses.scoring.
ceiling_samples`` gives them, ``rois``, ``methods``, the settings, and each ROI's RDM digest, which
``load_ceilings`` checks against the RDMs a compare job scores.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging

import numpy as np

from analyses.scoring import ceiling_samples
from pipelines._io import run_main, setup_logging, write_npz

log = logging.getLogger("bioalign.ceilings")


def rdm_digest(rdms: np.ndarray) -> str:
    """sha256 of an RDM stack's float64 values and shape."""
    a = np.ascontiguousarray(rdms, dtype=np.float64)
    return hashlib.sha256(repr(a.shape).encode() + a.tobytes()).hexdigest()


def _settings(p: dict) -> dict:
    """The RSA settings the ceilings depend on."""
    return {"n_boot": p["n_boot"], "boot_seed": p["boot_seed"], "ci": p.get("ci", "subjects")}


def recording_ceilings(brain: dict, p: dict) -> dict[str, np.ndarray]:
    """Arrays of the ceilings file for a loaded recording ``brain`` and RSA settings ``p``."""
    rois, methods, st = [str(r) for r in brain["rois"]], list(p["methods"]), _settings(p)
    out = np.stack([
        np.stack([
            ceiling_samples(
                brain[f"rdm_{roi}"], method=m, n_boot=st["n_boot"], seed=st["boot_seed"], ci=st["ci"]
            )
            for m in methods
        ])
        for roi in rois
    ])  # fmt: skip
    return {
        "ceilings": out,
        "rois": np.array(rois),
        "methods": np.array(methods),
        "digests": np.array([rdm_digest(brain[f"rdm_{roi}"]) for roi in rois]),
        "settings": np.array(json.dumps(_settings(p))),
    }


def load_ceilings(path: str, brain: dict, p: dict) -> dict[tuple[str, str], np.ndarray]:
    """{(roi, method): ceilings} from a ceilings file, refused (naming the file and the mismatch)
    unless it was made from these RDMs with these settings."""
    with np.load(path) as f:
        got = {k: f[k] for k in f.files}
    settings = json.loads(str(got["settings"]))
    want = _settings(p)
    if settings != want:
        raise ValueError(f"{path}: made with RSA settings {settings}, this comparison uses {want}")
    rois, methods = [str(r) for r in got["rois"]], [str(m) for m in got["methods"]]
    out = {}
    for roi in (str(r) for r in brain["rois"]):
        if roi not in rois:
            raise ValueError(f"{path}: no ceilings for ROI {roi!r} (it has {rois})")
        i = rois.index(roi)
        if str(got["digests"][i]) != rdm_digest(brain[f"rdm_{roi}"]):
            raise ValueError(f"{path}: its ceilings of ROI {roi!r} were made from other RDMs")
        for m in p["methods"]:
            if m not in methods:
                raise ValueError(f"{path}: no ceilings for method {m!r} (it has {methods})")
            out[(roi, m)] = got["ceilings"][i, methods.index(m)]
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--brain", required=True, help="the recording's .npz (pipelines.brain)")
    ap.add_argument("--params", required=True, help="JSON: methods, n_boot, boot_seed, ci")
    ap.add_argument("--out", required=True)
    ap.add_argument("--log")
    args = ap.parse_args(argv)
    setup_logging(args.log)
    p = json.loads(args.params)
    with np.load(args.brain) as brain:
        arrays = recording_ceilings(dict(brain), p)
    log.info("ceilings %s for ROIs %s", arrays["ceilings"].shape, list(arrays["rois"]))
    write_npz(args.out, **arrays)


if __name__ == "__main__":
    run_main(main)
