"""The SLURM profile against a real SLURM controller (opt-in: BIOALIGN_TEST_SLURM=1 and `sinfo` works).

On a single machine: Debian's slurm-wlm + munge with one node (see README, "Cluster / GPU").
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _slurm_up() -> bool:
    if os.environ.get("BIOALIGN_TEST_SLURM") != "1" or shutil.which("sinfo") is None:
        return False
    return subprocess.run(["sinfo"], capture_output=True).returncode == 0


@pytest.mark.slow
@pytest.mark.needs_data
@pytest.mark.skipif(not _slurm_up(), reason="set BIOALIGN_TEST_SLURM=1 with a running SLURM")
def test_slurm_profile_runs_jobs_through_sbatch(tmp_path):
    target = "results/scores/bp/kriegeskorte2008-mit.csv"
    cmd = [
        sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"),
        "--configfile", str(REPO / "config" / "test.yaml"), "--directory", str(tmp_path),
        "--profile", str(REPO / "profiles" / "slurm"), "--slurm-no-account",
        "--slurm-status-command", "squeue", "--set-threads", "train=1",
        "--set-resources", "train:cpus_per_task=1", "train:mem_mb=2000", "--jobs", "2", target,
    ]  # fmt: skip
    proc = subprocess.run(
        cmd,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=1200,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "submitted with SLURM jobid" in out
    assert (tmp_path / target).is_file()
