"""RDM arrays on disk: MATLAB v5 / v7.3 (.mat), NumPy (.npy/.npz), rsatoolbox HDF5.

ROI selector keys (rdm-mat / rdm-npy): ``file``, ``variable`` (not for .npy), ``field`` and
``index`` (struct arrays), ``condensed`` (last axis holds upper-triangle vectors), and axes of the
leading (non-stimulus) dimensions: ``subject_axis``, ``mean_axes`` (averaged, e.g. sessions),
``time_axis`` (time-resolved; the manifest's ``times`` gives the time points).
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import scipy.io as sio

from brain_data.errors import RecordingError
from brain_data.formats import Context, Loaded


def read_variable(path: Path, name: str | None) -> np.ndarray:
    """A variable from .npy, .npz, MATLAB v5 (scipy) or v7.3/HDF5 (h5py, in MATLAB order)."""
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".npz", ".mat"):
        raise RecordingError(f"{path}: unknown RDM file type {suffix!r} (.mat, .npy, .npz)")
    kind = "NumPy" if suffix != ".mat" else "MATLAB"
    try:  # a truncated file fails in many ways (BadZipFile, EOFError, OSError, zlib.error, ...)
        if suffix == ".npy":  # mapped first: a header promising more than the file holds fails
            return np.array(np.load(path, allow_pickle=False, mmap_mode="r"))
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as npz:
                if name not in npz.files:
                    raise RecordingError(f"{path}: no array {name!r} (has {sorted(npz.files)})")
                return npz[name]
        if h5py.is_hdf5(path):
            with h5py.File(path, "r") as f:
                if name not in f:
                    raise RecordingError(f"{path}: no variable {name!r} (has {sorted(f)})")
                return np.asarray(f[name]).T
        mat = sio.loadmat(path)
    except RecordingError:
        raise
    except Exception as err:
        raise RecordingError(
            f"{path}: not a readable {kind} file (truncated or corrupt?): "
            f"{type(err).__name__}: {err}"
        ) from err
    if name not in mat:
        raise RecordingError(
            f"{path}: no variable {name!r} (has {sorted(k for k in mat if k[0] != '_')})"
        )
    return mat[name]


def squareform_last(arr: np.ndarray, path: Path) -> np.ndarray:
    """(..., n(n-1)/2) upper-triangle vectors -> (..., n, n) symmetric RDMs."""
    p = arr.shape[-1]
    n = int(round((1 + np.sqrt(1 + 8 * p)) / 2))
    if n * (n - 1) // 2 != p:
        raise RecordingError(f"{path}: {p} values is not the length of a condensed RDM")
    out = np.zeros(arr.shape[:-1] + (n, n))
    i, j = np.triu_indices(n, 1)
    out[..., i, j] = arr
    out[..., j, i] = arr
    return out


def select(raw: np.ndarray, sel: dict, path: Path) -> np.ndarray:
    """Apply a ROI selector -> (n_subj, n, n), or (n_subj, n_times, n, n) with ``time_axis``."""
    if "field" in sel:
        if raw.dtype.names is None or sel["field"] not in raw.dtype.names:
            raise RecordingError(f"{path}: {sel.get('variable')} has no field {sel['field']!r}")
        cells = raw[sel["field"]]
        if "index" in sel:
            raw = np.asarray(cells[tuple(sel["index"])], dtype=float)
        else:  # struct array (a, b, ...) of RDMs -> (a, b, ..., n, n)
            raw = np.stack([np.asarray(c, dtype=float) for c in cells.ravel()]).reshape(
                cells.shape + np.asarray(cells.ravel()[0]).shape
            )
    elif "index" in sel:
        raw = raw[tuple(sel["index"])]
    if np.iscomplexobj(raw):
        raise RecordingError(f"{path}: {sel.get('variable')} holds complex numbers, not distances")
    try:
        arr = np.asarray(raw, dtype=float)
    except (TypeError, ValueError) as err:
        raise RecordingError(f"{path}: {sel.get('variable')} is not numeric: {err}") from err
    if sel.get("condensed"):
        arr = squareform_last(arr, path)
    if arr.ndim < 2:
        raise RecordingError(
            f"{path}: expected stimulus x stimulus matrices, got shape {arr.shape}"
        )
    lead = list(range(arr.ndim - 2))
    named = {"subject_axis": sel.get("subject_axis"), "time_axis": sel.get("time_axis")}
    for key, ax in [*named.items(), *(("mean_axes", a) for a in sel.get("mean_axes", []))]:
        if ax is not None and ax not in lead:
            raise RecordingError(
                f"{path}: {key} {ax} is not a leading (non-stimulus) axis of shape {arr.shape}"
            )
    means = sorted(sel.get("mean_axes", []))
    subj, time = named["subject_axis"], named["time_axis"]
    rest = [a for a in lead if a not in means and a not in (subj, time)]
    order = ([subj] if subj is not None else []) + rest + ([time] if time is not None else [])
    arr = arr.mean(axis=tuple(means)) if means else arr
    kept = [a for a in lead if a not in means]
    arr = np.moveaxis(arr, [kept.index(a) for a in order], list(range(len(order))))
    if time is not None:
        return arr.reshape((-1,) + arr.shape[-3:])
    return arr.reshape((-1,) + arr.shape[-2:])


def manifest_times(ctx: Context, n_times: int) -> np.ndarray:
    """The manifest's ``times`` (a list, or ``{start, step}`` in seconds) for ``n_times`` points."""
    spec = ctx.require(ctx.manifest, "times", "a ROI with time_axis")
    if isinstance(spec, dict):
        return float(spec["start"]) + float(spec["step"]) * np.arange(n_times)
    times = np.asarray(spec, dtype=float)
    if len(times) != n_times:
        raise RecordingError(f"{ctx.path}: times lists {len(times)} points, the data has {n_times}")
    return times


