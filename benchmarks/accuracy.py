"""Test accuracy of every learning rule x architecture x training set, beside published numbers.

    python -m benchmarks.accuracy                       # every registered rule, default-grid budgets
    python -m benchmarks.accuracy --rules bp fa --epochs 20 --n-train 0   # all images, 20 epochs
    python -m benchmarks.accuracy --budget full          # config/full.yaml's budget (GPU)
    python -m benchmarks.accuracy --budget full --rules eqprop --archs cnn --trainsets cifar10 \
        --batch-size 128 --set lr=0.0005 --max-minutes 20 --csv results.csv
    python -m benchmarks.accuracy --budget full --rules hebbian --archs cnn --trainsets cifar10 \
        --csv benchmarks/results/full_budget.csv --update   # rerun one row of the results table
    python -m benchmarks.accuracy --table benchmarks/results/full_budget.csv   # a CSV as a table

Budgets come from config/config.yaml (or config/full.yaml with --budget full) and
config/rules/<id>.yaml, as in `make run`, unless overridden. ``--max-minutes`` caps a run's wall
clock: no epoch starts that would, at the last epoch's pace, end past the cap, and a first epoch still
running at the cap stops after its current minibatch; the row then records the examples actually
seen and ``epochs`` as their fraction of the training set (``stopped``: ``time cap``).
``--min-epochs N`` lets no cap stop a run before it has seen every training image N times.
``--data-dir`` reads ``<dir>/<trainset>.npz`` written by ``python -m pipelines.prepare`` instead of
decoding the archives again. Runs on CUDA when present. Prints a markdown table; ``--csv`` appends
one row per run (accuracies in %, with the seed, device, date and commit of the code that ran), or,
with ``--update``, puts it in place of the file's row for the same rule / arch / trainset / seed.
"""

from __future__ import annotations

import argparse
import csv
import logging
import platform
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
import yaml

from benchmarks.csv_rows import check_columns, read_rows, update_rows
from benchmarks.provenance import commit
from brain_data.trainsets import as_tensors, load_trainset, trainset_info
from models import registry
from models.rule_config import load_rule_config, load_yaml, resolve_hparams, resolve_training
from models.training import LR_SCHEDULES, accuracy, build_rule, train

ROOT = Path(__file__).resolve().parent.parent
COLUMNS = [
    "rule", "arch", "trainset", "seed", "epochs", "examples_seen", "test_accuracy",
    "best_test_accuracy", "reference", "reference_source", "n_train", "batch_size", "lr_schedule",
    "overrides", "stopped", "time_s", "device", "date", "commit",
]  # fmt: skip


def table_header() -> str:
    """The markdown header of the result table."""
    return "| " + " | ".join(COLUMNS) + " |\n|" + "---|" * len(COLUMNS)


def table_row(row: dict) -> str:
    """One result row as a markdown table line."""
    return "| " + " | ".join(str(row[c]) for c in COLUMNS) + " |"


class _OutOfTime(Exception):
    """The wall-clock cap stopped training."""


def device_name(device: str, threads: int) -> str:
    """The GPU's name, or the CPU and its thread count."""
    if device == "cuda":
        return torch.cuda.get_device_name()
    return f"cpu {platform.machine()} ({threads} thread{'' if threads == 1 else 's'})"


