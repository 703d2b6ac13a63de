"""Fetch a training set and store it as uint8 arrays (uncompressed) for the training jobs."""

from __future__ import annotations

import argparse

from brain_data.trainsets import load_trainset
from pipelines._io import run_main, setup_logging, write_npz


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--trainset", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--log")
    args = ap.parse_args(argv)
    setup_logging(args.log)
    # uncompressed: every training job reads it, and inflating CIFAR-10 costs ~8 s per job
    write_npz(args.out, compress=False, **load_trainset(args.trainset))


if __name__ == "__main__":
    run_main(main)
