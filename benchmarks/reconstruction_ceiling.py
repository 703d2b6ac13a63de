"""Can learning to reconstruct make the CNN's last hidden layer more decodable than random, and when?

    python -m benchmarks.reconstruction_ceiling                     # budgets 2000x1, 9000x1, 9000x3
    python -m benchmarks.reconstruction_ceiling --budgets 2000x1 --seeds 0 --methods autoencoder

ngc's top latent settles to reconstruct conv3 through its top generator (a linear map whose columns
are kept to norm <= 1), and its fc1 learns to predict the settled latent. Exact reconstruction
learning is the ceiling of that objective: here fc1 and ngc's own top generator are trained end to end
by Adam (``--lr``) to reconstruct the untrained net's conv3 output (the convs frozen), the generator's
columns bounded after each step as ngc bounds them (method ``autoencoder``). Method ``ngc`` trains the
rule as configured (its CNN setting) on the same images. Both are scored as
``benchmarks/hidden_probe.py`` scores a rule (probe errors on fc1, trained / untrained, same seed;
passes at <= 0.85), at each budget (training images x epochs, batch 32, on the head of the probe's
shuffled MNIST subset). Appends one row per method, budget and seed to
``benchmarks/results/reconstruction_ceiling.csv`` with the device, date and commit.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from pathlib import Path

import torch

from benchmarks import hidden_probe as hp
from benchmarks.accuracy import device_name
from benchmarks.csv_rows import read_rows, update_rows
from benchmarks.provenance import commit
from models.rules.discrepancy._pc_local import forward_record, sq_loss
from models.training import train

OUT = Path("benchmarks/results/reconstruction_ceiling.csv")
METHODS = ("autoencoder", "ngc")
BATCH = 32
COLUMNS = [
    "method", "seed", "n_train", "epochs", "lr", "probe", "probe_untrained", "error_ratio",
    "conv3_error_ratio", "passes", "time_s", "device", "date", "commit",
]  # fmt: skip


def parse_budget(text: str) -> tuple[int, int]:
    """``'9000x3'`` -> (9000 images, 3 epochs)."""
    try:
        n, epochs = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"budget {text!r} is not IMAGESxEPOCHS: 9000x3") from None
    if not 0 < n <= hp.N_TRAIN - hp.N_PROBE_FIT or epochs < 1:
        raise argparse.ArgumentTypeError(
            f"budget {text!r}: images must be 1..{hp.N_TRAIN - hp.N_PROBE_FIT} (the probe fits on "
            "the rest of the subset), epochs >= 1"
        )
    return n, epochs


def train_autoencoder(rule, x: torch.Tensor, epochs: int, lr: float) -> None:
    """fc1 and the rule's top generator, trained by backprop to reconstruct the frozen conv3 output."""
    net, top = rule.net, rule.generators[-1]
    opt = torch.optim.Adam([*net.blocks[-1].parameters(), *top.parameters()], lr=lr)
    for _ in range(epochs):
        for i in range(0, len(x), BATCH):
            h = forward_record(net, x[i : i + BATCH])[0][-2]  # (n, c, h, w): conv3's output
            loss = sq_loss(top(net.blocks[-1](h)), h)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            rule.constrain_generators(rule.generator_max_norm)


def run(method: str, seed: int, n: int, epochs: int, lr: float, d) -> dict:
    """One method at one budget and seed: its probe row."""
    t0 = time.time()
    rule, untrained = hp.build("ngc", "cnn", seed=seed), hp.build("ngc", "cnn", seed=seed)
    x, y = d["x_train"][:n], d["y_train"][:n]
    if method == "autoencoder":
        train_autoencoder(rule, x, epochs, lr)
    else:
        train(rule, x, y, d["x_test"], d["y_test"], epochs=epochs, batch_size=BATCH, log_every=0)
    by_layer = {r["layer"]: r for r in hp.probe_layers(rule, untrained, d)}
    top = by_layer["fc1"]
    return {
        "method": method,
        "seed": seed,
        "n_train": n,
        "epochs": epochs,
        "lr": lr if method == "autoencoder" else "",
        "probe": top["probe"],
        "probe_untrained": top["probe_untrained"],
        "error_ratio": round(top["error_ratio"], 3),
        "conv3_error_ratio": round(by_layer["conv3"]["error_ratio"], 3),
        "passes": top["error_ratio"] <= hp.MAX_PROBE_ERROR_RATIO,
        "time_s": round(time.time() - t0, 1),
        "device": device_name("cpu", 1),
        "date": datetime.now(UTC).date().isoformat(),
        "commit": commit(),
    }


def run_key(row: dict) -> tuple[str, ...]:
    return tuple(str(row[k]) for k in ("method", "seed", "n_train", "epochs", "lr"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    ap.add_argument(
        "--budgets", nargs="+", type=parse_budget, default=[(2000, 1), (9000, 1), (9000, 3)]
    )
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--lr", type=float, default=1e-3, help="the autoencoder's Adam learning rate")
    ap.add_argument("--csv", type=Path, default=OUT)
    args = ap.parse_args()
    read_rows(args.csv, COLUMNS, missing_ok=True)  # other columns: refused before any training
    torch.set_num_threads(1)
    d = hp.shuffled_subset()
    rows = []
    for method in args.methods:
        for n, epochs in args.budgets:
            for seed in args.seeds:
                rows.append(run(method, seed, n, epochs, args.lr, d))
                r = rows[-1]
                print(
                    f"{method} {n}x{epochs} seed {seed}: fc1 {r['probe']:.3f} / "
                    f"{r['probe_untrained']:.3f} = {r['error_ratio']:.2f} "
                    f"(conv3 {r['conv3_error_ratio']:.2f}) [{r['time_s']:.0f} s]",
                    flush=True,
                )
    update_rows(args.csv, rows, COLUMNS, run_key)
    print(f"{len(rows)} rows -> {args.csv}")


if __name__ == "__main__":
    main()
