"""The encoding step: a layer that linearly carries the responses beats one that does not."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent


def test_encode_step_ranks_the_informative_layer_first(tmp_path):
    rng = np.random.default_rng(0)
    n_set, stim = 40, np.arange(5, 35)  # the recording covers 30 of 40 stimuli
    good = rng.normal(size=(n_set, 20)).astype(np.float32)
    noise = rng.normal(size=(n_set, 20)).astype(np.float32)
    w = rng.normal(size=(20, 50))
    resp = np.stack([good[stim] @ w + 0.5 * rng.normal(size=(30, 50)) for _ in range(2)])
    np.savez(tmp_path / "acts.npz", layers=np.array(["good", "noise"]), good=good, noise=noise)
    np.savez(tmp_path / "brain.npz", stimuli=stim, rois=np.array(["V1", "IT"]),
             responses_V1=resp, rdm_V1=np.zeros((2, 30, 30)), rdm_IT=np.zeros((2, 30, 30)))  # fmt: skip
    params = {"rule": "bp", "arch": "mlp", "trainset": "mnist", "seed": 0, "recording": "sim",
              "n_components": 10, "n_folds": 5, "cv_seed": 0}  # fmt: skip
    cmd = [sys.executable, "-m", "pipelines.encode", "run", "--activations", str(tmp_path / "acts.npz"),
           "--brain", str(tmp_path / "brain.npz"), "--params", json.dumps(params),
           "--out", str(tmp_path / "out.csv")]  # fmt: skip
    subprocess.run(cmd, check=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    out = pd.read_csv(tmp_path / "out.csv")
    assert set(out["roi"]) == {"V1"}  # IT has RDMs only
    assert set(out["subject"]) == {1, 2} and (out["n_channels"] == 50).all()
    by_layer = out.groupby("layer")["r_mean"].mean()
    assert by_layer["good"] > 0.5 and by_layer["noise"] < 0.1  # CV r of noise: <= 0
    assert out["ev_nc_mean"].isna().all()  # no repetitions -> no ceiling is invented


def test_response_recording_gets_encoding_jobs_and_rdm_recordings_do_not(tmp_path):
    base = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--configfile",
            str(REPO / "config" / "test.yaml"), "--directory", str(tmp_path), "-n", "--quiet", "rules"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with_nsd = subprocess.run(
        [*base, "--config", 'recordings=["nsd-algonauts2023-subj01-20","kriegeskorte2008-mit"]'],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert with_nsd.returncode == 0, with_nsd.stderr[-3000:]
    assert "encode" in with_nsd.stdout and "aggregate_encoding" in with_nsd.stdout
    without = subprocess.run(base, capture_output=True, text=True, env=env)
    assert without.returncode == 0, without.stderr[-3000:]
    assert "encode" not in without.stdout
