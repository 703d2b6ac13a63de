"""Bad inputs fail with errors that name the file and the problem, and write nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from brain_data import fetch as fetch_mod
from brain_data.errors import DataIntegrityError, RecordingError
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
        (lambda x: x + np.eye(5)[None], "diagonal is not zero"),
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
