"""Calibration of the RSA intervals and rule-vs-rule tests on simulated recordings.

Two "rules" (each a network with a signal layer and a noise layer) are scored against simulated
subjects with ``analyses.scoring.score_roi`` and compared with ``analyses.ranking.pair_test`` (what
``rank_rules`` runs) in three nulls where, by construction, the rules are equally good in the
population:

- ``subject``: the stimuli are fixed; subjects differ in which rule's features they weight
  (w ~ Beta(2, 2) on rule A's block, 1 - w on B's). B's RDMs are A's with the stimuli relabelled
  by a fixed involution, so a subject with weight w prefers A exactly as one with 1 - w prefers B.
- ``stimulus``: every recording draws new stimuli; the rules see different feature blocks of them,
  subjects weight both equally, so which rule wins depends on the stimulus sample.
- ``dual``: new stimuli and subject weights ~ Beta(2, 2): both sources at once.

For every cell (null x number of subjects) and resampling scheme it reports the coverage of the
nominal 95 % intervals of the signal layer's score and of the best_cv score (the target is the
mean of the estimates over the cell's recordings, the two rules pooled: the population value up to
an error far below the interval widths), and the false-positive rate of the paired best_cv test
at alpha = 0.05. ``percentile_subjects`` is the former method (percentile interval of a subject
bootstrap) for reference. Writes a CSV under ``benchmarks/results/`` (with device, date and
commit) and prints the table.

    python -m benchmarks.calibration [--n-sims 500 --subjects 4 8 15 --n-stimuli 40 --n-boot 200
                                      --jobs 2]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import concurrent.futures  # noqa: E402
import datetime  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from analyses.intervals import SCHEMES, scheme_variance, t_interval  # noqa: E402
from analyses.ranking import pair_test  # noqa: E402
from analyses.rdm import correlation_rdm  # noqa: E402
from analyses.scoring import score_roi  # noqa: E402
from benchmarks import provenance  # noqa: E402

NULLS = ("subject", "stimulus", "dual")
ALPHA = 0.05
N_FEATURES = 20


def _involution(n: int, rng: np.random.Generator) -> np.ndarray:
    """A stimulus relabelling that is its own inverse (disjoint swaps)."""
    perm = rng.permutation(n)
    pi = np.arange(n)
    pi[perm[0::2][: n // 2]], pi[perm[1::2][: n // 2]] = perm[1::2][: n // 2], perm[0::2][: n // 2]
    return pi


def _stimuli(n: int, rng: np.random.Generator, tau: float) -> dict:
    u1, u2 = rng.normal(size=(2, n, N_FEATURES))
    return {
        "u1": u1,
        "u2": u2,
        "eta_a": tau * rng.normal(size=(n, N_FEATURES)),
        "eta_b": tau * rng.normal(size=(n, N_FEATURES)),
        "noise_a": rng.normal(size=(n, N_FEATURES)),
        "noise_b": rng.normal(size=(n, N_FEATURES)),
        "pi": _involution(n, rng),
    }


def simulate(
    null: str,
    n_subjects: int,
    n_stimuli: int,
    rng: np.random.Generator,
    fixed: dict | None = None,
    sigma: float = 0.7,
    tau: float = 1.0,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """({rule: (2 layers, n, n)}, subject RDMs (s, n, n)) of one recording under ``null``."""
    if null not in NULLS:
        raise ValueError(f"null={null!r} is unknown; choose one of {NULLS}")
    st = fixed if null == "subject" else _stimuli(n_stimuli, rng, tau)
    if null == "stimulus":
        w = np.full(n_subjects, 0.5)
    else:
        w = rng.beta(2.0, 2.0, size=n_subjects)
    if null == "subject":
        pi = st["pi"]
        signal = st["u1"] + st["eta_a"]
        a = np.stack([correlation_rdm(signal), correlation_rdm(st["noise_a"])])
        models = {"A": a, "B": a[:, pi][:, :, pi]}
        blocks = (st["u1"], st["u1"][pi])
    else:
        models = {
            "A": np.stack(
                [correlation_rdm(st["u1"] + st["eta_a"]), correlation_rdm(st["noise_a"])]
            ),
            "B": np.stack(
                [correlation_rdm(st["u2"] + st["eta_b"]), correlation_rdm(st["noise_b"])]
            ),
        }
        blocks = (st["u1"], st["u2"])
    subjects = np.stack(
        [
            correlation_rdm(
                np.hstack([np.sqrt(ws) * blocks[0], np.sqrt(1 - ws) * blocks[1]])
                + sigma * rng.normal(size=(n_stimuli, 2 * N_FEATURES))
            )
            for ws in w
        ]
    )
    return models, subjects


def run_cell(null: str, n_subjects: int, n_stimuli: int, n_sims: int, n_boot: int, seed: int):
    """Per-recording estimates, intervals and p-values of one cell (a DataFrame per scheme)."""
    rng = np.random.default_rng([seed, NULLS.index(null), n_subjects])
    fixed = _stimuli(n_stimuli, rng, 1.0)
    recs = []
    for sim in range(n_sims):
        models, brain = simulate(null, n_subjects, n_stimuli, rng, fixed)
        res, est = {}, {}
        for rule, layers in models.items():
            res[rule] = {}
            rows, _ = score_roi(
                layers,
                brain,
                ["signal", "noise"],
                method="spearman",
                n_boot=n_boot,
                seed=sim,
                ci="both",
                resamples=res[rule],
                ceiling=False,
            )
            est[rule] = {r["layer"]: r["score"] for r in rows}
            est[rule]["ci"] = {r["layer"]: (r["ci_low"], r["ci_high"]) for r in rows}
        recs.append((est, res))
    return recs


def summarise(recs, null: str, n_subjects: int, n_stimuli: int) -> list[dict]:
    """Coverage and false-positive rates per scheme for one cell's recordings."""
    layer = np.array([[e[r]["signal"] for r in ("A", "B")] for e, _ in recs])  # (sims, 2)
    best = np.array([[e[r]["best_cv"] for r in ("A", "B")] for e, _ in recs])
    targets = {"layer": layer.mean(), "best_cv": best.mean()}
    out = []
    for scheme in (*SCHEMES, "percentile_subjects"):
        cover = {"layer": [], "best_cv": []}
        fp = []
        for i, (est, res) in enumerate(recs):
            for j, rule in enumerate(("A", "B")):
                for what, values, samples in (
                    ("layer", layer, res[rule]["layers"][:, :, 0]),
                    ("best_cv", best, res[rule]["best"]),
                ):
                    if scheme == "both":  # the intervals score_roi reports (ci="both")
                        lo, hi = est[rule]["ci"]["signal" if what == "layer" else "best_cv"]
                    elif scheme == "percentile_subjects":
                        lo, hi = np.nanpercentile(samples[1], [2.5, 97.5])
                    else:
                        var, df = scheme_variance(samples, scheme, n_subjects, n_stimuli)
                        lo, hi = t_interval(values[i, j], var, df, ALPHA)
                    cover[what].append(lo <= targets[what] <= hi)
            diff = best[i, 0] - best[i, 1]
            d_samples = res["A"]["best"] - res["B"]["best"]
            if scheme == "percentile_subjects":
                lo, hi = np.nanpercentile(d_samples[1], [2.5, 97.5])
                fp.append(not lo <= 0 <= hi)
            else:
                fp.append(pair_test(diff, d_samples, scheme, n_subjects, n_stimuli)[3] <= ALPHA)
        n = len(recs)
        out.append(
            {
                "null": null,
                "n_subjects": n_subjects,
                "n_stimuli": n_stimuli,
                "scheme": scheme,
                "n_recordings": n,
                "coverage_layer": float(np.mean(cover["layer"])),
                "coverage_best_cv": float(np.mean(cover["best_cv"])),
                "false_positive_rate": float(np.mean(fp)),
                "fpr_se": float(np.sqrt(np.mean(fp) * (1 - np.mean(fp)) / n)),
            }
        )
    return out


