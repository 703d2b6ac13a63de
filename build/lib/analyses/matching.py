"""Which network state a ranking compares: matched training examples or matched task accuracy.

``examples``: every rule at the final snapshot of the matched budget (all rules of one network saw
the same images, as many times). ``accuracy``: every rule at its first snapshot whose test accuracy
reaches the configured threshold of its training set (the nearest snapshot at or above it; no
interpolation, since a brain score exists only for a network that exists). A rule whose run never
reaches it is listed as not reached, not ranked. Controls (untrained net, pixels, ...) have one
state, which stands in both rankings.
"""

from __future__ import annotations

import numpy as np

MATCHES = ("examples", "accuracy")


def matched_snapshot(accuracies, threshold: float) -> int | None:
    """Index of the first snapshot with accuracy >= ``threshold`` (None: never reached)."""
    if not 0 < threshold <= 1:
        raise ValueError(f"match_accuracy={threshold} must be in (0, 1]")
    acc = np.asarray(accuracies, dtype=float)
    hit = np.flatnonzero(np.nan_to_num(acc, nan=-np.inf) >= threshold)
    return int(hit[0]) if len(hit) else None


def snapshot_matches(
    accuracies, *, is_control: bool, threshold: float | None
) -> dict[int, list[str]]:
    """Snapshot index -> the matches it stands for (``MATCHES``), for one run's snapshots.

    The last snapshot is the matched-examples state; ``threshold`` None skips the accuracy match.
    """
    last = len(accuracies) - 1
    if last < 0:
        raise ValueError("a run without snapshots cannot be matched")
    out: dict[int, list[str]] = {last: ["examples"]}
    if threshold is None:
        return out
    idx = last if is_control else matched_snapshot(accuracies, threshold)
    if idx is not None:
        out.setdefault(idx, []).append("accuracy")
    return out
