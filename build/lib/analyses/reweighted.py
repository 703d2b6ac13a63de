"""Cross-validated reweighted RSA: a non-negative mixture of layer RDMs, fit and tested on different
subjects and stimuli (Khaligh-Razavi & Kriegeskorte 2014; rsatoolbox's ``ModelWeighted`` with
``fit_regress_nn``).

In every fold the layer weights are fit (non-negative least squares) to the mean RDM of the training
subjects on pairs of training stimuli, and the weighted model RDM is compared with each held-out
subject on pairs of held-out stimuli. Single-RDM recordings cross-validate over stimuli only.
Each held-out score comes with the upper noise ceiling of the same subject on the same held-out
stimuli (the subject vs all subjects' pooled RDM on those pairs), so that the score can be
normalised by the ceiling of the data it is tested on rather than by the full-set ceiling.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import nnls

from analyses.rsa import compare, noise_ceiling


def _folds(n: int, k: int, rng: np.random.Generator) -> list[np.ndarray]:
    return [np.sort(f) for f in np.array_split(rng.permutation(n), k)]


def reweighted_cv(
    model_rdms: np.ndarray,
    brain_rdms: np.ndarray,
    comparator: str = "spearman",
    *,
    squared: bool = False,
    pooling: str = "rsatoolbox",
    n_folds_subjects: int = 5,
    n_folds_stimuli: int = 2,
    n_repeats: int = 2,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Held-out score per subject (S,), mean fitted layer weights (L,) and the upper noise
    ceiling per subject on the held-out stimuli (S,; NaN for a single RDM).

    ``model_rdms`` (L, n, n), ``brain_rdms`` (S, n, n) on the same stimuli; ``pooling`` as in
    ``analyses.rsa.noise_ceiling``.
    """
    if model_rdms.shape[1:] != brain_rdms.shape[1:]:
        raise ValueError(
            f"model RDMs {model_rdms.shape[1:]} and brain RDMs {brain_rdms.shape[1:]} differ"
        )
    n_subj, n_stim = brain_rdms.shape[0], brain_rdms.shape[1]
    if n_stim // n_folds_stimuli < 3:
        raise ValueError(f"{n_stim} stimuli are too few for {n_folds_stimuli} stimulus folds")
    rng = np.random.default_rng(seed)
    held = np.zeros(n_subj)
    ceiling = np.zeros(n_subj)
    counts = np.zeros(n_subj)
    weights = []
    for _ in range(n_repeats):
        subj_folds = (
            _folds(n_subj, min(n_folds_subjects, n_subj), rng) if n_subj > 1 else [np.array([0])]
        )
        for test_stim in _folds(n_stim, n_folds_stimuli, rng):
            train_stim = np.setdiff1d(np.arange(n_stim), test_stim)
            ia, ja = np.triu_indices(len(train_stim), 1)
            ib, jb = np.triu_indices(len(test_stim), 1)
            tr_r, tr_c = train_stim[ia], train_stim[ja]
            te_r, te_c = test_stim[ib], test_stim[jb]
            nc = noise_ceiling(
                brain_rdms[:, te_r, te_c], comparator, squared=squared, pooling=pooling
            ).upper_per_subject
            for test_subj in subj_folds:
                train_subj = np.setdiff1d(np.arange(n_subj), test_subj) if n_subj > 1 else test_subj
                x = model_rdms[:, tr_r, tr_c].T  # (train pairs, layers)
                y = brain_rdms[train_subj][:, tr_r, tr_c].mean(axis=0)
                w = nnls(x, y)[0]
                weights.append(w)
                pred = w @ model_rdms[:, te_r, te_c]
                if not np.any(w > 0) or np.ptp(pred) == 0:
                    r = np.zeros(len(test_subj))
                else:
                    r = compare(pred[None], brain_rdms[test_subj][:, te_r, te_c], comparator)[0]
                held[test_subj] += r**2 if squared else r
                ceiling[test_subj] += nc[test_subj] if n_subj > 1 else np.nan
                counts[test_subj] += 1
    return held / counts, np.mean(weights, axis=0), ceiling / counts
