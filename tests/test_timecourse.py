"""Time-course RSA: equals a plain loop, recovers a planted window; the step and the figures."""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from analyses.rdm import upper_tri
from analyses.timecourse import timecourse_rsa
from pipelines import compare_time
from reports.timecourse import timecourse_figures
from tests.recording_fixtures import random_rdms

N, T = 20, 12


def _planted(n_subj=8, seed=0):
    """Brain RDMs that equal layer 'b' (+ noise) at times 4..7 and are noise elsewhere."""
    rng = np.random.default_rng(seed)
    models = random_rdms((3,), N, seed=1)
    brain = random_rdms((n_subj, T), N, seed=2 + seed)
    brain[:, 4:8] += 3 * models[1] * (1 + 0.2 * rng.random((n_subj, 4, 1, 1)))
    return models, (brain + np.swapaxes(brain, -1, -2)) / 2


def test_timecourse_equals_a_plain_loop_and_finds_the_window():
    models, brain = _planted()
    times = np.arange(T) * 0.01
    res = timecourse_rsa(models, brain, times, ["a", "b", "c"], n_boot=200, seed=0)
    loop = np.array(
        [
            [
                np.mean(
                    [spearmanr(upper_tri(m), upper_tri(brain[s, t]))[0] for s in range(len(brain))]
                )
                for t in range(T)
            ]
            for m in models
        ]
    )
    np.testing.assert_allclose(res.score, loop, atol=1e-10)
    assert (res.score[1, 4:8] > 0.5).all() and (np.abs(res.score[1, :4]) < 0.3).all()
    assert 0.04 <= res.peak_time[1] <= 0.07 and res.peak_ci[1, 0] >= 0.04
    assert (res.ci_low <= res.score + 1e-12).all() and (res.score <= res.ci_high + 1e-12).all()
    assert (res.nc_low[4:8] > 0.5).all() and res.bootstrap == "subjects"
    significant = res.cluster_p[1] < 0.05  # the planted window forms one significant cluster
    assert significant[4:8].all() and not significant[:3].any() and not significant[9:].any()


def test_single_rdm_recording_uses_stimulus_bootstrap_and_no_ceiling():
    models, brain = _planted(n_subj=1)
    res = timecourse_rsa(models, brain, np.arange(T) * 0.01, ["a", "b", "c"], n_boot_stimuli=30)
    assert res.bootstrap == "stimuli" and np.isnan(res.nc_high).all()
    assert (res.ci_low[1, 4:8] > 0).all()


def test_compare_time_step_writes_tables_and_figures(tmp_path, monkeypatch):
    models, brain = _planted()
    stim = np.arange(N)[::-1]  # recording order differs from the stimulus set's
    model_f, brain_f = tmp_path / "model.npz", tmp_path / "brain.npz"
    np.savez(model_f, layers=np.array(["a", "b", "c"]), rdms=models[:, stim][:, :, stim])
    np.savez(
        brain_f,
        stimuli=stim,
        rois=np.array(["sensors"]),
        rdm_sensors=brain,
        times=np.arange(T) * 0.01,
    )
    params = {
        "rule": "bp",
        "arch": "mlp",
        "trainset": "mnist",
        "seed": 0,
        "recording": "sim",
        "methods": ["spearman"],
        "n_boot": 100,
        "boot_seed": 0,
    }
    out, peaks = tmp_path / "tc.csv", tmp_path / "peaks.csv"
    monkeypatch.setattr(
        sys,
        "argv",
        [
            "x",
            "compare",
            "--model-rdms",
            str(model_f),
            "--brain",
            str(brain_f),
            "--params",
            json.dumps(params),
            "--out",
            str(out),
            "--peaks-out",
            str(peaks),
        ],
    )
    compare_time.main()
    frame, pk = pd.read_csv(out), pd.read_csv(peaks)
    assert len(frame) == 3 * T and set(frame["recording"]) == {"sim"}
    assert pk.set_index("layer").loc["b", "peak_time"] == pytest.approx(0.05, abs=0.021)
    figs = timecourse_figures(frame, pk)
    assert set(figs) == {"timecourse_sim_sensors_spearman", "fusion_sim_sensors_spearman"}
    assert all(v.startswith(b"\x89PNG") for v in figs.values())


def test_compare_time_refuses_a_static_recording(tmp_path, monkeypatch):
    np.savez(
        tmp_path / "b.npz", stimuli=np.arange(N), rois=np.array(["IT"]), rdm_IT=random_rdms((2,), N)
    )
    np.savez(tmp_path / "m.npz", layers=np.array(["a"]), rdms=random_rdms((1,), N))
    monkeypatch.setattr(
        sys,
        "argv",
        [
            "x",
            "compare",
            "--model-rdms",
            str(tmp_path / "m.npz"),
            "--brain",
            str(tmp_path / "b.npz"),
            "--params",
            "{}",
            "--out",
            str(tmp_path / "o.csv"),
            "--peaks-out",
            str(tmp_path / "p.csv"),
        ],
    )
    from brain_data.errors import RecordingError

    with pytest.raises(RecordingError, match=r"b.npz: not a time-resolved recording"):
        compare_time.main()
    assert not (tmp_path / "o.csv").exists()


@pytest.mark.parametrize("method", ["spearman", "pearson"])
def test_vectorised_noise_ceiling_equals_the_per_time_loop(method):
    from analyses.rsa import noise_ceiling
    from analyses.timecourse import noise_ceiling_timecourse

    _, brain = _planted(n_subj=5)
    data = upper_tri(brain)  # (S, T, p)
    fast = noise_ceiling_timecourse(data, method)
    for t in range(T):
        nc = noise_ceiling(data[:, t], method)
        assert fast[:, t] == pytest.approx([nc.lower, nc.upper], abs=1e-10)
