"""Bad inputs fail with errors that name the file and the problem, and write nothing."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from brain_data import fetch as fetch_mod
from brain_data.errors import DataIntegrityError, DataUnavailableError, RecordingError
from brain_data.fetch import FileSpec, fetch, sha256sum
from brain_data.recordings import load_manifest, load_recording, validate_rdms
from models import registry
from pipelines._io import atomic_path


def _rdms(n=5, s=2, seed=0):
    x = np.random.default_rng(seed).random((s, n, n))
    x = x + x.transpose(0, 2, 1)
    for m in x:
        np.fill_diagonal(m, 0)
    return x


def test_wrong_hash_is_refused_with_the_file_named(tmp_path, monkeypatch):
    mirror, cache = tmp_path / "mirror", tmp_path / "cache"
    (mirror / "ds").mkdir(parents=True)
    (mirror / "ds" / "f.bin").write_bytes(b"tampered")
    monkeypatch.setenv(fetch_mod.MIRROR_ENV, str(mirror))
    monkeypatch.setenv(fetch_mod.CACHE_ENV, str(cache))
    spec = FileSpec("f.bin", "https://example.invalid/f.bin", "0" * 64, "ds/f.bin")
    with pytest.raises(DataIntegrityError, match=r"f\.bin: refused.*expected sha256 0{64}"):
        fetch(spec)
    assert not (cache / "ds" / "f.bin").exists()


def test_good_hash_is_fetched_from_the_mirror(tmp_path, monkeypatch):
    (tmp_path / "m" / "ds").mkdir(parents=True)
    src = tmp_path / "m" / "ds" / "f.bin"
    src.write_bytes(b"hello")
    monkeypatch.setenv(fetch_mod.MIRROR_ENV, str(tmp_path / "m"))
    monkeypatch.setenv(fetch_mod.CACHE_ENV, str(tmp_path / "c"))
    path = fetch(FileSpec("f.bin", "https://example.invalid/f.bin", sha256sum(src), "ds/f.bin"))
    assert path.read_bytes() == b"hello"


@pytest.mark.parametrize(
    "break_it, message",
    [
        (lambda x: x[:, :4, :4], "cover 4 stimuli, the manifest's stimulus order lists 5"),
        (lambda x: np.where(np.arange(5)[None, :, None] == 2, np.nan, x), "non-finite"),
        (lambda x: x + np.triu(np.ones((5, 5)), 1)[None], "not symmetric"),
        (lambda x: x + np.eye(5)[None], "diagonal of subject 1 is not zero"),
        (lambda x: x[0], "must be \\(subjects, stimuli, stimuli\\)"),
    ],
)
def test_malformed_rdms_are_refused(break_it, message):
    with pytest.raises(RecordingError, match=f"some.mat.*{message}"):
        validate_rdms(break_it(_rdms()), 5, "some.mat")


def test_manifest_schema_errors_name_the_key(tmp_path):
    d = tmp_path / "bad-rec"
    d.mkdir()
    (d / "manifest.yaml").write_text(
        yaml.safe_dump(
            {
                "id": "bad-rec",
                "modality": "fmri",
                "stimuli": "objects92",
                "format": "rdm-mat",
                "rois": {"IT": {"file": "x.mat"}},
                "files": [{"name": "x.mat", "url": "u", "sha256": "0" * 64}],
                "citation": "c",
            }
        )
    )
    with pytest.raises(
        RecordingError, match=r"bad-rec/manifest.yaml: manifest key rois/IT: 'variable'"
    ):
        load_manifest(d / "manifest.yaml")


@pytest.mark.needs_data
def test_wrong_stimulus_count_in_a_real_file_is_refused(tmp_path):
    """A manifest claiming a 20-image subset of a 92-image RDM file is caught, naming the file."""
    try:
        load_recording("algonauts2019-92")
    except DataUnavailableError as err:
        pytest.skip(str(err))
    src = Path(__file__).parent.parent / "brain_data" / "algonauts2019-92" / "manifest.yaml"
    d = tmp_path / "algonauts-subset"
    d.mkdir()
    man = yaml.safe_load(src.read_text())
    man["id"], man["stimulus_order"] = "algonauts-subset", list(range(1, 21))
    man["files"][0]["mirror"] = "algonauts2019-92/target_fmri.mat"
    (d / "manifest.yaml").write_text(yaml.safe_dump(man))
    with pytest.raises(RecordingError, match=r"target_fmri.mat.*cover 92 stimuli.*lists 20"):
        load_recording(str(d / "manifest.yaml"))


def test_unknown_recording_and_rule_list_the_valid_ones():
    with pytest.raises(RecordingError, match="algonauts2019-92"):
        load_recording("no-such-recording")
    with pytest.raises(KeyError, match="bp"):
        registry.get("no_such_rule")


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.csv"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert not target.exists() and list(tmp_path.iterdir()) == []
    with atomic_path(target) as tmp:
        tmp.write_text("whole")
    assert target.read_text() == "whole"


# --- manifests and files of every format: each error names the file and the problem ----------


def _npy_recording(tmp_path, monkeypatch, x=None, **manifest):
    from tests.recording_fixtures import random_rdms, use_tmp_mirror, write_manifest

    mirror = use_tmp_mirror(tmp_path, monkeypatch)
    (mirror / "rec").mkdir(exist_ok=True)
    f = mirror / "rec" / "r.npy"
    np.save(f, random_rdms((2,), 5) if x is None else x)
    base = dict(
        modality="fmri",
        format="rdm-npy",
        stimulus_order=[1, 2, 3, 4, 5],
        rois={"IT": {"file": "r.npy", "subject_axis": 0}},
    )
    return write_manifest(tmp_path, "rec", [f], **{**base, **manifest})


@pytest.mark.parametrize(
    "manifest, message",
    [
        (
            {"stimulus_order": [1, 2, 3, 3, 5]},
            r"stimulus_order must list distinct.*repeated: \[3\]",
        ),
        ({"stimulus_order": [1, 2, 3, 4, 93]}, r"stimulus_order must list distinct indices 1..92"),
        ({"stimulus_order": [1, 2, 3, 4]}, r"r.npy.*cover 5 stimuli.*lists 4"),
        ({"format": "rdm-xls"}, r"manifest key format: 'rdm-xls' is not one of"),
        ({"subjects": 3}, r"2 subjects found, the manifest says 3"),
        ({"rois": {"IT": {"file": "other.npy"}}}, r"reads 'other.npy', which is not under files"),
        ({"rois": {"IT": {"file": "r.npy", "time_axis": 0}}}, r"needs the key 'times'"),
        (
            {"rois": {"IT": {"file": "r.npy", "subject_axis": 2}}},
            r"r.npy: subject_axis 2 is not a leading",
        ),
    ],
)
def test_bad_manifests_are_refused(tmp_path, monkeypatch, manifest, message):
    with pytest.raises(RecordingError, match=message):
        load_recording(str(_npy_recording(tmp_path, monkeypatch, **manifest)))


def test_asymmetric_rdm_file_is_refused_naming_it(tmp_path, monkeypatch):
    x = _rdms()
    x[1, 0, 3] += 1.0
    with pytest.raises(
        RecordingError, match=r"r.npy \(recording rec, ROI IT\).*subject 2 is not symmetric"
    ):
        load_recording(str(_npy_recording(tmp_path, monkeypatch, x=x)))


def test_time_axis_with_wrong_number_of_times_is_refused(tmp_path, monkeypatch):
    man = _npy_recording(
        tmp_path,
        monkeypatch,
        x=np.stack([_rdms()] * 3),
        times=[0.0, 0.1],
        rois={"IT": {"file": "r.npy", "time_axis": 0, "subject_axis": 1}},
    )
    with pytest.raises(RecordingError, match=r"times lists 2 points, the data has 3"):
        load_recording(str(man))


def test_unreadable_file_is_refused_naming_it(tmp_path, monkeypatch):
    man = _npy_recording(tmp_path, monkeypatch)
    f = tmp_path / "mirror" / "rec" / "r.npy"
    f.write_bytes(b"not numpy")
    d = yaml.safe_load(man.read_text())
    d["files"][0]["sha256"] = sha256sum(f)  # intact download of a file that is not an array
    man.write_text(yaml.safe_dump(d))
    with pytest.raises(RecordingError, match=r"r.npy: not a readable NumPy file"):
        load_recording(str(man))


@pytest.mark.parametrize("key, value", [("name", "../../etc/passwd"), ("mirror", "/etc/passwd")])
def test_paths_outside_the_data_folder_are_refused(tmp_path, monkeypatch, key, value):
    man = _npy_recording(tmp_path, monkeypatch)
    d = yaml.safe_load(man.read_text())
    d["files"][0][key] = value
    if key == "name":
        d["rois"]["IT"]["file"] = value
    man.write_text(yaml.safe_dump(d))
    with pytest.raises(RecordingError, match=f"file {key} '{value}' is outside the data folder"):
        load_recording(str(man))


def test_bad_hash_stops_the_step_with_no_output(tmp_path, monkeypatch, capsys):
    """A tampered file: the brain step exits 1 naming it, and writes neither npz nor json."""
    import sys

    from brain_data.__main__ import main as cli
    from pipelines import brain

    man = _npy_recording(tmp_path, monkeypatch)
    np.save(
        tmp_path / "mirror" / "rec" / "r.npy", _rdms(seed=1)
    )  # differs from the manifest's hash
    out, meta = tmp_path / "out" / "rec.npz", tmp_path / "out" / "rec.json"
    argv = ["brain", "--recording", str(man), "--out", str(out), "--meta", str(meta)]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exit_info:
        from pipelines._io import run_main

        run_main(brain.main)
    assert exit_info.value.code == 1
    assert not out.exists() and not meta.exists()
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
    assert cli(["validate", str(man)]) == 1
    assert re.search(r"error: r.npy: refused.*expected sha256", capsys.readouterr().err)


def test_nifti_with_wrong_volume_count_or_grid_is_refused(tmp_path, monkeypatch):
    import nibabel as nib

    from tests.recording_fixtures import use_tmp_mirror, write_manifest

    mirror = use_tmp_mirror(tmp_path, monkeypatch)
    (mirror / "vol").mkdir()
    nib.save(
        nib.Nifti1Image(np.ones((4, 4, 4, 6), np.float32), np.eye(4)), mirror / "vol" / "b.nii.gz"
    )
    nib.save(nib.Nifti1Image(np.ones((4, 4, 3), np.uint8), np.eye(4)), mirror / "vol" / "m.nii.gz")
    files = [mirror / "vol" / "b.nii.gz", mirror / "vol" / "m.nii.gz"]
    common = dict(
        modality="fmri",
        format="nifti-betas",
        subject_files=["b.nii.gz"],
        rois={"V1": {"mask": "m.nii.gz"}},
    )
    man = write_manifest(tmp_path, "vol", files, stimulus_order=[1, 2, 3, 4, 5], **common)
    with pytest.raises(
        RecordingError, match=r"b.nii.gz: expected a 4-D image with one volume per stimulus \(5\)"
    ):
        load_recording(str(man))
    man = write_manifest(tmp_path, "vol", files, stimulus_order=[1, 2, 3, 4, 5, 6], **common)
    with pytest.raises(RecordingError, match=r"b.nii.gz \(ROI V1, mask m.nii.gz\): mask grid"):
        load_recording(str(man))


def test_time_resolved_rdm_errors_name_subject_and_time(tmp_path, monkeypatch):
    x = np.stack([_rdms()] * 3)  # (times, subjects, n, n)
    x[2, 1, 0, 4] = np.nan
    man = _npy_recording(
        tmp_path,
        monkeypatch,
        x=x,
        times={"start": 0.0, "step": 0.01},
        rois={"IT": {"file": "r.npy", "time_axis": 0, "subject_axis": 1}},
    )
    with pytest.raises(RecordingError, match=r"r.npy.*non-finite.*subject 2 at 0.020 s"):
        load_recording(str(man))


# --- issue 26: degenerate RDMs, truncated files, folder paths, shared caches, messages --------


def test_constant_rdm_is_refused_naming_subject_and_roi(tmp_path, monkeypatch):
    x = _rdms()
    x[1] = 1.0 - np.eye(5)  # subject 2: every distance equal
    with pytest.raises(
        RecordingError, match=r"r.npy \(recording rec, ROI IT\): RDM of subject 2 is constant"
    ):
        load_recording(str(_npy_recording(tmp_path, monkeypatch, x=x)))
    with pytest.raises(RecordingError, match=r"subject 1 is constant.*2 of 2 RDMs"):
        validate_rdms(np.zeros((2, 5, 5)), 5, "all.mat")
    with pytest.raises(RecordingError, match=r"RDMs over 2 stimuli; at least 3"):
        validate_rdms(np.array([[[0.0, 1.0], [1.0, 0.0]]]), 2, "two.mat")


def test_negative_distances_are_a_warning(caplog):
    x = _rdms() - 0.5
    for m in x:
        np.fill_diagonal(m, 0)
    with caplog.at_level("WARNING", logger="bioalign.brain_data"):
        validate_rdms(x, 5, "cv.mat")
    assert re.search(r"cv.mat: \d+ negative distances \(first in subject 1", caplog.text)


@pytest.mark.parametrize("suffix", [".npz", ".mat"])
def test_truncated_array_files_are_refused_naming_them(tmp_path, suffix):
    import h5py

    from brain_data.formats.rdm_arrays import read_variable

    path = tmp_path / f"r{suffix}"
    if suffix == ".npz":
        np.savez_compressed(path, rdms=_rdms(n=40))
    else:  # MATLAB v7.3 is HDF5
        with h5py.File(path, "w", userblock_size=512) as f:
            f["rdms"] = _rdms(n=40)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(RecordingError, match=rf"r\{suffix}: not a readable .* file \(truncated"):
        read_variable(path, "rdms")


def test_truncated_surface_npz_is_refused_naming_it(tmp_path, monkeypatch):
    from brain_data.formats import Context
    from brain_data.formats.responses import load_surface_npz

    path = tmp_path / "s.npz"
    rng = np.random.default_rng(0)
    np.savez_compressed(path, resp=rng.random((5, 400)), lab=np.ones(400))
    path.write_bytes(path.read_bytes()[:-300])
    man = {"rois": {"V1": {"file": "s.npz", "responses": ["resp"], "vertex_index": [None],
                           "labels": ["lab"], "values": [1]}}}  # fmt: skip
    ctx = Context(man, tmp_path / "manifest.yaml", {"s.npz": path}, np.arange(5))
    with pytest.raises(RecordingError, match=r"s.npz: not a readable .npz file \(truncated"):
        load_surface_npz(ctx)


@pytest.mark.parametrize("value", [".", "rec/", "rec/."])
def test_a_mirror_path_naming_a_folder_is_refused(value):
    entry = {"name": "r.npy", "url": "u", "sha256": "0" * 64, "mirror": value}
    with pytest.raises(RecordingError, match=rf"m.yaml: file mirror '{re.escape(value)}' names a"):
        FileSpec.from_dict(entry, "rec", "m.yaml")


def test_wrong_gunzip_hash_never_deletes_a_file_another_entry_validates(tmp_path, monkeypatch):
    import gzip

    from tests.recording_fixtures import use_tmp_mirror

    mirror = use_tmp_mirror(tmp_path, monkeypatch)
    (mirror / "ds").mkdir()
    blob = gzip.compress(b"payload", mtime=0)
    (mirror / "ds" / "x.gz").write_bytes(blob)
    import hashlib

    good = hashlib.sha256(b"payload").hexdigest()
    ok = FileSpec("x.gz", "https://example.invalid/x.gz", good, "ds/x.gz", "gunzip")
    bad = FileSpec("x.gz", "https://example.invalid/x.gz", "1" * 64, "ds/x.gz", "gunzip")
    cached = fetch(ok)
    with pytest.raises(DataIntegrityError, match=r"x.gz: refused.*decompressed.*kept in"):
        fetch(bad)
    assert cached.is_file() and fetch(ok) == cached
    assert (tmp_path / "cache" / ".quarantine" / "ds" / "x.gz").is_file()
    # a damaged cached copy is replaced by an intact one (and kept aside, not deleted)
    cached.write_bytes(b"damaged")
    assert fetch(ok).read_bytes() == blob


def test_unknown_stimulus_set_names_the_manifest(tmp_path, monkeypatch):
    man = _npy_recording(tmp_path, monkeypatch, stimuli="no-such-set")
    with pytest.raises(RecordingError, match=r"rec/manifest.yaml: key stimuli: unknown stimul"):
        load_recording(str(man))


def test_out_of_range_stimulus_order_names_the_index(tmp_path, monkeypatch):
    man = _npy_recording(tmp_path, monkeypatch, stimulus_order=[1, 2, 95, 4, 93])
    with pytest.raises(RecordingError, match=r"out of range: 95 at position 3, 93 at position 5"):
        load_recording(str(man))


def test_encoding_on_too_few_stimuli_is_marked_unreliable(caplog):
    import pandas as pd

    from pipelines.encode import MIN_TRAIN_STIMULI, reliability_note, score_layers

    rng = np.random.default_rng(0)
    few = score_layers({"fc1": rng.random((20, 8))}, rng.random((1, 20, 6)),
                       n_components=5, n_folds=5, seed=0)  # fmt: skip
    assert few[0]["n_train_stimuli"] == 16 and few[0]["reliable"] is False
    assert f"trains on 16 per fold (< {MIN_TRAIN_STIMULI})" in caplog.text
    many = score_layers({"fc1": rng.random((80, 8))}, rng.random((1, 80, 6)),
                        n_components=5, n_folds=5, seed=0)  # fmt: skip
    assert many[0]["reliable"] is True
    frame = pd.DataFrame([{"recording": "nsd", **few[0]}, {"recording": "big", **many[0]}])
    assert reliability_note(frame).startswith("Unreliable: nsd (16 training stimuli per fold)")
    assert reliability_note(frame.iloc[1:]) is None


def test_complex_or_empty_rdm_arrays_are_refused(tmp_path, monkeypatch):
    x = _rdms().astype(complex)
    with pytest.raises(RecordingError, match=r"r.npy: None holds complex numbers"):
        load_recording(str(_npy_recording(tmp_path, monkeypatch, x=x)))
    with pytest.raises(RecordingError, match=r"e.npy: holds no RDM \(0 subjects\)"):
        validate_rdms(np.zeros((0, 5, 5)), 5, "e.npy")


def test_rdms_in_tiny_units_are_not_called_constant():
    x = _rdms() * 1e-20
    assert validate_rdms(x, 5, "tiny.npy") is x


def test_an_npy_header_promising_more_than_the_file_holds_is_refused(tmp_path):
    from brain_data.formats.rdm_arrays import read_variable

    path = tmp_path / "huge.npy"
    with open(path, "wb") as fh:  # a 320 GB array in a 200-byte file
        header = {"descr": "<f8", "fortran_order": False, "shape": (200000, 200000, 1)}
        np.lib.format.write_array_header_1_0(fh, header)
        fh.write(b"\0" * 64)
    with pytest.raises(RecordingError, match=r"huge.npy: not a readable NumPy file"):
        read_variable(path, None)


@pytest.mark.parametrize(
    "entry, message",
    [
        ({"name": "a\0b.npy"}, r"file name 'a\\x00b.npy' holds a control character"),
        ({"sha256": "xyz"}, r"file 'r.npy': sha256 'xyz' is not 64 hex digits"),
    ],
)
def test_file_entries_with_control_characters_or_a_bad_hash_are_refused(entry, message):
    base = {"name": "r.npy", "url": "u", "sha256": "0" * 64}
    with pytest.raises((RecordingError, DataIntegrityError), match=rf"spec.yaml: {message}"):
        FileSpec.from_dict({**base, **entry}, "ds", "spec.yaml")


def _fetch_after_barrier(spec, barrier, results):
    """Child of the concurrency test: wait for the others, fetch, report the outcome."""
    barrier.wait()
    try:
        results.put(str(fetch(spec).read_bytes()[:2]))
    except Exception as err:  # reported to the parent, which fails the test with it
        results.put(f"{type(err).__name__}: {err}")


@pytest.mark.parametrize("hash_of", ["gunzip", "file"])
def test_concurrent_fetches_of_one_file_all_succeed(tmp_path, monkeypatch, hash_of):
    """Parallel jobs (Snakemake, the benchmarks' worker processes) that fetch the same file into an
    empty cache each get the intact file: no job sees another's half-moved download."""
    import gzip
    import hashlib
    import multiprocessing as mp
    import time

    from tests.recording_fixtures import use_tmp_mirror

    mirror = use_tmp_mirror(tmp_path, monkeypatch)
    (mirror / "ds").mkdir()
    blob = gzip.compress(b"payload" * 1000, mtime=0)
    (mirror / "ds" / "x.gz").write_bytes(blob)
    digest = hashlib.sha256(b"payload" * 1000 if hash_of == "gunzip" else blob).hexdigest()
    spec = FileSpec("x.gz", "https://example.invalid/x.gz", digest, "ds/x.gz",
                    hash_of)  # fmt: skip
    copy = fetch_mod._MirrorFirst.__call__

    def slow_copy(self, *args, **kwargs):  # widen the window in which the jobs overlap
        time.sleep(0.05)
        return copy(self, *args, **kwargs)

    monkeypatch.setattr(fetch_mod._MirrorFirst, "__call__", slow_copy)
    ctx = mp.get_context("fork")
    n = 6
    barrier, results = ctx.Barrier(n), ctx.Queue()
    jobs = [
        ctx.Process(target=_fetch_after_barrier, args=(spec, barrier, results)) for _ in range(n)
    ]
    for j in jobs:
        j.start()
    outcomes = [results.get(timeout=60) for _ in jobs]
    for j in jobs:
        j.join(timeout=60)
    assert outcomes == [str(blob[:2])] * n, outcomes
    assert (tmp_path / "cache" / "ds" / "x.gz").read_bytes() == blob
    assert not (tmp_path / "cache" / ".quarantine").exists(), "an intact copy was quarantined"
