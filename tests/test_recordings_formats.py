"""Every supported format loads to the same RDMs: MATLAB v5 / v7.3, NumPy, rsatoolbox HDF5 (with a
stimulus subset and an optional time axis); NIfTI betas + masks; the NSD surface sample."""

from __future__ import annotations

import h5py
import nibabel as nib
import numpy as np
import pytest
import scipy.io as sio
from rsatoolbox.rdm import RDMs
from scipy.stats import spearmanr

from analyses.rdm import correlation_rdm, upper_tri
from brain_data.errors import DataError
from brain_data.recordings import load_recording
from tests.recording_fixtures import random_rdms, use_tmp_mirror, write_manifest

SUBSET = [5, 1, 40, 92, 17, 60, 33, 8, 71, 2]  # 1-based images, in recording order
N = len(SUBSET)


def _write(mirror, rid, name, writer):
    (mirror / rid).mkdir(parents=True, exist_ok=True)
    path = mirror / rid / name
    writer(path)
    return path


def _writers(x):
    def h5_mat(p):  # MATLAB v7.3 stores arrays transposed
        with h5py.File(p, "w") as f:
            f.create_dataset("R", data=x.T)

    def rsa_h5(p):
        RDMs(
            x, dissimilarity_measure="correlation", rdm_descriptors={"subject": list(range(len(x)))}
        ).save(str(p), file_type="hdf5")

    return {
        "v5.mat": ("rdm-mat", {"variable": "R"}, lambda p: sio.savemat(p, {"R": x})),
        "v73.mat": ("rdm-mat", {"variable": "R"}, h5_mat),
        "r.npy": ("rdm-npy", {}, lambda p: np.save(p, x)),
        "r.npz": ("rdm-npy", {"variable": "R"}, lambda p: np.savez(p, R=x)),
        "r.h5": ("rdm-hdf5", {}, rsa_h5),
    }


@pytest.mark.parametrize("name", ["v5.mat", "v73.mat", "r.npy", "r.npz", "r.h5"])
def test_rdm_formats_load_the_same_subset(tmp_path, monkeypatch, name):
    mirror = use_tmp_mirror(tmp_path, monkeypatch)
    x = random_rdms((3,), N)
    fmt, sel, writer = _writers(x)[name]
    f = _write(mirror, "rec", name, writer)
    sel = {"file": name, **sel, **({"subject_axis": 0} if fmt != "rdm-hdf5" else {})}
    man = write_manifest(
        tmp_path,
        "rec",
        [f],
        modality="fmri",
        format=fmt,
        subjects=3,
        stimulus_order=SUBSET,
        rois={"IT": sel},
    )
    rec = load_recording(str(man))
    assert rec.stimuli.tolist() == [s - 1 for s in SUBSET] and not rec.time_resolved
    np.testing.assert_allclose(rec.rdms["IT"], x, atol=1e-12)


def test_rdm_arrays_with_a_time_axis(tmp_path, monkeypatch):
    mirror = use_tmp_mirror(tmp_path, monkeypatch)
    x = random_rdms((6, 2), N)  # (times, subjects, n, n) on disk
    f = _write(mirror, "rec", "t.npy", lambda p: np.save(p, x))
    man = write_manifest(
        tmp_path,
        "rec",
        [f],
        modality="meg",
        format="rdm-npy",
        stimulus_order=SUBSET,
        times={"start": -0.1, "step": 0.05},
        rois={"all": {"file": "t.npy", "subject_axis": 1, "time_axis": 0}},
    )
    rec = load_recording(str(man))
    assert rec.rdms["all"].shape == (2, 6, N, N)
    np.testing.assert_allclose(rec.rdms["all"], x.transpose(1, 0, 2, 3))
    np.testing.assert_allclose(rec.times, -0.1 + 0.05 * np.arange(6))


def test_nifti_betas_give_the_rdms_computed_directly(tmp_path, monkeypatch):
    mirror = use_tmp_mirror(tmp_path, monkeypatch)
    rng = np.random.default_rng(0)
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    mask = np.zeros((6, 5, 4), dtype=np.uint8)
    mask[1:4, 1:4, 1:3] = 1
    files, direct = [], []
    for s in range(2):
        betas = rng.normal(size=(6, 5, 4, N)).astype(np.float32)
        files.append(
            _write(
                mirror,
                "vol",
                f"sub{s}_betas.nii.gz",
                lambda p, b=betas: nib.save(nib.Nifti1Image(b, affine), p),
            )
        )
        direct.append(correlation_rdm(betas[mask.astype(bool)].T))  # (stimuli, voxels)
    files.append(
        _write(
            mirror, "vol", "it_mask.nii.gz", lambda p: nib.save(nib.Nifti1Image(mask, affine), p)
        )
    )
    man = write_manifest(
        tmp_path,
        "vol",
        files,
        modality="fmri",
        format="nifti-betas",
        stimulus_order=SUBSET,
        subjects=2,
        subject_files=["sub0_betas.nii.gz", "sub1_betas.nii.gz"],
        rois={"IT": {"mask": "it_mask.nii.gz"}},
    )
    rec = load_recording(str(man))
    np.testing.assert_allclose(rec.rdms["IT"], np.stack(direct), atol=1e-6)
    assert rec.responses["IT"].shape == (2, N, int(mask.sum()))


@pytest.mark.needs_data
def test_nsd_surface_sample_yields_rdms_per_roi():
    try:
        rec = load_recording("nsd-algonauts2023-subj01-20")
    except DataError as err:
        pytest.skip(str(err))
    assert rec.rois == ["V1", "V2", "V3", "hV4", "FFA"]
    # V1v + V1d vertices of both hemispheres (labels 1, 2 of the "visual" map)
    assert rec.responses["V1"].shape == (1, 20, 2973)
    for roi in rec.rois:
        assert rec.rdms[roi].shape == (1, 20, 20)
        np.testing.assert_allclose(rec.rdms[roi][0], correlation_rdm(rec.responses[roi][0]))
    # early visual areas resemble each other more than V1 resembles a face area
    r = {roi: upper_tri(rec.rdms[roi][0]) for roi in rec.rois}
    assert spearmanr(r["V1"], r["V2"])[0] > spearmanr(r["V1"], r["FFA"])[0]