def _parse_set(items: list[str]) -> dict:
    """``key=value`` pairs with YAML-typed values (``lr=3e-5`` is a float)."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"--set expects key=value, got {item!r}")
        out[key] = load_yaml(value)
    return out


def _load(trainset: str, data_dir: Path | None) -> dict[str, np.ndarray]:
    if data_dir is not None and (data_dir / f"{trainset}.npz").is_file():
        with np.load(data_dir / f"{trainset}.npz") as npz:
            return dict(npz)
    return load_trainset(trainset)


def _epochs(seen: int, n_train: int) -> int | float:
    """Passes over the training set: whole, or to three decimals when a cap cut an epoch short."""
    whole, part = divmod(seen, n_train)
    return whole if part == 0 else round(seen / n_train, 3)


def run_one(
    rule_id: str,
    arch: str,
    trainset: str,
    data: dict[str, np.ndarray],
    config: dict,
    args: argparse.Namespace,
    device: str,
) -> dict:
    """Train one rule x arch x trainset; the result row (accuracies in %)."""
    cfg = load_rule_config(rule_id)
    budget = resolve_training(config["training"], cfg, trainset, arch, args.budget)
    for key in ("epochs", "batch_size", "lr_schedule"):
        if getattr(args, key) is not None:
            budget[key] = getattr(args, key)
    budget.setdefault("lr_schedule", "constant")
    if args.n_train is not None:
        budget["n_train"] = args.n_train or None
    d = as_tensors(
        data,
        trainset,
        n_train=budget.get("n_train"),
        n_test=budget.get("n_test"),
        seed=args.seed,
        device=device,
    )
    hparams = {**resolve_hparams(cfg, arch, trainset, args.budget), **_parse_set(args.set)}
    arch_params = {**config["arch_params"].get(arch, {}), **_parse_set(args.arch_set)}
    rule = build_rule(
        rule_id,
        arch,
        d["x_train"].shape[1:],
        trainset_info(trainset)["n_classes"],
        arch_params=arch_params,
        hparams=hparams,
        seed=args.seed,
    ).to(device)
    start = time.perf_counter()
    cap = None if args.max_minutes is None else args.max_minutes * 60
    last, seen, accs = [start], [0], []  # test accuracy after each finished epoch
    step = rule.train_step
    floor = args.min_epochs * len(d["y_train"])  # examples no cap cuts short

    def capped_step(x, y):  # the cap stops a (first) epoch that outruns it after this minibatch
        if cap is not None and seen[0] >= max(floor, 1) and time.perf_counter() - start > cap:
            raise _OutOfTime()
        seen[0] += len(y)
        return step(x, y)

    rule.train_step = capped_step

    def on_epoch(state: dict) -> None:
        acc, now = state["curves"]["test_accuracy"][-1], time.perf_counter()
        print(
            f"# {rule_id} {arch} {trainset} epoch {state['epoch']}: {100 * acc:.2f} % "
            f"({now - start:.0f} s)",
            flush=True,
        )
        accs[:] = state["curves"]["test_accuracy"]
        # stop when another epoch (if the budget has one) as long as the last would pass the cap
        more = state["epoch"] < int(budget["epochs"])
        done = state["epoch"] >= args.min_epochs
        if cap is not None and more and done and 2 * now - last[0] - start > cap:
            raise _OutOfTime()
        last[0] = now

    stopped = "budget"
    try:
        train(
            rule,
            d["x_train"],
            d["y_train"],
            d["x_test"],
            d["y_test"],
            epochs=int(budget["epochs"]),
            batch_size=int(budget["batch_size"]),
            seed=args.seed,
            log_every=args.log_every,
            on_epoch=on_epoch,
            lr_schedule=budget["lr_schedule"],
        )
    except _OutOfTime:
        stopped = "time cap"
    finally:
        del rule.train_step
    n_train = len(d["y_train"])
    if not accs or seen[0] != len(accs) * n_train:  # untrained, or stopped inside an epoch
        accs.append(accuracy(rule.eval(), d["x_test"], d["y_test"]))
    ref, src = args.refs.get(rule_id, {}).get(f"{arch}/{trainset}") or ["", ""]
    return {
        "rule": rule_id,
        "arch": arch,
        "trainset": trainset,
        "seed": args.seed,
        "epochs": _epochs(seen[0], n_train),
        "examples_seen": seen[0],
        "test_accuracy": round(100 * accs[-1], 2),
        "best_test_accuracy": round(100 * max(accs), 2),
        "reference": ref,
        "reference_source": src,
        "n_train": n_train,
        "batch_size": int(budget["batch_size"]),
        "lr_schedule": budget["lr_schedule"],
        "overrides": " ".join(args.set + args.arch_set),
        "stopped": stopped,
        "time_s": round(time.perf_counter() - start),
        "device": device_name(device, args.threads),
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "commit": args.commit,
    }


def run_key(row: dict) -> tuple[str, str, str, str]:
    """A run of this benchmark: rule, arch, training set and seed."""
    return row["rule"], row["arch"], row["trainset"], str(row["seed"])


def results_table(path: Path) -> str:
    """A CSV of this benchmark as a markdown table beside the references: per row the examples seen,
    the test accuracy and whether it meets the reference (``yes`` / ``no (x below)``)."""
    rows = read_rows(path, COLUMNS)
    out = [
        "| rule | net | epochs | examples seen | test % | reference % | meets it? | stopped | device |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ref = f"{r['reference']} ({r['reference_source']})" if r["reference"] else "—"
        met = "—"
        if r["reference"]:
            gap = float(r["reference"]) - float(r["test_accuracy"])
            met = "yes" if gap <= 0 else f"no ({gap:.1f} below)"
        out.append(
            f"| {r['rule']} | {r['arch']}/{r['trainset']} | {r['epochs']} | {r['examples_seen']} "
            f"| {r['test_accuracy']} | {ref} | {met} | {r['stopped']} | {r['device']} |"
        )
    return "\n".join(out)


def append_row(path: Path, row: dict) -> None:
    """Append ``row`` to the CSV at ``path`` (header first if new; another header is refused)."""
    new = not (path.is_file() and path.stat().st_size)
    if not new:
        with path.open(newline="") as fh:
            check_columns(path, next(csv.reader(fh), []), COLUMNS)
    with path.open("a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        if new:
            writer.writeheader()
        writer.writerow(row)


def parser() -> argparse.ArgumentParser:
    """The command line (``--set`` / ``--arch-set`` may repeat: their pairs accumulate)."""
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rules", nargs="+", default=None)
    ap.add_argument("--archs", nargs="+", default=["mlp", "cnn"])
    ap.add_argument("--trainsets", nargs="+", default=["mnist", "cifar10"])
    ap.add_argument("--epochs", type=int, default=None, help="override every rule's epochs")
    ap.add_argument("--batch-size", type=int, default=None, help="override every rule's batch size")
    ap.add_argument(
        "--lr-schedule",
        choices=LR_SCHEDULES,
        default=None,
        help="override the learning-rate schedule",
    )
    ap.add_argument(
        "--n-train", type=int, default=None, help="override the training subset (0 = all)"
    )
    ap.add_argument(
        "--set", nargs="*", action="extend", default=[], help="hyper-parameter overrides key=value"
    )
    ap.add_argument(
        "--arch-set",
        nargs="*",
        action="extend",
        default=[],
        help="architecture overrides, e.g. hidden=[1024,512,256]",
    )
    ap.add_argument("--budget", choices=["grid", "full"], default="grid")
    ap.add_argument("--max-minutes", type=float, default=None, help="wall-clock cap per run")
    ap.add_argument(
        "--min-epochs", type=int, default=0, help="epochs every run finishes whatever the cap"
    )
    ap.add_argument("--data-dir", type=Path, default=None, help="prepared <trainset>.npz files")
    ap.add_argument("--csv", type=Path, default=None, help="append one row per run")
    ap.add_argument(
        "--update",
        action="store_true",
        help="with --csv: each run replaces the file's row of the same rule / arch / trainset / "
        "seed where it stands (new runs are appended); the file is rewritten whole",
    )
    ap.add_argument("--log-every", type=int, default=0, help="log progress every N batches")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--table", type=Path, default=None, help="print this CSV as a table and stop")
    return ap


def main() -> None:
    args = parser().parse_args()
    if args.table is not None:
        print(results_table(args.table))
        return
    torch.set_num_threads(args.threads)
    if args.log_every:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    if args.budget == "full":
        config.update(yaml.safe_load((ROOT / "config" / "full.yaml").read_text()))
    args.refs = yaml.safe_load((ROOT / "benchmarks" / "references.yaml").read_text())
    args.commit = commit()
    rules = args.rules or registry.available()
    unknown = sorted(set(rules) - set(registry.available()))
    if unknown:
        raise SystemExit(f"unknown rule(s) {unknown}; known: {registry.available()}")
    if args.update and args.csv is None:
        raise SystemExit("--update rewrites the --csv file: give --csv")
    if args.csv is not None:
        read_rows(args.csv, COLUMNS, missing_ok=True)  # a file of other columns: refused now
    print(f"device: {device}\n")
    print(table_header(), flush=True)
    for trainset in args.trainsets:
        data = _load(trainset, args.data_dir)
        for rule_id in rules:
            for arch in args.archs:
                row = run_one(rule_id, arch, trainset, data, config, args, device)
                print(table_row(row), flush=True)
                if args.csv is not None and args.update:
                    update_rows(args.csv, [row], COLUMNS, run_key)
                elif args.csv is not None:
                    append_row(args.csv, row)


if __name__ == "__main__":
    main()
