"""Steps run by the worker pool write what ``python -m`` writes, each to its own log, and fail
with an exception that names the log (a data error) or with the step's own exception (a bug)."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from analyses.rdm import correlation_rdm
from pipelines._io import write_npz
from pipelines.workers import StepFailed, run_step

REPO = Path(__file__).resolve().parent.parent


def _brain(path: Path) -> Path:
    rng = np.random.default_rng(0)
    truth = rng.normal(size=(10, 4))
    rdms = np.stack([correlation_rdm(truth + rng.normal(size=(10, 4))) for _ in range(5)])
    write_npz(path, rois=np.array(["V1"]), rdm_V1=rdms)
    return path


def _args(brain: Path, out: Path, log: Path, seed: int) -> list:
    params = json.dumps({"methods": ["spearman"], "n_boot": 20, "boot_seed": seed, "ci": "both"})
    return ["--brain", brain, "--params", params, "--out", out, "--log", log]


def _in_thread(*args):
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run_step, *args).result()


def test_workers_write_what_processes_write(tmp_path):
    brain = _brain(tmp_path / "brain.npz")
    for seed in (1, 2):
        argv = [
            str(a) for a in _args(brain, tmp_path / f"p{seed}.npz", tmp_path / f"p{seed}.log", seed)
        ]
        subprocess.run([sys.executable, "-m", "pipelines.ceilings", *argv], check=True, cwd=REPO)
    with ThreadPoolExecutor(2) as pool:  # two steps at once, as Snakemake's threads run them
        jobs = [
            pool.submit(run_step, "pipelines.ceilings",
                        *_args(brain, tmp_path / f"t{seed}.npz", tmp_path / f"t{seed}.log", seed))
            for seed in (1, 2)
        ]  # fmt: skip
        for job in jobs:
            job.result()
    for seed in (1, 2):
        with np.load(tmp_path / f"p{seed}.npz") as a, np.load(tmp_path / f"t{seed}.npz") as b:
            assert a.files == b.files
            for key in a.files:
                np.testing.assert_array_equal(a[key], b[key])
        lines = (tmp_path / f"t{seed}.log").read_text().splitlines()
        assert "run by step worker" in lines[0] and f'"boot_seed": {seed}' in lines[0]
        assert len(lines) == 2, lines  # its own records only, not the other step's
    with np.load(tmp_path / "t1.npz") as a, np.load(tmp_path / "t2.npz") as b:
        assert not np.array_equal(a["ceilings"], b["ceilings"])


def test_a_data_error_raises_step_failed_naming_the_log(tmp_path):
    brain = _brain(tmp_path / "brain.npz")
    args = _args(brain, tmp_path / "c.npz", tmp_path / "c.log", 0)
    args[3] = json.dumps({"methods": ["nonsense"], "n_boot": 5, "boot_seed": 0})
    with pytest.raises(
        StepFailed, match=r"pipelines.ceilings exited with status 1; log: .*c\.log\n.*nonsense"
    ):
        _in_thread("pipelines.ceilings", *args)
    assert "nonsense" in (tmp_path / "c.log").read_text()
    assert not (tmp_path / "c.npz").exists()
    with pytest.raises(StepFailed, match="status 2"):  # argparse: a missing option
        _in_thread("pipelines.ceilings", "--brain", brain)


def test_a_bug_keeps_its_traceback(tmp_path):
    """Anything but a data error reaches Snakemake with the worker's traceback."""
    with pytest.raises(StepFailed, match=r"(?s)Traceback.*FileNotFoundError.*none\.npz"):
        _in_thread(
            "pipelines.ceilings",
            *_args(tmp_path / "none.npz", tmp_path / "o.npz", tmp_path / "o.log", 0),
        )


def test_a_killed_idle_worker_is_replaced(tmp_path):
    from pipelines import workers

    brain = _brain(tmp_path / "brain.npz")
    _in_thread("pipelines.ceilings", *_args(brain, tmp_path / "a.npz", tmp_path / "a.log", 0))
    for worker in workers._idle:
        worker.kill()
        worker.wait()
    _in_thread("pipelines.ceilings", *_args(brain, tmp_path / "b.npz", tmp_path / "b.log", 0))
    with np.load(tmp_path / "a.npz") as a, np.load(tmp_path / "b.npz") as b:
        np.testing.assert_array_equal(a["ceilings"], b["ceilings"])
