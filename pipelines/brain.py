"""Load and validate one recording (manifest -> files -> RDMs) into a normalised .npz.

Keys: ``stimuli`` (0-based stimulus-set indices of the rows), ``rois``, ``rdm_{roi}``
((subjects, n, n), or (subjects, times, n, n) with ``times`` for time-resolved recordings) and,
for response-level recordings, ``responses_{roi}`` (subjects, n, features) for encoding models.
"""

from __future__ import annotations

import argparse

import numpy as np

from brain_data.recordings import load_recording
from pipelines._io import run_main, setup_logging, write_json, write_npz


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--recording", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--meta", required=True)
    ap.add_argument("--log")
    args = ap.parse_args(argv)
    setup_logging(args.log)
    rec = load_recording(args.recording)
    extra = {"times": rec.times} if rec.times is not None else {}
    extra.update({f"responses_{r}": x.astype(np.float32) for r, x in rec.responses.items()})
    write_npz(
        args.out,
        stimuli=rec.stimuli,
        rois=np.array(rec.rois),
        **{f"rdm_{roi}": rdm for roi, rdm in rec.rdms.items()},
        **extra,
    )
    meta = {
        **rec.meta,
        "rois": {r: {"n_subjects": rec.n_subjects(r)} for r in rec.rois},
        "n_stimuli": len(rec.stimuli),
    }
    if rec.times is not None:
        meta["n_times"] = len(rec.times)
    write_json(args.meta, meta)


if __name__ == "__main__":
    run_main(main)