def _cell(null: str, n_subj: int, args: argparse.Namespace) -> list[dict]:
    recs = run_cell(null, n_subj, args.n_stimuli, args.n_sims, args.n_boot, args.seed)
    return summarise(recs, null, n_subj, args.n_stimuli)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n-sims", type=int, default=500, help="simulated recordings per cell")
    ap.add_argument("--subjects", type=int, nargs="+", default=[4, 8, 15])
    ap.add_argument("--n-stimuli", type=int, default=40)
    ap.add_argument("--n-boot", type=int, default=200)
    ap.add_argument("--nulls", nargs="+", default=list(NULLS), choices=NULLS)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", help="CSV path (default benchmarks/results/calibration-<date>.csv)")
    ap.add_argument("--jobs", type=int, default=1, help="cells computed in parallel processes")
    args = ap.parse_args()
    if args.n_sims < 20:
        ap.error("--n-sims must be at least 20")
    now = datetime.datetime.now(datetime.UTC)
    commit = provenance.commit()
    out = Path(args.out or f"benchmarks/results/calibration-{now:%Y%m%dT%H%M}.csv")
    rows = []
    t0 = time.perf_counter()
    cells = [(null, n_subj) for null in args.nulls for n_subj in args.subjects]
    with concurrent.futures.ProcessPoolExecutor(max(1, args.jobs)) as pool:
        nulls, subjects = [c[0] for c in cells], [c[1] for c in cells]
        for (null, n_subj), cell_rows in zip(
            cells, pool.map(_cell, nulls, subjects, [args] * len(cells)), strict=True
        ):
            rows += cell_rows
            print(f"{null:8s} {n_subj:2d} subjects: {time.perf_counter() - t0:.0f} s", flush=True)
    table = pd.DataFrame(rows)
    table["n_boot"] = args.n_boot
    table["device"] = (
        f"{platform.node()} {platform.processor() or platform.machine()} "
        f"({args.jobs} processes of 1 thread)"
    )
    table["date"] = now.isoformat(timespec="seconds")
    table["commit"] = commit
    table["seconds"] = round(time.perf_counter() - t0, 1)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False, float_format="%.4f")
    cols = ["null", "n_subjects", "scheme", "coverage_layer", "coverage_best_cv"]
    print(
        table[cols + ["false_positive_rate"]].to_string(index=False, float_format="{:.3f}".format)
    )
    print(f"\nnominal coverage 0.95, alpha {ALPHA}; {args.n_sims} recordings per cell; -> {out}")


if __name__ == "__main__":
    main()
