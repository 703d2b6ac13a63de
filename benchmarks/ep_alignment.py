"""How well eqprop's update estimates the gradient it stands for, along training (CNN, CIFAR-10).

    python -m benchmarks.ep_alignment                      # both ReLU state functions, grid setting
    python -m benchmarks.ep_alignment --steps 0 300 --batches 8 --relu-state sigmoid

The rule trains at its grid setting (``config/rules/eqprop.yaml``, CNN, CIFAR-10, the default grid's
CNN) on 4 900 training images; at each checkpoint, on ``--batches`` held-out minibatches, the EP
estimate (``ep_gradient``, fixed nudge sign) is compared layer by layer with the gradient of the loss
at the free equilibrium, by backprop through ``--reference-steps`` steps of the same dynamics (the
states settle to a mean change below 1e-7). Prints mean and minimum cosine per layer and appends them
to ``benchmarks/results/ep_alignment.csv`` with the device, date and commit.
"""

from __future__ import annotations

import argparse
import csv
from datetime import UTC, datetime
from pathlib import Path

import torch
import torch.nn.functional as F
import yaml

from benchmarks.accuracy import device_name
from benchmarks.provenance import commit
from brain_data.trainsets import as_tensors, load_trainset
from models.rule_config import load_rule_config, resolve_hparams
from models.rules.energy import _ep_energy as ep
from models.rules.energy.eqprop import RELU_STATES
from models.training import build_rule

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "results" / "ep_alignment.csv"
N_TRAIN, BATCH = 4900, 16


def equilibrium_gradient(rule, x: torch.Tensor, y: torch.Tensor, steps: int) -> list[torch.Tensor]:
    """d loss / d params at the free phase after ``steps`` relaxation steps, by backprop through them."""
    net = rule.net
    s = ep.feedforward_states(net, x, rule.state_bound, rule.smooth)
    for _ in range(steps):
        drives = torch.autograd.grad(ep.primitive(net, x, s, rule.gains), s, create_graph=True)
        s = [
            ep.rho(b.act, d, rule.state_bound, rule.smooth)
            for b, d in zip(net.blocks, drives, strict=True)
        ]
    loss = F.cross_entropy(net.readout(ep.readout_input(s[-1])), y)
    return list(torch.autograd.grad(loss, list(net.parameters())))


def alignment(
    relu_state: str,
    checkpoints: list[int],
    n_batches: int,
    ref_steps: int,
    overrides: dict | None = None,
) -> list[dict]:
    """Rows (checkpoint, layer, mean / min cosine over the batches) for one state function
    (``overrides``: hyper-parameters set on top of the grid's CNN setting)."""
    if not 1 <= n_batches <= (5000 - N_TRAIN) // BATCH:
        raise SystemExit(
            f"--batches {n_batches}: 1 to {(5000 - N_TRAIN) // BATCH} held-out batches"
        )
    data = as_tensors(load_trainset("cifar10"), "cifar10", n_train=5000, n_test=100, seed=0)
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    hp = {**resolve_hparams(load_rule_config("eqprop"), "cnn", "cifar10"), **(overrides or {}),
          "relu_state": relu_state}  # fmt: skip
    rule = build_rule("eqprop", "cnn", (3, 32, 32), 10, arch_params=config["arch_params"]["cnn"],
                      hparams=hp, seed=0)  # fmt: skip
    params = [n for n, _ in rule.net.named_parameters()]
    weights = [i for i, n in enumerate(params) if n.endswith("weight")]
    names = [params[i].removesuffix(".weight") for i in weights]
    gen, done, rows = torch.Generator().manual_seed(0), 0, []
    held = [slice(N_TRAIN + BATCH * b, N_TRAIN + BATCH * (b + 1)) for b in range(n_batches)]
    for upto in checkpoints:
        for _ in range(upto - done):
            idx = torch.randint(0, N_TRAIN, (BATCH,), generator=gen)
            rule.train_step(data["x_train"][idx], data["y_train"][idx])
        done = max(done, upto)
        sign = rule.random_sign
        rule.random_sign = False  # the estimate with +beta first (symmetric: same either way)
        cos = []
        for sl in held:
            x, y = data["x_train"][sl], data["y_train"][sl]
            ref = equilibrium_gradient(rule, x, y, ref_steps)
            est = rule.ep_gradient(x, y)[0]
            cos.append(
                [float(F.cosine_similarity(est[i].flatten(), ref[i].flatten(), 0)) for i in weights]
            )
        rule.random_sign = sign
        cos_t = torch.tensor(cos)  # (batches, layers)
        for j, name in enumerate(names):
            rows.append({"relu_state": relu_state, "examples_seen": done * BATCH, "steps": done,
                         "layer": name, "mean_cosine": round(float(cos_t[:, j].mean()), 3),
                         "min_cosine": round(float(cos_t[:, j].min()), 3), "n_batches": n_batches,
                         "beta": rule.beta, "t_free": rule.t_free, "t_nudge": rule.t_nudge,
                         "reference_steps": ref_steps})  # fmt: skip
        print(relu_state, done, [r["mean_cosine"] for r in rows[-len(names) :]], flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--relu-state", nargs="+", choices=RELU_STATES, default=list(RELU_STATES))
    ap.add_argument("--steps", nargs="+", type=int, default=[0, 150, 300, 600])
    ap.add_argument("--batches", type=int, default=4)
    ap.add_argument("--reference-steps", type=int, default=300)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--csv", type=Path, default=OUT)
    ap.add_argument(
        "--set", nargs="*", default=[], help="hyper-parameter overrides key=value (e.g. beta=0.5)"
    )
    args = ap.parse_args()
    overrides = {k: yaml.safe_load(v) for k, v in (kv.split("=", 1) for kv in args.set)}
    torch.set_num_threads(args.threads)
    stamp = {"device": device_name("cpu", args.threads), "date": datetime.now(UTC).strftime("%Y-%m-%d"),
             "commit": commit()}  # fmt: skip
    rows = [{**r, **stamp} for st in args.relu_state
            for r in alignment(st, sorted(args.steps), args.batches, args.reference_steps,
                               overrides)]  # fmt: skip
    new = not args.csv.is_file()
    with args.csv.open("a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        if new:
            writer.writeheader()
        writer.writerows(rows)
    print(
        f"\n| relu_state | examples seen | {' | '.join(dict.fromkeys(r['layer'] for r in rows))} |"
    )
    for st in args.relu_state:
        for steps in sorted(set(args.steps)):
            cells = [f"{r['mean_cosine']:.2f} (min {r['min_cosine']:.2f})" for r in rows
                     if r["relu_state"] == st and r["steps"] == steps]  # fmt: skip
            print(f"| {st} | {steps * BATCH} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
