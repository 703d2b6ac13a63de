"""Test accuracy of every learning rule x architecture x training set, beside published numbers.

    python benchmarks/accuracy.py                       # every registered rule, default-grid budgets
    python benchmarks/accuracy.py --rules bp fa --epochs 20 --n-train 0   # all images, 20 epochs
    python benchmarks/accuracy.py --budget full          # config/full.yaml's budget (GPU)

Budgets come from config/config.yaml (or config/full.yaml with --budget full) and
config/rules/<id>.yaml, as in `make run`, unless overridden.
Runs on CUDA when present. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import yaml

from brain_data.trainsets import as_tensors, load_trainset, trainset_info
from models import registry
from models.rule_config import load_rule_config, resolve_hparams, resolve_training
from models.training import build_rule, train

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rules", nargs="+", default=None)
    ap.add_argument("--archs", nargs="+", default=["mlp", "cnn"])
    ap.add_argument("--trainsets", nargs="+", default=["mnist", "cifar10"])
    ap.add_argument("--epochs", type=int, default=None, help="override every rule's epochs")
    ap.add_argument(
        "--n-train", type=int, default=None, help="override the training subset (0 = all)"
    )
    ap.add_argument("--budget", choices=["grid", "full"], default="grid")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    if args.budget == "full":
        config.update(yaml.safe_load((ROOT / "config" / "full.yaml").read_text()))
    refs = yaml.safe_load((ROOT / "benchmarks" / "references.yaml").read_text())
    rules = args.rules or registry.available()
    print(f"device: {device}\n")
    print(
        "| rule | arch | trainset | epochs | n_train | test acc % | reference % | source | time s |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for trainset in args.trainsets:
        data = load_trainset(trainset)
        info = trainset_info(trainset)
        for rule_id in rules:
            cfg = load_rule_config(rule_id)
            for arch in args.archs:
                budget = resolve_training(config["training"], cfg, trainset, arch, args.budget)
                if args.epochs is not None:
                    budget["epochs"] = args.epochs
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
                rule = build_rule(
                    rule_id,
                    arch,
                    d["x_train"].shape[1:],
                    info["n_classes"],
                    arch_params=config["arch_params"].get(arch, {}),
                    hparams=resolve_hparams(cfg, arch, trainset),
                    seed=args.seed,
                ).to(device)
                start = time.perf_counter()
                res = train(
                    rule,
                    d["x_train"],
                    d["y_train"],
                    d["x_test"],
                    d["y_test"],
                    epochs=int(budget["epochs"]),
                    batch_size=int(budget["batch_size"]),
                    seed=args.seed,
                    log_every=0,
                )
                ref, src = refs.get(rule_id, {}).get(f"{arch}/{trainset}") or ["", ""]
                print(
                    f"| {rule_id} | {arch} | {trainset} | {budget['epochs']} | {len(d['y_train'])} | "
                    f"{100 * res.test_accuracy:.1f} | {ref} | {src} | {time.perf_counter() - start:.0f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
