"""Response-level fMRI: NIfTI 4-D beta maps with ROI masks (nilearn) and surface arrays (NSD).

Both keep the responses (n_subjects, n_stim, n_features) per ROI for encoding models and derive
correlation-distance RDMs (``analyses.rdm.correlation_rdm``).

nifti-betas: ``subject_files`` lists one 4-D NIfTI per subject, volume k = the k-th stimulus of
``stimulus_order``; each ROI names a ``mask`` file (a 3-D NIfTI on the same grid).
surface-npz: each ROI names ``file`` (.npz), per hemisphere arrays ``responses``
(stimuli x vertices), ``vertex_index`` (the fsaverage vertex of each column) and ``labels``
(a label per fsaverage vertex), and the label ``values`` that make up the ROI.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from analyses.rdm import correlation_rdm
from brain_data.errors import RecordingError
from brain_data.formats import Context, Loaded


def _check_responses(x: np.ndarray, n_stim: int, where: str) -> np.ndarray:
    if x.ndim != 2 or x.shape[0] != n_stim:
        raise RecordingError(
            f"{where}: responses must be (stimuli={n_stim}, features), got shape {x.shape}"
        )
    if x.shape[1] == 0:
        raise RecordingError(f"{where}: the ROI selects no voxels/vertices")
    bad = ~np.isfinite(x).all(axis=0)
    if bad.all():
        raise RecordingError(f"{where}: every feature has non-finite values")
    return x


def _finite_columns(x: np.ndarray) -> np.ndarray:
    """Drop voxels with NaN/inf (outside the brain in some betas)."""
    return x[:, np.isfinite(x).all(axis=0)]


def load_nifti_betas(ctx: Context) -> Loaded:
    """nifti-betas: per subject a 4-D beta series, masked per ROI with nilearn."""
    import nibabel as nib
    from nilearn.masking import apply_mask

    rdms, responses, sources = {}, {}, {}
    betas = ctx.subject_files()
    for roi, sel in ctx.manifest["rois"].items():
        mask_path = ctx.file(ctx.require(sel, "mask", f"ROI {roi}"))
        per_subject = []
        for path in betas:
            where = f"{path} (ROI {roi}, mask {mask_path.name})"
            try:
                img = nib.load(path)
                mask = nib.load(mask_path)
            except Exception as err:
                raise RecordingError(f"{where}: not a readable NIfTI file: {err}") from err
            if img.ndim != 4 or img.shape[3] != ctx.n_stimuli:
                raise RecordingError(
                    f"{path}: expected a 4-D image with one volume per stimulus "
                    f"({ctx.n_stimuli}), got shape {img.shape}"
                )
            if mask.shape[:3] != img.shape[:3] or not np.allclose(mask.affine, img.affine):
                raise RecordingError(
                    f"{where}: mask grid {mask.shape} does not match the betas' {img.shape[:3]}"
                )
            try:
                x = apply_mask(img, mask)  # (n_stim, n_voxels)
            except Exception as err:
                raise RecordingError(f"{where}: masking failed: {err}") from err
            per_subject.append(_finite_columns(_check_responses(x, ctx.n_stimuli, where)))
        n_feat = {p.shape[1] for p in per_subject}
        if len(n_feat) > 1:
            raise RecordingError(
                f"{ctx.path}: ROI {roi} has different voxel counts per subject {n_feat}"
            )
        responses[roi] = np.stack(per_subject)
        rdms[roi] = np.stack([correlation_rdm(p) for p in per_subject])
        sources[roi] = mask_path
    return Loaded(rdms, responses=responses, sources=sources)


def _surface_roi(npz, sel: dict, path: Path, roi: str, n_stim: int) -> np.ndarray:
    cols = []
    keys = [sel.get(k) for k in ("responses", "vertex_index", "labels")]
    if any(not isinstance(k, list) for k in keys) or len({len(k) for k in keys}) != 1:
        raise RecordingError(
            f"{path}: ROI {roi} needs lists responses, vertex_index, labels (one per hemisphere)"
        )
    for resp_key, idx_key, lab_key in zip(*keys, strict=True):
        for key in (resp_key, idx_key, lab_key):
            if key not in npz.files:
                raise RecordingError(f"{path}: no array {key!r} (ROI {roi})")
        resp, idx, labels = npz[resp_key], npz[idx_key], npz[lab_key]
        if resp.ndim != 2 or resp.shape[1] != len(idx):
            raise RecordingError(
                f"{path}: {resp_key} has shape {resp.shape}, {idx_key} has {len(idx)} vertices"
            )
        if idx.max() >= len(labels):
            raise RecordingError(f"{path}: {idx_key} points past the {len(labels)} labels")
        cols.append(resp[:, np.isin(labels[idx], sel["values"])])
    x = np.concatenate(cols, axis=1).astype(np.float64)
    return _check_responses(x, n_stim, f"{path} (ROI {roi})")


def load_surface_npz(ctx: Context) -> Loaded:
    """surface-npz: vertices selected by ROI label maps; one subject per file."""
    rdms, responses, sources = {}, {}, {}
    for roi, sel in ctx.manifest["rois"].items():
        path = ctx.file(ctx.require(sel, "file", f"ROI {roi}"))
        ctx.require(sel, "values", f"ROI {roi}")
        try:  # a truncated file fails on open or on reading an array (BadZipFile, zlib.error, ...)
            with np.load(path, allow_pickle=False) as npz:
                x = _finite_columns(_surface_roi(npz, sel, path, roi, ctx.n_stimuli))
        except RecordingError:
            raise
        except Exception as err:
            raise RecordingError(
                f"{path}: not a readable .npz file (truncated or corrupt?): "
                f"{type(err).__name__}: {err}"
            ) from err
        responses[roi] = x[None]
        rdms[roi] = correlation_rdm(x)[None]
        sources[roi] = path
    return Loaded(rdms, responses=responses, sources=sources)
