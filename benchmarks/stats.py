"""Dual bootstrap with per-sample noise ceilings: ours (analyses.bootstrap) vs rsatoolbox.

Same simulated inputs (default 40 model RDMs, 15 subjects, 92 stimuli), BLAS pinned to one thread.
Prints (1) the time per bootstrap sample, ceilings included, of ``dual_bootstrap`` (the three
schemes rsatoolbox computes, and with the half splits that correct the stimulus variance, which
rsatoolbox does not have) and of rsatoolbox's ``eval_dual_bootstrap`` (which takes ~1 s per
sample, so it runs fewer samples, ``--n-boot-rsatoolbox``), and (2) the largest difference, per sample, between our evaluations and
ceilings (all three schemes) and rsatoolbox's on the same resample indices (``--n-check``
samples: ``subsample`` / ``subsample_pattern``, ``compare`` and ``boot_noise_ceiling``).

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
from analyses.rdm import correlation_rdm, upper_tri  # noqa: E402

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
        eval_dual_bootstrap(fixed, rsatoolbox.rdm.RDMs(data), method=method, N=n_boot)


def rsatoolbox_on_indices(models, data, method, subj, stim):
    """rsatoolbox's evaluations (3, m) and ceilings (3, 2) of one resample, scheme order of
    ``SCHEMES`` (both, subjects, stimuli)."""
    import rsatoolbox
    from rsatoolbox.inference import boot_noise_ceiling

    rdms = rsatoolbox.rdm.RDMs(upper_tri(data))
    mods = rsatoolbox.rdm.RDMs(upper_tri(models))
    by_subj = rdms.subsample("index", subj)
    views = {
        "both": (by_subj.subsample_pattern("index", stim), mods.subsample_pattern("index", stim)),
        "subjects": (by_subj, mods),
        "stimuli": (rdms.subsample_pattern("index", stim), mods.subsample_pattern("index", stim)),
    }
    evals, ceils = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for scheme in SCHEMES:
            d, m = views[scheme]
            evals.append(rsatoolbox.rdm.compare(m, d, method=method).mean(axis=1))
            ceils.append(boot_noise_ceiling(d, method=method, rdm_descriptor="index"))
    return np.array(evals), np.array(ceils, dtype=float)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n-models", type=int, default=40)
    ap.add_argument("--n-subjects", type=int, default=15)
    ap.add_argument("--n-stimuli", type=int, default=92)
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--n-boot-rsatoolbox", type=int, default=20)
    ap.add_argument("--n-check", type=int, default=20, help="samples compared number by number")
    ap.add_argument("--comparator", default="spearman", choices=sorted(RSA_NAMES))
    args = ap.parse_args()
    models, data = simulate(args.n_models, args.n_subjects, args.n_stimuli)
    name = RSA_NAMES[args.comparator]

    t0 = time.perf_counter()
    ours = dual_bootstrap(models, data, args.comparator, args.n_boot, seed=0, pairs=False)
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    dual_bootstrap(models, data, args.comparator, args.n_boot, seed=0)
    t_pairs = time.perf_counter() - t0
    t0 = time.perf_counter()
    run_rsatoolbox(models, data, name, args.n_boot_rsatoolbox)
    t_ref = time.perf_counter() - t0

    per_ours, per_ref = t_ours / args.n_boot, t_ref / args.n_boot_rsatoolbox
    per_pairs = t_pairs / args.n_boot
    print(
        f"\n{args.n_models} models, {args.n_subjects} subjects, {args.n_stimuli} stimuli, "
        f"comparator {args.comparator}; every sample: 3 schemes x (evaluations + noise ceiling)"
        "\n(+ half splits: the same on the pairs within two random halves of the stimuli)\n"
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
                "implementation": "bioalign + half splits",
                "n_boot": args.n_boot,
                "seconds": t_pairs,
                "ms_per_sample": 1e3 * per_pairs,
                "speedup": per_ref / per_pairs,
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

    n_check = min(args.n_check, args.n_boot)
    d_eval = np.zeros((n_check, 3))
    d_ceil = np.zeros((n_check, 3))
    for b in range(n_check):
        ev, nc = rsatoolbox_on_indices(models, data, name, ours.subj_idx[b], ours.stim_idx[b])
        d_eval[b] = np.abs(ours.evaluations[:3, b] - ev).max(axis=1)
        d_ceil[b] = np.abs(ours.noise_ceiling[:3, b] - nc).max(axis=1)
    print(f"\nSame resample indices, {n_check} samples: max |ours - rsatoolbox| per scheme")
    print(
        pd.DataFrame(
            {
                "scheme": SCHEMES,
                "evaluations": d_eval.max(axis=0),
                "noise ceilings": d_ceil.max(axis=0),
            }
        ).to_string(index=False, float_format="{:.2e}".format)
    )


if __name__ == "__main__":
    main()
