"""Recordings described by manifests (``brain_data/<id>/manifest.yaml``) loaded into one object.

A ``Recording`` holds, per ROI, subject RDMs (n_subjects, n_stim, n_stim) and the stimulus-set
indices of its rows. Every check (schema, shapes, stimulus count, NaN, symmetry, diagonal) fails
with a ``RecordingError`` that names the file and the problem.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import h5py
import jsonschema
import numpy as np
import scipy.io as sio
from scipy.spatial.distance import squareform

from brain_data.errors import RecordingError
from brain_data.fetch import FileSpec, fetch
from brain_data.specs import ROOT, load_spec, read_yaml

SCHEMA = ROOT / "manifest.schema.yaml"
SYMMETRY_TOL = 1e-5


@dataclass
class Recording:
    """One recording set: subject RDMs per ROI over ``stimuli`` (0-based stimulus-set indices)."""

    id: str
    modality: str
    stimset: str
    stimuli: np.ndarray
    rdms: dict[str, np.ndarray]
    citation: str = ""
    meta: dict = field(default_factory=dict)

    @property
    def rois(self) -> list[str]:
        return list(self.rdms)

    def n_subjects(self, roi: str) -> int:
        return self.rdms[roi].shape[0]


def manifest_paths(root: Path = ROOT) -> dict[str, Path]:
    """Every ``<root>/<id>/manifest.yaml`` by id."""
    return {p.parent.name: p for p in sorted(Path(root).glob("*/manifest.yaml"))}


def manifest_path(recording: str) -> Path:
    """The manifest of ``recording`` (an id or a path to a manifest)."""
    if recording.endswith((".yaml", ".yml")):
        return Path(recording)
    paths = manifest_paths()
    if recording not in paths:
        raise RecordingError(f"unknown recording {recording!r}; manifests found: {sorted(paths)}")
    return paths[recording]


def load_manifest(path: Path) -> dict:
    """Read and schema-check a manifest; errors name the file and the offending key."""
    manifest = read_yaml(path)
    try:
        jsonschema.validate(manifest, read_yaml(SCHEMA))
    except jsonschema.ValidationError as err:
        where = "/".join(str(p) for p in err.absolute_path) or "(top level)"
        raise RecordingError(f"{path}: manifest key {where}: {err.message}") from None
    if path.name == "manifest.yaml" and manifest["id"] != path.parent.name:
        raise RecordingError(f"{path}: id {manifest['id']!r} differs from its directory name")
    names = {f["name"] for f in manifest["files"]}
    for roi, sel in manifest["rois"].items():
        if sel["file"] not in names:
            raise RecordingError(
                f"{path}: ROI {roi} reads {sel['file']!r}, which is not under files"
            )
    return manifest


def _read_variable(path: Path, name: str) -> np.ndarray:
    """A variable from a MATLAB v5 (scipy) or v7.3/HDF5 (h5py, transposed to MATLAB order) file."""
    if h5py.is_hdf5(path):
        with h5py.File(path, "r") as f:
            if name not in f:
                raise RecordingError(f"{path}: no variable {name!r} (has {sorted(f)})")
            return np.asarray(f[name]).T
    try:
        mat = sio.loadmat(path)
    except Exception as err:
        raise RecordingError(f"{path}: not a readable MATLAB file: {err}") from err
    if name not in mat:
        raise RecordingError(
            f"{path}: no variable {name!r} (has {sorted(k for k in mat if k[0] != '_')})"
        )
    return mat[name]


def _select(raw: np.ndarray, sel: dict, path: Path) -> np.ndarray:
    """Apply a ROI selector (field, index, condensed, subject/mean axes) -> (n_subj, n, n)."""
    if "field" in sel:
        if raw.dtype.names is None or sel["field"] not in raw.dtype.names:
            raise RecordingError(f"{path}: {sel['variable']} has no field {sel['field']!r}")
        cells = raw[sel["field"]]
        if "index" in sel:
            raw = np.asarray(cells[tuple(sel["index"])], dtype=float)
        else:  # struct array (a, b, ...) of RDMs -> (a, b, ..., n, n)
            raw = np.stack([np.asarray(c, dtype=float) for c in cells.ravel()]).reshape(
                cells.shape + np.asarray(cells.ravel()[0]).shape
            )
    elif "index" in sel:
        raw = raw[tuple(sel["index"])]
    arr = np.asarray(raw, dtype=float)
    if sel.get("condensed"):
        arr = squareform(arr.ravel(), checks=False)
    n_extra = arr.ndim - 2
    for ax in sorted(sel.get("mean_axes", []), reverse=True):
        if ax >= n_extra:
            raise RecordingError(
                f"{path}: mean axis {ax} is not a leading axis of shape {arr.shape}"
            )
        arr = arr.mean(axis=ax)
        n_extra -= 1
    subj = sel.get("subject_axis")
    if subj is not None:
        subj -= sum(1 for ax in sel.get("mean_axes", []) if ax < subj)
        arr = np.moveaxis(arr, subj, 0)
    arr = arr.reshape((-1,) + arr.shape[-2:]) if arr.ndim > 2 else arr[None]
    return arr


def validate_rdms(rdms: np.ndarray, n_stimuli: int, where: str) -> np.ndarray:
    """Check (n_subj, n, n) RDMs: stimulus count, finite, symmetric, zero diagonal."""
    if rdms.ndim != 3 or rdms.shape[1] != rdms.shape[2]:
        raise RecordingError(
            f"{where}: RDMs must be (subjects, stimuli, stimuli), got {rdms.shape}"
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
            f"subject {s + 1}, stimuli ({i + 1}, {j + 1})"
        )
    asym = np.abs(rdms - rdms.transpose(0, 2, 1)).max(axis=(1, 2))
    scale = np.abs(rdms).max(axis=(1, 2)) + 1e-12
    if (asym > SYMMETRY_TOL * scale).any():
        s = int(np.argmax(asym / scale))
        raise RecordingError(
            f"{where}: RDM of subject {s + 1} is not symmetric (max |D - D^T| = {asym[s]:.3g})"
        )
    diag = np.abs(np.diagonal(rdms, axis1=1, axis2=2)).max()
    if diag > SYMMETRY_TOL * scale.max():
        raise RecordingError(f"{where}: RDM diagonal is not zero (max {diag:.3g})")
    return rdms


def load_recording(recording: str) -> Recording:
    """Fetch, read and validate a recording by id (or manifest path)."""
    path = manifest_path(recording)
    man = load_manifest(path)
    stim_spec = load_spec("stimuli", man["stimuli"])
    n_set = int(stim_spec["n_stimuli"])
    order = man.get("stimulus_order", "all")
    stimuli = np.arange(n_set) if order == "all" else np.asarray(order) - 1
    if stimuli.max() >= n_set or len(np.unique(stimuli)) != len(stimuli):
        raise RecordingError(f"{path}: stimulus_order must list distinct indices 1..{n_set}")
    files = {f["name"]: fetch(FileSpec.from_dict(f, man["id"], str(path))) for f in man["files"]}
    rdms = {}
    for roi, sel in man["rois"].items():
        fpath = files[sel["file"]]
        arr = _select(_read_variable(fpath, sel["variable"]), sel, fpath)
        rdms[roi] = validate_rdms(arr, len(stimuli), f"{fpath} (recording {man['id']}, ROI {roi})")
        if "subjects" in man and rdms[roi].shape[0] != man["subjects"]:
            raise RecordingError(
                f"{fpath} (ROI {roi}): {rdms[roi].shape[0]} subject RDMs, "
                f"manifest {path} says {man['subjects']}"
            )
    meta = {k: v for k, v in man.items() if k not in ("rois", "files")}
    return Recording(
        man["id"], man["modality"], man["stimuli"], stimuli, rdms, man.get("citation", ""), meta
    )
