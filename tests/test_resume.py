"""Interrupted training resumes exactly: same weights as an uninterrupted run, no half outputs."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from models.training import build_rule, optimizers, train

REPO = Path(__file__).resolve().parent.parent
ARCH = {"hidden": [64, 32], "activation": "relu"}


def _roundtrip(state: dict) -> dict:
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


@pytest.mark.parametrize(
    "rule_id, schedule",
    [("bp", "constant"), ("np", "constant"), ("dni", "constant"), ("hebbian", "constant"),
     ("bp", "cosine")],
)  # fmt: skip
def test_resumed_training_equals_uninterrupted(rule_id, schedule, mnist_small):
    x, y = mnist_small["x_train"][:1024], mnist_small["y_train"][:1024]
    xt, yt = mnist_small["x_test"][:200], mnist_small["y_test"][:200]

    def run(epochs, resume=None, keep=None):
        rule = build_rule(rule_id, "mlp", x.shape[1:], 10, arch_params=ARCH, seed=3)
        res = train(
            rule,
            x,
            y,
            xt,
            yt,
            epochs=epochs,
            batch_size=64,
            seed=3,
            log_every=0,
            lr_schedule=schedule,
            resume=resume,
            on_epoch=None if keep is None else lambda s: keep.append(_roundtrip(s)),
        )
        return rule, res

    whole, whole_res = run(3)
    saved: list[dict] = []
    run(1, keep=saved)  # "interrupted" after epoch 1
    assert saved and saved[-1]["epoch"] == 1
    resumed, resumed_res = run(3, resume=saved[-1])
    assert resumed_res.curves == whole_res.curves
    for k, v in whole.state_dict().items():
        assert torch.equal(v, resumed.state_dict()[k]), k
    assert optimizers(whole).keys() == saved[-1]["optimizers"].keys()


def _train_cmd(data: Path, out: Path, params: dict) -> list[str]:
    return [
        sys.executable, "-m", "pipelines.train", "--data", str(data), "--params", json.dumps(params),
        "--checkpoint", str(out / "seed0.pt"), "--record", str(out / "seed0.json"),
        "--snapshots", str(out / "seed0_snapshots.pt"), "--log", str(out / "train.log"),
    ]  # fmt: skip


@pytest.mark.needs_data
def test_killed_training_job_resumes_and_leaves_no_complete_looking_output(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    data = tmp_path / "mnist.npz"
    prep = [sys.executable, "-m", "pipelines.prepare", "--trainset", "mnist", "--out", str(data)]
    proc = subprocess.run(prep, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"MNIST unavailable: {proc.stderr[-300:]}")
    params = {
        "rule": "bp", "arch": "mlp", "trainset": "mnist", "seed": 0, "hparams": {},
        "arch_params": ARCH,
        "training": {"epochs": 3, "batch_size": 16, "n_train": 12000, "n_test": 500},
        "snapshots": [0, 0.01, 0.3, 0.5, 1],
    }  # fmt: skip
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    killed.mkdir(), whole.mkdir()
    job = subprocess.Popen(_train_cmd(data, killed, params), env=env)
    resume_file = killed / "seed0.resume.pt"
    deadline = time.monotonic() + 300
    while not resume_file.exists() and job.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert job.poll() is None, "training finished before it could be interrupted"
    job.send_signal(signal.SIGKILL)
    job.wait()
    assert not (killed / "seed0.pt").exists() and not (killed / "seed0.json").exists()
    assert torch.load(resume_file, weights_only=True)["epoch"] == 1

    for out in (killed, whole):
        subprocess.run(_train_cmd(data, out, params), env=env, check=True)
    assert "resuming after epoch 1" in (killed / "train.log").read_text()
    assert not resume_file.exists(), "resume state must be removed once training completes"
    a = torch.load(killed / "seed0.pt", weights_only=True)
    b = torch.load(whole / "seed0.pt", weights_only=True)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    rec_a, rec_b = (json.loads((d / "seed0.json").read_text()) for d in (killed, whole))
    assert rec_a["curves"] == rec_b["curves"]
    # snapshots taken before the kill survive it: the resumed run has the uninterrupted one's
    assert rec_a["snapshots"] == rec_b["snapshots"] and len(rec_a["snapshots"]) == 5
    sa, sb = (torch.load(d / "seed0_snapshots.pt", weights_only=True) for d in (killed, whole))
    assert torch.equal(sa["examples_seen"], sb["examples_seen"])
    for x, y in zip(sa["states"], sb["states"], strict=True):
        assert all(torch.equal(x[k], y[k]) for k in x)
