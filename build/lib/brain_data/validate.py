"""Checks on RDM arrays: stimulus count, finite values, symmetry, zero diagonal, not constant."""

from __future__ import annotations

import logging

import numpy as np

from brain_data.errors import RecordingError

SYMMETRY_TOL = 1e-5
MIN_STIMULI = 3  # fewer stimuli give one distance or none: no geometry to compare

log = logging.getLogger("bioalign.brain_data")


def validate_rdms(
    rdms: np.ndarray, n_stimuli: int, where: str, names: list[str] | None = None
) -> np.ndarray:
    """Check (n_subj, n, n) RDMs: stimulus count, finite, symmetric, zero diagonal, not constant.

    A constant RDM (every distance equal) has no geometry: its correlation with any model is
    undefined, so it is refused rather than scored 0. Negative distances are allowed (e.g.
    cross-validated distances) but logged as a warning. ``names`` labels each RDM in messages
    (default ``subject k``).
    """
    label = (lambda k: names[k]) if names is not None else (lambda k: f"subject {k + 1}")
    if rdms.ndim != 3 or rdms.shape[1] != rdms.shape[2]:
        raise RecordingError(
            f"{where}: RDMs must be (subjects, stimuli, stimuli), got {rdms.shape}"
        )
    if rdms.shape[0] == 0:
        raise RecordingError(f"{where}: holds no RDM (0 subjects)")
    if rdms.shape[1] < MIN_STIMULI:
        raise RecordingError(
            f"{where}: RDMs over {rdms.shape[1]} stimuli; at least {MIN_STIMULI} are needed"
        )
    if rdms.shape[1] != n_stimuli:
        raise RecordingError(
            f"{where}: RDMs cover {rdms.shape[1]} stimuli, the manifest's stimulus "
            f"order lists {n_stimuli}"
        )
    bad = ~np.isfinite(rdms)
    if bad.any():
        s, i, j = np.argwhere(bad)[0]
        raise RecordingError(
            f"{where}: {int(bad.sum())} non-finite values (NaN/inf), first at "
            f"{label(s)}, stimuli ({i + 1}, {j + 1})"
        )
    asym = np.abs(rdms - rdms.transpose(0, 2, 1)).max(axis=(1, 2))
    scale = np.abs(rdms).max(axis=(1, 2)) + 1e-12
    if (asym > SYMMETRY_TOL * scale).any():
        s = int(np.argmax(asym / scale))
        raise RecordingError(
            f"{where}: RDM of {label(s)} is not symmetric (max |D - D^T| = {asym[s]:.3g})"
        )
    diag = np.abs(np.diagonal(rdms, axis1=1, axis2=2)).max(axis=1)
    if (diag > SYMMETRY_TOL * scale).any():
        s = int(np.argmax(diag / scale))
        raise RecordingError(f"{where}: RDM diagonal of {label(s)} is not zero (max {diag[s]:.3g})")
    iu = np.triu_indices(rdms.shape[1], 1)
    upper = rdms[:, iu[0], iu[1]]  # (n_rdms, n_pairs)
    spread = upper.max(axis=1) - upper.min(axis=1)
    flat = spread <= SYMMETRY_TOL * np.abs(upper).max(axis=1)  # relative: tiny units are fine
    if flat.any():
        s = int(np.argmax(flat))
        raise RecordingError(
            f"{where}: RDM of {label(s)} is constant (all {upper.shape[1]} distances equal "
            f"{upper[s, 0]:.6g}): it has no geometry to compare; "
            f"{int(flat.sum())} of {len(flat)} RDMs are constant"
        )
    neg = upper < 0
    if neg.any():
        s = int(np.argmax(neg.any(axis=1)))
        log.warning(
            "%s: %d negative distances (first in %s, min %.3g); fine for cross-validated "
            "distances, suspicious otherwise",
            where,
            int(neg.sum()),
            label(s),
            float(upper.min()),
        )
    return rdms
