"""Run many ``benchmarks.accuracy`` jobs side by side (e.g. on one GPU) and print one table.

    python -m benchmarks.parallel benchmarks/full_gpu.yaml --workers 16 --out bench-out \
        --data-dir bench-data --minutes 24

The job file is a YAML list; each entry names ``rule``, ``arch``, ``trainset`` and optionally
``batch_size``, ``epochs``, ``n_train``, ``lr_schedule``, ``set`` (hyper-parameter overrides,
``{key: value}``), ``arch_set`` (architecture overrides, e.g. ``{hidden: [1024, 512, 256]}``) and
``minutes`` (wall-clock cap of that job). Jobs start in file order, at most ``--workers`` at a time; no job runs
past ``--minutes`` from the start. Each job logs to ``<out>/logs/`` (its accuracy after every epoch)
and appends its row to ``<out>/accuracy.csv`` when it ends.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

from benchmarks.accuracy import COLUMNS, table_header, table_row
from benchmarks.csv_rows import read_rows
from models.rule_config import load_yaml

MARGIN_MIN = 1.0  # a job's last epoch and evaluation may overrun its cap


def _flow(value) -> str:
    """A value as one-line YAML (lists stay parseable by ``yaml.safe_load``)."""
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


def job_command(job: dict, args: argparse.Namespace, cap_min: float) -> list[str]:
    """The ``benchmarks.accuracy`` command line of one job, capped at ``cap_min`` minutes."""
    cmd = [
        sys.executable, "-m", "benchmarks.accuracy", "--budget", "full",
        "--rules", job["rule"], "--archs", job["arch"], "--trainsets", job["trainset"],
        "--threads", "1", "--csv", str(args.out / "accuracy.csv"),
        "--max-minutes", f"{cap_min:.4g}", "--log-every", "200",
    ]  # fmt: skip
    if args.data_dir is not None:
        cmd += ["--data-dir", str(args.data_dir)]
    for key in ("batch_size", "epochs", "n_train"):
        if key in job:
            cmd += [f"--{key.replace('_', '-')}", str(int(job[key]))]
    if "lr_schedule" in job:
        cmd += ["--lr-schedule", str(job["lr_schedule"])]
    for key in ("set", "arch_set"):
        if job.get(key):
            cmd += [f"--{key.replace('_', '-')}", *(f"{k}={_flow(v)}" for k, v in job[key].items())]
    return cmd


def job_name(job: dict) -> str:
    overrides = {**(job.get("set") or {}), **(job.get("arch_set") or {})}
    extra = "_".join(f"{k}{v}" for k, v in sorted(overrides.items()))
    extra = extra.replace(" ", "").replace("[", "").replace("]", "").replace(",", "-")
    return "_".join(
        str(p)
        for p in (
            job["rule"],
            job["arch"],
            job["trainset"],
            job.get("batch_size", ""),
            job.get("lr_schedule", ""),
            extra,
        )
        if p
    )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("jobs", type=Path)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--out", type=Path, default=Path("bench-out"))
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument(
        "--minutes", type=float, default=60.0, help="wall-clock budget of the whole run"
    )
    args = ap.parse_args()
    jobs = load_yaml(args.jobs.read_text())  # as rule configs: set: {lr: 3e-5} is a number
    missing = [j for j in jobs if not {"rule", "arch", "trainset"} <= set(j)]
    if missing:
        raise SystemExit(f"{args.jobs}: entries lack rule/arch/trainset: {missing}")
    (args.out / "logs").mkdir(parents=True, exist_ok=True)
    end = time.monotonic() + 60 * args.minutes

    def run(job: dict) -> int:
        left = (end - time.monotonic()) / 60 - MARGIN_MIN
        cap = min(float(job.get("minutes", args.minutes)), left)
        if cap <= 0:
            return -1
        with (args.out / "logs" / f"{job_name(job)}.log").open("w") as log:
            return subprocess.call(
                job_command(job, args, cap), stdout=log, stderr=subprocess.STDOUT
            )

    with ThreadPoolExecutor(args.workers) as pool:
        codes = list(pool.map(run, jobs))
    for job, code in zip(jobs, codes, strict=True):
        if code != 0:
            print(f"{job_name(job)}: {'not started' if code < 0 else f'exit {code}'}")
    rows = read_rows(args.out / "accuracy.csv", COLUMNS, missing_ok=True)
    print(table_header())
    for row in rows:
        print(table_row(row))


if __name__ == "__main__":
    main()
