"""Do a rule's hidden layers learn? A linear probe on every hidden layer, trained vs untrained.

    python -m benchmarks.hidden_probe                              # every learning rule, seeds 0-2
    python -m benchmarks.hidden_probe --rules hebbian rstdp --archs cnn --seeds 0 --jobs 2
    python -m benchmarks.hidden_probe --rules dni --archs cnn --update   # rerun one, keep the rest
    python -m benchmarks.hidden_probe --table benchmarks/results/hidden_probe.csv

The protocol of ``tests/test_rules_common.py::test_rule_learns_on_real_mnist``, over seeds and
layers: each rule trains at its config's smoke budget (``smoke``, per architecture) on the first
images of a fixed, shuffled 10 000-image MNIST subset; a multinomial logistic-regression probe is
fitted on the subset's last ``N_PROBE_FIT`` images (which no smoke budget reaches) and scored on
2 000 test images, for the trained net and for the same net untrained (same seed). Per layer it
records both probe accuracies, their error ratio (trained / untrained; the last hidden layer
passes at <= ``MAX_PROBE_ERROR_RATIO``) and how far training moved the layer (1 - Spearman
between the two nets' correlation RDMs of 500 test images). Writes one CSV row per rule, arch,
seed and layer, with budget, device, date and commit, and prints a summary table.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

from analyses.hidden_learning import layer_change, linear_probe_accuracy
from benchmarks.accuracy import device_name
from benchmarks.csv_rows import read_rows, update_rows, write_rows
from benchmarks.provenance import commit
from brain_data.trainsets import as_tensors, load_trainset
from models import registry
from models.rule_config import load_rule_config, resolve_hparams, smoke_budget
from models.rules.base import FEEDFORWARD, Rule
from models.training import TrainResult, build_rule, train

#: The probe's fit set: the last ``N_PROBE_FIT`` of the subset's training images.
N_PROBE_FIT = 1000
#: "The hidden layers learn": the probe on the trained net's last hidden layer makes at most this
#: fraction of the untrained net's probe errors. On the MLP the untrained probe errs on ~16.6 % of
#: the test images, so 0.85 asks ~2.5 points more accuracy (~3 standard errors of the paired
#: difference); backprop at its smoke budget reaches ~0.5-0.6.
MAX_PROBE_ERROR_RATIO = 0.85
N_TRAIN, N_TEST, N_RDM = 10_000, 2_000, 500
SHAPE, N_CLASSES = (1, 28, 28), 10
ARCHS = ("mlp", "cnn")
COLUMNS = [
    "rule", "arch", "seed", "layer", "last_hidden", "probe", "probe_untrained", "error_ratio",
    "passes", "layer_change", "test_accuracy", "n_train", "epochs", "batch_size", "time_s",
    "device", "date", "commit",
]  # fmt: skip


def shuffled_subset(
    trainset: str = "mnist", n_train: int = N_TRAIN, n_test: int = N_TEST
) -> dict[str, torch.Tensor]:
    """The smoke budget's data: ``n_train`` random training images, shuffled with a fixed seed
    (the subset is sorted by index), and ``n_test`` random test images, as tensors."""
    d = as_tensors(load_trainset(trainset), trainset, n_train=n_train, n_test=n_test, seed=0)
    perm = torch.randperm(n_train, generator=torch.Generator().manual_seed(0))
    d["x_train"], d["y_train"] = d["x_train"][perm], d["y_train"][perm]
    return d


def build(rule_id: str, arch: str, seed: int = 0, **overrides) -> Rule:
    """The rule on ``arch`` for MNIST with its config's hyper-parameters (and ``overrides``)."""
    hparams = {**resolve_hparams(load_rule_config(rule_id), arch, "mnist"), **overrides}
    return build_rule(rule_id, arch, SHAPE, N_CLASSES, hparams=hparams, seed=seed)


