"""File-format loaders: one module per family, one function per ``format:`` value.

A loader takes a ``Context`` (manifest, its path, fetched files, stimulus rows) and returns a
``Loaded``: per-ROI RDMs, optional responses and, for time-resolved data, ``times``. Heavy
dependencies (MNE, nilearn) are imported only when their format is used.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from brain_data.errors import RecordingError


@dataclass
class Context:
    """What a loader needs: the manifest, its path, local files by name, the stimulus rows."""

    manifest: dict
    path: Path
    files: dict[str, Path]
    stimuli: np.ndarray

    @property
    def n_stimuli(self) -> int:
        return len(self.stimuli)

    def require(self, mapping: dict, key: str, where: str):
        """``mapping[key]``, or an error naming the manifest and the missing key."""
        if key not in mapping:
            raise RecordingError(
                f"{self.path}: {where} needs the key {key!r} for format {self.manifest['format']!r}"
            )
        return mapping[key]

    def file(self, name: str) -> Path:
        """The local path of the manifest file ``name``, or an error naming the manifest."""
        if name not in self.files:
            raise RecordingError(f"{self.path}: {name!r} is not under files ({sorted(self.files)})")
        return self.files[name]

    def subject_files(self) -> list[Path]:
        names = self.require(self.manifest, "subject_files", "the manifest")
        return [self.file(n) for n in names]


@dataclass
class Loaded:
    """A loader's result: RDMs per ROI, optional responses per ROI, ``times`` if time-resolved."""

    rdms: dict[str, np.ndarray]
    responses: dict[str, np.ndarray] = field(default_factory=dict)
    times: np.ndarray | None = None
    sources: dict[str, Path] = field(default_factory=dict)


def _lazy(module: str, name: str) -> Callable[[Context], Loaded]:
    def load(ctx: Context) -> Loaded:
        return getattr(importlib.import_module(f"brain_data.formats.{module}"), name)(ctx)

    load.__name__ = name
    return load


LOADERS: dict[str, Callable[[Context], Loaded]] = {
    "rdm-mat": _lazy("rdm_arrays", "load_rdm_file"),
    "rdm-npy": _lazy("rdm_arrays", "load_rdm_file"),
    "rdm-hdf5": _lazy("rdm_arrays", "load_rsatoolbox_hdf5"),
    "nifti-betas": _lazy("responses", "load_nifti_betas"),
    "surface-npz": _lazy("responses", "load_surface_npz"),
    "mne-epochs": _lazy("meeg", "load_mne_epochs"),
    "bids": _lazy("meeg", "load_bids"),
    "mne-dataset": _lazy("meeg", "load_mne_dataset"),
}
