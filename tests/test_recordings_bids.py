"""A BIDS MEG dataset (written with mne-bids from simulated continuous data, zipped as a download)
-> epochs from its events.tsv -> time-resolved RDMs that recover the planted window."""

from __future__ import annotations

import shutil

import mne
import numpy as np
from mne_bids import BIDSPath, write_raw_bids

from analyses.timecourse import timecourse_rsa
from brain_data.recordings import load_recording
from tests.recording_fixtures import use_tmp_mirror, write_manifest
from tests.test_recordings_meeg import WINDOW, _planted_model, simulate_epochs

GAP = 6  # samples between consecutive epochs in the continuous recording


def _write_subject(root, subject: str, seed: int, tmp) -> None:
    ep = simulate_epochs("meg", seed)
    x = ep.get_data()  # (epochs, channels, times)
    data = np.concatenate([np.pad(e, ((0, 0), (0, GAP))) for e in x], axis=1)
    fif = tmp / f"sub{subject}_raw.fif"
    mne.io.RawArray(data, ep.info, verbose="error").save(fif, overwrite=True, verbose="error")
    onsets = np.arange(len(x)) * (x.shape[2] + GAP) + int(round(-ep.tmin * ep.info["sfreq"]))
    events = np.column_stack([onsets, np.zeros(len(x), int), ep.events[:, 2]])
    write_raw_bids(
        mne.io.read_raw_fif(fif, verbose="error"),
        BIDSPath(subject=subject, task="objects", datatype="meg", root=root),
        events=events,
        event_id={f"image{k:02d}": k for k in range(1, 93)},
        overwrite=True,
        verbose="error",
    )


def test_bids_meg_dataset_recovers_the_planted_window(tmp_path, monkeypatch):
    mirror = use_tmp_mirror(tmp_path, monkeypatch)
    root = tmp_path / "bids"
    for i, sub in enumerate(["01", "02"]):
        _write_subject(root, sub, i, tmp_path)
    (mirror / "sim-bids").mkdir()
    archive = shutil.make_archive(str(mirror / "sim-bids" / "dataset"), "zip", root)
    man = write_manifest(
        tmp_path,
        "sim-bids",
        [mirror / "sim-bids" / "dataset.zip"],
        modality="meg",
        format="bids",
        stimulus_order="all",
        subjects=2,
        bids={
            "archive": "dataset.zip",
            "root": ".",
            "datatype": "meg",
            "task": "objects",
            "subjects": ["01", "02"],
        },
        epochs={"tmin": -0.1, "tmax": 0.13, "baseline": None},
        rois={"MEG": {"picks": "meg"}},
    )
    assert archive.endswith("dataset.zip")
    rec = load_recording(str(man))
    assert rec.rdms["MEG"].shape == (2, 24, 92, 92)
    res = timecourse_rsa(_planted_model("meg"), rec.rdms["MEG"], rec.times, ["truth"], n_boot=100)
    inside = (rec.times >= WINDOW[0]) & (rec.times <= WINDOW[1])
    assert (res.score[0, inside] > 0.25).all() and (np.abs(res.score[0, ~inside]) < 0.1).all()
