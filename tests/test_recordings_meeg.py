"""M/EEG epochs simulated with MNE (real .fif files) -> time-resolved RDMs -> time-course RSA.

A representational geometry is planted in a known window; the pipeline must recover it there and
not outside, for EEG (standard 10-20 montage) and MEG (magnetometers + gradiometers), with
realistic (ad hoc covariance, temporally coloured) sensor noise.
"""

from __future__ import annotations

import mne
import numpy as np
import pytest
from scipy.signal import lfilter

from analyses.rdm import correlation_rdm
from analyses.timecourse import timecourse_rsa
from brain_data.errors import RecordingError
from brain_data.recordings import load_recording
from tests.recording_fixtures import category_geometry, use_tmp_mirror, write_manifest

N_STIM, N_REP, SFREQ = 92, 4, 100.0
TMIN, N_TIMES = -0.1, 24  # -0.10 .. 0.13 s
WINDOW = (0.04, 0.09)  # where the geometry is planted


def _info(kind: str) -> mne.Info:
    if kind == "eeg":
        montage = mne.channels.make_standard_montage("biosemi16")  # 16 scalp electrodes
        info = mne.create_info(montage.ch_names, SFREQ, "eeg")
        info.set_montage(montage)
        return info
    names = [f"MEG{i:03d}" for i in range(18)]
    return mne.create_info(names, SFREQ, ["mag", "grad", "grad"] * 6)


def simulate_epochs(kind: str, seed: int, codes=None, n_stim: int = N_STIM) -> mne.EpochsArray:
    """Epochs (n_stim x N_REP) with the planted geometry inside WINDOW, plus realistic noise."""
    info = _info(kind)
    n_ch = len(info.ch_names)
    rng = np.random.default_rng(seed)
    patterns = category_geometry(N_STIM, seed=7, n_features=n_ch)[:n_stim]  # shared by subjects
    cov = mne.make_ad_hoc_cov(info, verbose="error")
    scale = np.sqrt(cov.data)  # per-channel noise sd (V or T, T/m)
    times = TMIN + np.arange(N_TIMES) / SFREQ
    envelope = ((times >= WINDOW[0]) & (times <= WINDOW[1])).astype(float)
    labels = np.repeat(np.arange(n_stim), N_REP)
    signal = 1.5 * patterns[labels][:, :, None] * scale[None, :, None] * envelope
    codes = np.arange(1, n_stim + 1) if codes is None else np.asarray(codes)
    events = np.column_stack([np.arange(len(labels)) * 100, np.zeros_like(labels), codes[labels]])
    # sensor noise: the ad hoc covariance's scales, spatially correlated (a shared component),
    # temporally coloured (AR(1), as EEG/MEG background activity); independent across epochs
    white = rng.normal(size=(len(labels), n_ch, N_TIMES)) + 0.5 * rng.normal(
        size=(len(labels), 1, N_TIMES)
    )
    noise = lfilter([1.0], [1.0, -0.6], white, axis=-1) * scale[None, :, None]
    epochs = mne.EpochsArray(signal + noise, info, events, tmin=TMIN, verbose="error")
    return epochs


def _recording(tmp_path, monkeypatch, kind, n_subj=2, method="correlation", epochs=None, **extra):
    mirror = use_tmp_mirror(tmp_path, monkeypatch)
    rid = f"sim-{kind}"
    (mirror / rid).mkdir(exist_ok=True)
    files = []
    for s in range(n_subj):
        ep = epochs[s] if epochs is not None else simulate_epochs(kind, seed=s)
        f = mirror / rid / f"sub-{s + 1:02d}-epo.fif"
        ep.save(f, overwrite=True, verbose="error")
        files.append(f)
    picks = {"eeg": "eeg", "meg": "meg"}[kind]
    man = write_manifest(
        tmp_path,
        rid,
        files,
        modality=kind,
        format="mne-epochs",
        stimulus_order="all",
        subjects=n_subj,
        subject_files=[f.name for f in files],
        pattern_distance=method,
        rois={"sensors": {"picks": picks}},
        **extra,
    )
    return man