def load_rdm_file(ctx: Context) -> Loaded:
    """rdm-mat / rdm-npy: every ROI selected from a .mat / .npy / .npz file."""
    rdms, sources, times = {}, {}, None
    for roi, sel in ctx.manifest["rois"].items():
        path = ctx.file(ctx.require(sel, "file", f"ROI {roi}"))
        name = sel.get("variable")
        if name is None and path.suffix.lower() != ".npy":
            ctx.require(sel, "variable", f"ROI {roi}")
        arr = select(read_variable(path, name), sel, path)
        if "time_axis" in sel:
            t = manifest_times(ctx, arr.shape[1])
            if times is not None and not np.array_equal(t, times):
                raise RecordingError(f"{ctx.path}: ROIs differ in their number of time points")
            times = t
        elif times is not None or any("time_axis" in s for s in ctx.manifest["rois"].values()):
            raise RecordingError(f"{ctx.path}: ROI {roi} lacks time_axis while others have one")
        rdms[roi], sources[roi] = arr, path
    return Loaded(rdms, times=times, sources=sources)


def load_rsatoolbox_hdf5(ctx: Context) -> Loaded:
    """rdm-hdf5: an ``rsatoolbox.rdm.RDMs`` saved as HDF5; one RDM per subject.

    Selector keys: ``file`` and optionally ``descriptor: {name: value}`` to keep the RDMs whose
    rdm_descriptor ``name`` equals ``value`` (e.g. ``{roi: IT}``).
    """
    from rsatoolbox.rdm import load_rdm

    rdms, sources = {}, {}
    for roi, sel in ctx.manifest["rois"].items():
        path = ctx.file(ctx.require(sel, "file", f"ROI {roi}"))
        try:
            with h5py.File(path, "r") as f:
                if "dissimilarities" not in f:
                    raise RecordingError(
                        f"{path}: not an rsatoolbox RDMs file (no 'dissimilarities')"
                    )
            obj = load_rdm(str(path), file_type="hdf5")
        except OSError as err:
            raise RecordingError(f"{path}: not a readable HDF5 file: {err}") from err
        keep = np.ones(obj.n_rdm, bool)
        for key, value in sel.get("descriptor", {}).items():
            if key not in obj.rdm_descriptors:
                raise RecordingError(
                    f"{path}: no rdm_descriptor {key!r} (has {sorted(obj.rdm_descriptors)})"
                )
            vals = np.asarray([str(v) for v in obj.rdm_descriptors[key]])
            keep &= vals == str(value)
        if not keep.any():
            raise RecordingError(f"{path}: no RDM matches {sel.get('descriptor')}")
        rdms[roi], sources[roi] = obj.get_matrices()[keep], path
    return Loaded(rdms, sources=sources)
