"""Checkpoints are byte-identical between runs; corrupt checkpoints and resume files are named and
rebuilt, never reused silently (issue 26, items 5 and 6)."""

from __future__ import annotations

import hashlib
import json
import os
import sys

import numpy as np
import pytest

from brain_data.errors import CorruptFileError
from pipelines import train
from pipelines._io import load_torch, save_torch

PARAMS = {
    "rule": "bp", "arch": "mlp", "trainset": "mnist", "seed": 0, "hparams": {},
    "arch_params": {"hidden": [8], "activation": "relu"},
    "training": {"epochs": 2, "batch_size": 16, "n_train": None, "n_test": None},
}  # fmt: skip


@pytest.fixture
def tiny_data(tmp_path):
    """A fake MNIST-shaped training set: 64 training and 16 test images."""
    rng = np.random.default_rng(0)
    path = tmp_path / "tiny.npz"
    np.savez(
        path,
        x_train=rng.integers(0, 255, (64, 28, 28, 1), dtype=np.uint8),
        y_train=rng.integers(0, 10, 64).astype(np.int64),
        x_test=rng.integers(0, 255, (16, 28, 28, 1), dtype=np.uint8),
        y_test=rng.integers(0, 10, 16).astype(np.int64),
    )
    return path


def _train(monkeypatch, data, out, params=PARAMS):
    out.mkdir(parents=True, exist_ok=True)
    argv = ["train", "--data", str(data), "--params", json.dumps(params, sort_keys=True),
            "--checkpoint", str(out / "seed0.pt"), "--record", str(out / "seed0.json"),
            "--snapshots", str(out / "seed0_snapshots.pt")]  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)
    train.main()
    return out / "seed0.pt", json.loads((out / "seed0.json").read_text())


def test_same_config_and_seed_give_byte_identical_checkpoints(tmp_path, monkeypatch, tiny_data):
    monkeypatch.chdir(tmp_path)
    a, rec_a = _train(monkeypatch, tiny_data, tmp_path / "a")
    monkeypatch.setattr(os, "getpid", lambda: 17526)  # another job: other temporary file names
    b, rec_b = _train(monkeypatch, tiny_data, tmp_path / "b")
    assert a.read_bytes() == b.read_bytes()
    assert rec_a["checkpoint_sha256"] == hashlib.sha256(a.read_bytes()).hexdigest()
    assert rec_a["checkpoint_sha256"] == rec_b["checkpoint_sha256"]
    snaps = [d / "seed0_snapshots.pt" for d in (tmp_path / "a", tmp_path / "b")]
    assert snaps[0].read_bytes() == snaps[1].read_bytes()
    assert rec_a["snapshots_sha256"] == hashlib.sha256(snaps[0].read_bytes()).hexdigest()


def test_one_job_for_several_seeds_writes_what_one_job_per_seed_does(
    tmp_path, monkeypatch, tiny_data
):
    """The workflow trains every seed of a (rule, network) in one process: each seed's checkpoint,
    snapshots and record equal those of a job for that seed alone."""
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "many"
    out.mkdir()
    names = [(f"seed{s}.pt", f"seed{s}_snapshots.pt", f"seed{s}.json") for s in (0, 1)]
    params = {**{k: v for k, v in PARAMS.items() if k != "seed"}, "seeds": [0, 1]}
    argv = ["train", "--data", str(tiny_data), "--params", json.dumps(params, sort_keys=True),
            "--checkpoints", *(str(out / n[0]) for n in names),
            "--snapshots", *(str(out / n[1]) for n in names),
            "--records", *(str(out / n[2]) for n in names)]  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)
    train.main()
    for seed, (ckpt, snaps, record) in zip((0, 1), names, strict=True):
        alone = tmp_path / f"alone{seed}"
        _train(monkeypatch, tiny_data, alone, {**PARAMS, "seed": seed})
        assert (out / ckpt).read_bytes() == (alone / "seed0.pt").read_bytes()
        assert (out / snaps).read_bytes() == (alone / "seed0_snapshots.pt").read_bytes()
        rec, rec1 = (json.loads(p.read_text()) for p in (out / record, alone / "seed0.json"))
        for volatile in ("wall_time_s", "curves"):
            rec.pop(volatile), rec1.pop(volatile)
        assert rec == rec1 and rec["seed"] == seed
    assert (out / "seed0.pt").read_bytes() != (out / "seed1.pt").read_bytes()


def test_a_seed_count_that_differs_from_the_outputs_is_refused(tmp_path, monkeypatch, tiny_data):
    params = {**{k: v for k, v in PARAMS.items() if k != "seed"}, "seeds": [0, 1]}
    argv = ["train", "--data", str(tiny_data), "--params", json.dumps(params),
            "--checkpoints", "a.pt", "--snapshots", "a_s.pt", "--records", "a.json"]  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(ValueError, match="2 seeds but 1 checkpoints"):
        train.main()


