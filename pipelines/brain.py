"""Load and validate one recording (manifest -> files -> RDMs) into a normalised .npz."""

from __future__ import annotations

import argparse

import numpy as np

from brain_data.recordings import load_recording
from pipelines._io import run_main, setup_logging, write_json, write_npz


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--recording", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--meta", required=True)
    ap.add_argument("--log")
    args = ap.parse_args()
    setup_logging(args.log)
    rec = load_recording(args.recording)
    write_npz(
        args.out,
        stimuli=rec.stimuli,
        rois=np.array(rec.rois),
        **{f"rdm_{roi}": rdm for roi, rdm in rec.rdms.items()},
    )
    write_json(
        args.meta,
        {
            **rec.meta,
            "rois": {r: {"n_subjects": rec.n_subjects(r)} for r in rec.rois},
            "n_stimuli": len(rec.stimuli),
        },
    )


if __name__ == "__main__":
    run_main(main)