def smoke_train(rule: Rule, rule_id: str, arch: str, d: dict[str, torch.Tensor]) -> TrainResult:
    """Train ``rule`` at its config's smoke budget for ``arch`` on the head of ``d``'s images."""
    smoke = smoke_budget(load_rule_config(rule_id), arch)
    n = smoke["n_train"]
    if n > len(d["x_train"]) - N_PROBE_FIT:
        raise ValueError(f"{rule_id}: smoke n_train {n} overlaps the probe's fit images")
    return train(
        rule,
        d["x_train"][:n],
        d["y_train"][:n],
        d["x_test"],
        d["y_test"],
        epochs=smoke["epochs"],
        batch_size=smoke["batch_size"],
        log_every=0,
    )


@torch.no_grad()
def hidden_activations(rule: Rule, x: torch.Tensor, batch: int = 500) -> list[torch.Tensor]:
    """Every hidden block's ``layers()`` activation, flattened (n, features), in eval mode and in
    batches (through ``feedforward`` when that is what ``layers()`` returns)."""
    rule.eval()
    names = [b.name for b in rule.net.blocks]
    chunks = []
    for i in range(0, len(x), batch):
        xb = x[i : i + batch]
        if rule.layer_readout == FEEDFORWARD:
            chunks.append(rule.feedforward(xb))
        else:
            acts = rule.layers(xb)
            chunks.append([acts[n] for n in names])
    return [torch.cat([c[j] for c in chunks]).flatten(1) for j in range(len(names))]


def error_ratio(acc: float, acc0: float) -> float:
    """Probe errors of the trained net as a fraction of the untrained net's."""
    return (1 - acc) / max(1 - acc0, 1e-9)