def _planted_model(kind: str) -> np.ndarray:
    """The planted geometry (before sensor scaling and noise) as a one-layer model RDM."""
    n_ch = len(_info(kind).ch_names)
    return correlation_rdm(category_geometry(N_STIM, seed=7, n_features=n_ch))[None]


@pytest.mark.parametrize("kind, method", [("eeg", "correlation"), ("meg", "crossnobis")])
def test_planted_geometry_is_recovered_in_its_window_only(tmp_path, monkeypatch, kind, method):
    rec = load_recording(str(_recording(tmp_path, monkeypatch, kind, method=method)))
    assert rec.time_resolved and rec.rdms["sensors"].shape == (2, N_TIMES, N_STIM, N_STIM)
    assert np.allclose(rec.times, TMIN + np.arange(N_TIMES) / SFREQ)
    # the planted geometry must show in the window and nowhere else
    res = timecourse_rsa(
        _planted_model(kind), rec.rdms["sensors"], rec.times, ["truth"], n_boot=200
    )
    inside = (rec.times >= WINDOW[0]) & (rec.times <= WINDOW[1])
    assert (res.score[0, inside] > 0.25).all(), res.score[0]
    assert (res.ci_low[0, inside] > 0).all()
    assert (np.abs(res.score[0, ~inside]) < 0.1).all(), res.score[0]
    assert WINDOW[0] <= res.peak_time[0] <= WINDOW[1]
    assert (res.nc_low[inside] > 0.3).all() and (np.abs(res.nc_low[~inside]) < 0.2).all()


def test_pairwise_decoding_recovers_the_window(tmp_path, monkeypatch):
    rec = load_recording(str(_recording(tmp_path, monkeypatch, "eeg", method="decoding")))
    acc = rec.rdms["sensors"].mean(axis=(0, 2, 3)) * N_STIM / (N_STIM - 1)  # mean accuracy - 0.5
    inside = (rec.times >= WINDOW[0]) & (rec.times <= WINDOW[1])
    assert acc[inside].min() > 0.15 and np.abs(acc[~inside]).max() < 0.05, acc


def test_missing_duplicated_and_unknown_event_codes_are_refused(tmp_path, monkeypatch):
    short = simulate_epochs("eeg", 0, n_stim=90)  # stimuli 91, 92 never shown
    man = _recording(tmp_path, monkeypatch, "eeg", n_subj=1, epochs=[short])
    with pytest.raises(
        RecordingError, match=r"sub-01-epo.fif: no epochs for event codes \[91, 92\]"
    ):
        load_recording(str(man))
    man = _recording(tmp_path / "b", monkeypatch, "eeg", n_subj=1, event_codes=[1] * 92)
    with pytest.raises(RecordingError, match=r"manifest.yaml: duplicated event codes \[1\]"):
        load_recording(str(man))
    shifted = simulate_epochs("eeg", 0, codes=np.arange(101, 193))
    man = _recording(
        tmp_path / "c",
        monkeypatch,
        "eeg",
        n_subj=1,
        epochs=[shifted],
        event_codes=list(range(101, 192)) + [500],
    )
    with pytest.raises(RecordingError, match=r"no epochs for event codes \[500\]"):
        load_recording(str(man))


def test_nan_channel_and_mismatched_times_are_refused(tmp_path, monkeypatch):
    ep = simulate_epochs("eeg", 0)
    ep._data[:, ep.ch_names.index("F4"), 5] = np.nan  # one sample of channel F4
    man = _recording(tmp_path, monkeypatch, "eeg", n_subj=1, epochs=[ep])
    with pytest.raises(RecordingError, match=r"sub-01-epo.fif.*non-finite.*channels \['F4'\]"):
        load_recording(str(man))
    cropped = simulate_epochs("eeg", 1).crop(0.0, None)
    man = _recording(
        tmp_path / "b", monkeypatch, "eeg", epochs=[simulate_epochs("eeg", 0), cropped]
    )
    with pytest.raises(RecordingError, match=r"sub-02-epo.fif: 14 time points .* differ"):
        load_recording(str(man))
