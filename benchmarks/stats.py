"""Dual bootstrap + noise ceilings: ours (analyses.bootstrap) vs rsatoolbox's eval_dual_bootstrap.

Same simulated inputs (default 40 model RDMs, 15 subjects, 92 stimuli); prints timings and whether
the two agree within sampling error (bootstrap means, standard deviations, noise ceilings). BLAS is
pinned to one thread for both. rsatoolbox takes ~1 s per sample, so it runs fewer samples by
default (``--n-boot-rsatoolbox``) and its time is reported per sample.

    python -m benchmarks.stats [--n-models 40 --n-subjects 15 --n-stimuli 92 --n-boot 1000]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from analyses.bootstrap import SCHEMES, dual_bootstrap  # noqa: E402
from analyses.rdm import correlation_rdm  # noqa: E402

RSA_NAMES = {"spearman": "spearman", "pearson": "corr", "corr_cov": "corr_cov", "tau-a": "tau-a"}


def simulate(n_models: int, n_subjects: int, n_stimuli: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    truth = rng.normal(size=(n_stimuli, 50))
    data = np.stack(
        [correlation_rdm(truth + 2 * rng.normal(size=truth.shape)) for _ in range(n_subjects)]
    )
    models = np.stack(
        [
            correlation_rdm(truth * (i / n_models) + rng.normal(size=truth.shape))
            for i in range(n_models)
        ]
    )
    return models, data


def run_rsatoolbox(models, data, method, n_boot):
    import rsatoolbox
    from rsatoolbox.inference import eval_dual_bootstrap

    fixed = [
        rsatoolbox.model.ModelFixed(f"m{i}", rsatoolbox.rdm.RDMs(m[None]))
        for i, m in enumerate(models)
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = eval_dual_bootstrap(fixed, rsatoolbox.rdm.RDMs(data), method=method, N=n_boot)
    ev = res.evaluations[:, :, 0, 0, :]  # (n_boot, models, scheme)
    ok = ~np.isnan(ev[:, 0, 0])
    evals = np.moveaxis(ev[ok], -1, 0)  # (scheme, n_boot, models)
    nc = np.moveaxis(res.noise_ceiling[:, ok, 0, :], -1, 0)  # (scheme, lower/upper, n_boot)
    return evals, nc.transpose(0, 2, 1), res.model_var


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n-models", type=int, default=40)
    ap.add_argument("--n-subjects", type=int, default=15)
    ap.add_argument("--n-stimuli", type=int, default=92)
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--n-boot-rsatoolbox", type=int, default=100)
    ap.add_argument("--comparator", default="spearman", choices=sorted(RSA_NAMES))
    args = ap.parse_args()
    models, data = simulate(args.n_models, args.n_subjects, args.n_stimuli)

    t0 = time.perf_counter()
    ours = dual_bootstrap(models, data, args.comparator, args.n_boot, seed=0)
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref_evals, ref_nc, ref_var = run_rsatoolbox(
        models, data, RSA_NAMES[args.comparator], args.n_boot_rsatoolbox
    )
    t_ref = time.perf_counter() - t0

    per_ours, per_ref = t_ours / args.n_boot, t_ref / args.n_boot_rsatoolbox
    print(
        f"\n{args.n_models} models, {args.n_subjects} subjects, {args.n_stimuli} stimuli, "
        f"comparator {args.comparator}\n"
    )
    timing = pd.DataFrame(
        [
            {
                "implementation": "bioalign",
                "n_boot": args.n_boot,
                "seconds": t_ours,
                "ms_per_sample": 1e3 * per_ours,
                "speedup": per_ref / per_ours,
            },
            {
                "implementation": "rsatoolbox",
                "n_boot": args.n_boot_rsatoolbox,
                "seconds": t_ref,
                "ms_per_sample": 1e3 * per_ref,
                "speedup": 1.0,
            },
        ]
    )
    print(timing.to_string(index=False, float_format="{:.2f}".format))

    rows = []
    for i, scheme in enumerate(SCHEMES):
        a, b = ours.evaluations[i], ref_evals[i]  # (n_boot, models)
        se = np.sqrt(a.var(axis=0) / len(a) + b.var(axis=0) / len(b))
        z = np.abs(a.mean(axis=0) - b.mean(axis=0)) / np.where(se > 0, se, np.inf)
        sd_ratio = a.std(axis=0, ddof=1) / b.std(axis=0, ddof=1)
        nc_a, nc_b = np.nanmean(ours.noise_ceiling[i], axis=0), np.nanmean(ref_nc[i], axis=0)
        rows.append(
            {
                "scheme": scheme,
                "max |z| of mean diff": z.max(),
                "SD ratio median": np.median(sd_ratio),
                "SD ratio range": f"{sd_ratio.min():.2f}-{sd_ratio.max():.2f}",
                "ceiling low ours/rsa": f"{nc_a[0]:.4f}/{nc_b[0]:.4f}",
                "ceiling high ours/rsa": f"{nc_a[1]:.4f}/{nc_b[1]:.4f}",
            }
        )
    print(
        "\nAgreement (|z| < ~3.5 over 40 models and SD ratios near 1 = same within sampling error)"
    )
    print(pd.DataFrame(rows).to_string(index=False, float_format="{:.3f}".format))
    var_ratio = ours.variance() / ref_var
    print(
        f"\nDual-bootstrap variance ours / rsatoolbox: median {np.median(var_ratio):.2f} "
        f"(range {var_ratio.min():.2f}-{var_ratio.max():.2f})"
    )


if __name__ == "__main__":
    main()