def test_save_torch_bytes_do_not_depend_on_the_file_name(tmp_path):
    import torch

    obj = {"w": torch.arange(6.0).reshape(2, 3)}
    assert save_torch(tmp_path / "x.pt", obj) == save_torch(tmp_path / "other-name.pt", obj)
    assert (tmp_path / "x.pt").read_bytes() == (tmp_path / "other-name.pt").read_bytes()
    assert list(tmp_path.iterdir()) and not list(tmp_path.glob(".tmp-*"))


def test_truncated_checkpoint_is_named_and_moved_aside(tmp_path):
    import torch

    path = tmp_path / "seed0.pt"
    digest = save_torch(path, {"w": torch.ones(100)})
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(CorruptFileError, match=r"seed0.pt: corrupt checkpoint.*not a readable"):
        load_torch(path, what="checkpoint")
    assert not path.exists() and (tmp_path / "seed0.pt.corrupt").exists()
    # an altered but readable checkpoint (mtime kept) is caught by the run record's hash
    save_torch(path, {"w": torch.zeros(100)})
    with pytest.raises(CorruptFileError, match=rf"seed0.pt: corrupt checkpoint.*says {digest}"):
        load_torch(path, digest, what="checkpoint")
    assert not path.exists()


def test_extract_refuses_snapshots_that_differ_from_their_record(tmp_path, monkeypatch, tiny_data):
    from pipelines import extract

    monkeypatch.chdir(tmp_path)
    _, rec = _train(monkeypatch, tiny_data, tmp_path / "run")
    snaps = tmp_path / "run" / "seed0_snapshots.pt"
    rec["snapshots_sha256"] = "0" * 64
    (tmp_path / "run" / "seed0.json").write_text(json.dumps(rec))
    argv = ["extract", "--records", str(tmp_path / "run" / "seed0.json"), "--snapshots", str(snaps),
            "--stimset", "objects92", "--snapshots-out", str(tmp_path / "t.npz"),
            "--activations-out", str(tmp_path / "a.npz"),
            "--rdms-out", str(tmp_path / "r.npz")]  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(CorruptFileError, match=r"seed0_snapshots.pt: corrupt snapshot file"):
        extract.main()
    assert not snaps.exists() and not (tmp_path / "a.npz").exists()
    assert not (tmp_path / "t.npz").exists()


def test_corrupt_resume_file_restarts_training(tmp_path, monkeypatch, tiny_data, capsys):
    monkeypatch.chdir(tmp_path)
    ref, _ = _train(monkeypatch, tiny_data, tmp_path / "ref")
    out = tmp_path / "run"
    out.mkdir()
    (out / "seed0.resume.pt").write_bytes(b"PK\x03\x04 truncated")
    ckpt, _ = _train(monkeypatch, tiny_data, out)
    assert "seed0.resume.pt: corrupt resume file" in capsys.readouterr().err
    assert ckpt.read_bytes() == ref.read_bytes()
    assert not (out / "seed0.resume.pt").exists()


def test_a_truncated_run_record_is_named_and_moved_aside(tmp_path):
    from pipelines._io import read_json

    (tmp_path / "seed0.json").write_text('{"rule": "bp", ')
    with pytest.raises(CorruptFileError, match=r"seed0.json: corrupt JSON"):
        read_json(tmp_path / "seed0.json")
    assert (tmp_path / "seed0.json.corrupt").exists() and not (tmp_path / "seed0.json").exists()


def test_a_step_failing_on_a_truncated_cache_names_it_and_sets_it_aside(tmp_path, monkeypatch):
    """compare reads results/brain/<id>.npz with np.load; truncated, it raised a bare BadZipFile."""
    from analyses.model_table import ModelTable
    from pipelines import compare
    from pipelines._io import run_main

    brain, model = tmp_path / "brain.npz", tmp_path / "rdms.npz"
    np.savez_compressed(brain, rdms=np.ones((3, 5, 5)))
    table = ModelTable.empty(5)
    rdm = np.ones((5, 5)) - np.eye(5)
    table.add(
        {"a": rdm},
        rule="bp",
        arch="mlp",
        trainset="mnist",
        seed=0,
        snapshot=0,
        examples_seen=0,
        test_accuracy=0.1,
        final=True,
        kind="rule",
    )
    np.savez_compressed(model, **table.to_arrays())
    brain.write_bytes(brain.read_bytes()[:60])
    params = json.dumps(
        {"recording": "r", "methods": ["spearman"], "n_boot": 10, "n_splits": 2, "boot_seed": 0}
    )
    argv = ["compare", "--table", str(model), "--brain", str(brain), "--params", params,
            "--out", str(tmp_path / "s.csv"), "--subjects-out", str(tmp_path / "sub.csv"),
            "--trajectory-out", str(tmp_path / "t.csv")]  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as info:
        run_main(compare.main)
    assert info.value.code == 1
    assert not brain.exists() and (tmp_path / "brain.npz.corrupt").exists()
    assert model.exists() and not (tmp_path / "s.csv").exists()