def _probe_features(rule: Rule, d) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Every hidden layer's activations on the probe's fit images and on the test images."""
    return hidden_activations(rule, d["x_train"][-N_PROBE_FIT:]), hidden_activations(
        rule, d["x_test"]
    )


def _probe(feats: tuple[list[torch.Tensor], list[torch.Tensor]], layer: int, d) -> float:
    fit, held_out = feats[0][layer], feats[1][layer]
    return linear_probe_accuracy(
        fit.numpy(), d["y_train"][-N_PROBE_FIT:].numpy(), held_out.numpy(), d["y_test"].numpy()
    )


def probe_error_ratio(trained: Rule, untrained: Rule, d) -> tuple[float, float, float]:
    """On the last hidden layer: (trained probe accuracy, untrained probe accuracy, ratio of
    their error rates)."""
    acc, acc0 = (_probe(_probe_features(r, d), -1, d) for r in (trained, untrained))
    return acc, acc0, error_ratio(acc, acc0)


def probe_layers(trained: Rule, untrained: Rule, d) -> list[dict]:
    """Per hidden layer: the layer, both probe accuracies, their error ratio and the layer's
    movement (1 - Spearman of the two nets' RDMs on the first ``N_RDM`` test images)."""
    ft, fu = _probe_features(trained, d), _probe_features(untrained, d)
    names = [b.name for b in trained.net.blocks]
    moved = layer_change(
        {n: a[:N_RDM].numpy() for n, a in zip(names, ft[1], strict=True)},
        {n: a[:N_RDM].numpy() for n, a in zip(names, fu[1], strict=True)},
    )
    rows = []
    for j, name in enumerate(names):
        acc, acc0 = _probe(ft, j, d), _probe(fu, j, d)
        rows.append(
            {
                "layer": name,
                "probe": acc,
                "probe_untrained": acc0,
                "error_ratio": error_ratio(acc, acc0),
                "layer_change": moved[name],
            }
        )
    return rows


def run_one(rule_id: str, arch: str, seed: int, d=None) -> list[dict]:
    """Train one rule at its smoke budget and probe every hidden layer: the CSV rows."""
    d = shuffled_subset() if d is None else d
    t0 = time.time()
    rule, untrained = build(rule_id, arch, seed=seed), build(rule_id, arch, seed=seed)
    res = smoke_train(rule, rule_id, arch, d)
    layers = probe_layers(rule, untrained, d)
    smoke = smoke_budget(load_rule_config(rule_id), arch)
    common = {
        "rule": rule_id,
        "arch": arch,
        "seed": seed,
        "test_accuracy": round(100 * res.test_accuracy, 2),
        "n_train": smoke["n_train"],
        "epochs": smoke["epochs"],
        "batch_size": smoke["batch_size"],
        "time_s": round(time.time() - t0, 1),
        "device": device_name("cpu", 1),
        "date": datetime.now(UTC).date().isoformat(),
        "commit": commit(),
    }
    rows = []
    for i, lay in enumerate(layers):
        last = i == len(layers) - 1
        rows.append(
            {
                **common,
                "layer": lay["layer"],
                "last_hidden": last,
                "probe": round(lay["probe"], 4),
                "probe_untrained": round(lay["probe_untrained"], 4),
                "error_ratio": round(lay["error_ratio"], 3),
                "passes": (lay["error_ratio"] <= MAX_PROBE_ERROR_RATIO) if last else "",
                "layer_change": round(lay["layer_change"], 4),
            }
        )
    return rows


def _one_thread() -> None:
    torch.set_num_threads(1)  # each worker process: one thread (the device column says so)


def run_key(row: dict) -> tuple[str, str, str]:
    """A run of this benchmark: rule, arch and seed (one row per hidden layer)."""
    return row["rule"], row["arch"], str(row["seed"])


def summary_table(rows: list[dict]) -> str:
    """Per rule and arch, the last hidden layer's error ratio on each seed and how many pass."""
    by: dict[tuple[str, str], list[dict]] = {}
    moved: dict[tuple[str, str], dict[str, list[float]]] = {}
    for r in rows:
        key = (r["rule"], r["arch"])
        moved.setdefault(key, {}).setdefault(r["layer"], []).append(float(r["layer_change"]))
        if str(r["last_hidden"]) == "True":
            by.setdefault(key, []).append(r)
    out = [
        f"| rule | net | error ratio per seed (pass <= {MAX_PROBE_ERROR_RATIO}) | passes | "
        "probe trained / untrained (mean) | layer change per layer (mean) |",
        "|---|---|---|---|---|---|",
    ]
    for (rule, arch), rs in by.items():
        ratios = ", ".join(f"{float(r['error_ratio']):.2f}" for r in rs)
        n_pass = sum(str(r["passes"]) == "True" for r in rs)
        acc = np.mean([float(r["probe"]) for r in rs])
        acc0 = np.mean([float(r["probe_untrained"]) for r in rs])
        change = " / ".join(f"{k} {np.nanmean(v):.3f}" for k, v in moved[(rule, arch)].items())
        out.append(
            f"| {rule} | {arch} | {ratios} | {n_pass}/{len(rs)} | {acc:.3f} / {acc0:.3f} | {change} |"
        )
    return "\n".join(out)


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rules", nargs="+", help="rule ids (default: every rule that learns)")
    ap.add_argument("--archs", nargs="+", default=list(ARCHS), choices=ARCHS)
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--jobs", type=int, default=1, help="processes, one thread each")
    ap.add_argument("--csv", type=Path, default=Path("benchmarks/results/hidden_probe.csv"))
    ap.add_argument(
        "--update",
        action="store_true",
        help="keep the CSV's other rows: replace only the rule / arch / seed runs made now",
    )
    ap.add_argument("--table", type=Path, help="print this CSV's summary table and exit")
    return ap


def main() -> None:
    args = parser().parse_args()
    if args.table is not None:
        print(summary_table(read_rows(args.table, COLUMNS)))
        return
    known = registry.available()
    rules = args.rules or [r for r in known if registry.get(r).learns]
    unknown = sorted(set(rules) - set(known))
    if unknown:
        raise SystemExit(f"unknown rule(s) {unknown}; choose from {known}")
    if args.update:
        read_rows(args.csv, COLUMNS, missing_ok=True)  # a file of other columns: refused now
    jobs = [(r, a, s) for r in rules for a in args.archs for s in args.seeds]
    with ProcessPoolExecutor(max_workers=max(1, args.jobs), initializer=_one_thread) as pool:
        results = list(pool.map(run_one, *zip(*jobs, strict=True)))
    rows = [row for rs in results for row in rs]
    if args.update:
        rows = update_rows(args.csv, rows, COLUMNS, run_key)
    else:
        write_rows(args.csv, rows, COLUMNS)
    print(summary_table(rows))
    print(f"\n{len(rows)} rows -> {args.csv}")


if __name__ == "__main__":
    main()
