"""A table of model RDMs: one row per (model, arch, training set, seed, snapshot, layer).

Learning rules along training and control models share this one format, so the comparison step
scores them all the same way. RDMs are kept as condensed upper-triangle vectors (float32) over the
whole stimulus set; :meth:`ModelTable.squares` turns a network's layers into square RDMs in any
stimulus order (a recording may use a subset, in its own order).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analyses.rdm import upper_tri

#: Metadata columns of every row, in order.
COLUMNS = (
    "rule",
    "arch",
    "trainset",
    "seed",
    "snapshot",
    "examples_seen",
    "test_accuracy",
    "final",
    "kind",
    "layer",
)
#: The columns that identify one network state (its rows are its layers).
NETWORK = ["rule", "arch", "trainset", "seed", "snapshot"]


@dataclass
class ModelTable:
    """Model RDMs (``vectors``: rows x pairs) with one metadata row each (``meta``)."""

    n_stimuli: int
    meta: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(COLUMNS)))
    vectors: list[np.ndarray] = field(default_factory=list)

    @classmethod
    def empty(cls, n_stimuli: int) -> ModelTable:
        return cls(int(n_stimuli))

    def add(self, rdms: dict[str, np.ndarray], **meta) -> None:
        """Append one network state: ``rdms`` layer -> (n, n) RDM; ``meta``: the COLUMNS but layer."""
        missing = set(COLUMNS) - {"layer"} - set(meta)
        if missing:
            raise ValueError(f"model table rows need {sorted(missing)}")
        rows = []
        for layer, rdm in rdms.items():
            if rdm.shape != (self.n_stimuli, self.n_stimuli):
                raise ValueError(
                    f"{meta['rule']}/{layer}: RDM of shape {rdm.shape}, the table holds "
                    f"{self.n_stimuli} stimuli"
                )
            self.vectors.append(upper_tri(np.asarray(rdm)).astype(np.float32))
            rows.append({**meta, "layer": layer})
        self.meta = pd.concat(
            [self.meta, pd.DataFrame(rows, columns=list(COLUMNS))], ignore_index=True
        )

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain arrays for ``np.savez`` (strings as unicode arrays, no pickles)."""
        pairs = self.n_stimuli * (self.n_stimuli - 1) // 2
        out = {
            "n_stimuli": np.array(self.n_stimuli),
            "vectors": np.stack(self.vectors) if self.vectors else np.zeros((0, pairs), np.float32),
        }
        for col in COLUMNS:
            values = self.meta[col].to_numpy()
            out[f"meta_{col}"] = (
                values.astype(str)
                if col in ("rule", "arch", "trainset", "kind", "layer")
                else values.astype(
                    bool if col == "final" else float if col == "test_accuracy" else np.int64
                )
            )
        return out

    @classmethod
    def from_arrays(cls, arrays, source: str = "model table") -> ModelTable:
        """Inverse of :meth:`to_arrays`; ``source`` names the file in errors."""
        try:
            n = int(arrays["n_stimuli"])
            vectors = np.asarray(arrays["vectors"], dtype=np.float32)
            meta = pd.DataFrame({col: arrays[f"meta_{col}"] for col in COLUMNS})
        except KeyError as err:
            raise ValueError(f"{source}: not a model-RDM table (missing {err})") from None
        if vectors.shape != (len(meta), n * (n - 1) // 2):
            raise ValueError(
                f"{source}: {vectors.shape} RDM vectors for {len(meta)} rows of {n} stimuli"
            )
        if not np.isfinite(vectors).all():
            raise ValueError(f"{source}: model RDMs contain NaN or infinite values")
        return cls(n, meta, list(vectors))

    @classmethod
    def concat(cls, tables: list[ModelTable]) -> ModelTable:
        sizes = {t.n_stimuli for t in tables}
        if len(sizes) != 1:
            raise ValueError(f"model tables over different stimulus counts {sorted(sizes)}")
        meta = pd.concat([t.meta for t in tables], ignore_index=True)
        return cls(sizes.pop(), meta, [v for t in tables for v in t.vectors])

    def networks(self) -> Iterator[tuple[dict, np.ndarray]]:
        """(network metadata, its row indices in layer order) for every network state."""
        for key, grp in self.meta.groupby(NETWORK, sort=True):
            first = grp.iloc[0]
            info = dict(zip(NETWORK, key, strict=True))
            info.update({c: first[c] for c in ("examples_seen", "test_accuracy", "final", "kind")})
            yield info, grp.index.to_numpy()

    def squares(self, rows: np.ndarray, order: np.ndarray | None = None) -> np.ndarray:
        """(len(rows), k, k) float64 square RDMs of ``rows``, over the stimuli ``order`` (all: None)."""
        i, j = np.triu_indices(self.n_stimuli, 1)
        vecs = np.stack([self.vectors[r] for r in rows]).astype(np.float64)
        out = np.zeros((len(vecs), self.n_stimuli, self.n_stimuli))
        out[:, i, j] = out[:, j, i] = vecs
        if order is not None:
            out = out[:, order][:, :, order]
        return out
