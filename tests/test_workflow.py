"""The real `snakemake` on the tiny config: outputs, contents, nothing redone on a second run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parent.parent
SNAKEMAKE = [
    sys.executable,
    "-m",
    "snakemake",
    "-s",
    str(REPO / "Snakefile"),
    "--configfile",
    str(REPO / "config" / "test.yaml"),
]

pytestmark = pytest.mark.needs_data


def _run(workdir: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [*SNAKEMAKE, "--directory", str(workdir), *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.fixture(scope="module")
def workflow_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("workflow")
    proc = _run(workdir, "--cores", "2")
    if proc.returncode != 0 and "DataUnavailableError" in proc.stderr + proc.stdout:
        pytest.skip("public data unavailable")
    assert proc.returncode == 0, proc.stderr[-4000:]
    return workdir


def test_workflow_writes_every_output(workflow_run):
    res = workflow_run / "results"
    for name in (
        "scores.csv",
        "ranking.csv",
        "pairwise.csv",
        "accuracy.csv",
        "metrics.json",
        "report/index.html",
        "checkpoints/bp/mlp/mnist/seed0.pt",
        "activations/bp/mlp/mnist/seed0/objects92.npz",
        "scores/random/mlp/mnist/seed0/algonauts2019-92.csv",
    ):
        assert (res / name).is_file(), name
    assert not list(res.rglob(".tmp-*")), "temporary files left behind"


def test_workflow_tables_are_complete_and_sane(workflow_run):
    res = workflow_run / "results"
    scores = pd.read_csv(res / "scores.csv")
    assert set(scores["rule"]) == {"bp", "random"}
    assert set(zip(scores["recording"], scores["roi"], strict=True)) == {
        ("algonauts2019-92", "EVC"),
        ("algonauts2019-92", "IT"),
        ("kriegeskorte2008-mit", "IT"),
    }
    assert set(scores["layer"]) == {"fc1", "fc2", "out", "best_cv"}
    alg = scores[(scores["recording"] == "algonauts2019-92") & (scores["method"] == "r2_spearman")]
    assert alg.groupby("roi")["noise_ceiling_high"].first().round(3).to_dict() == {
        "EVC": 0.159,
        "IT": 0.308,
    }
    assert (
        scores["ci_low"].dropna() <= scores.loc[scores["ci_low"].notna(), "score"] + 1e-12
    ).all()
    ranking = pd.read_csv(res / "ranking.csv")
    assert len(ranking) == 2 * 3 * 2  # rules x (recording, roi) x methods
    assert set(ranking["rank"]) == {1, 2}
    acc = pd.read_csv(res / "accuracy.csv").set_index("rule")["test_accuracy"]
    assert acc["bp"] > 0.6 and acc["random"] < 0.2
    metrics = json.loads((res / "metrics.json").read_text())
    assert metrics["accuracy"]["bp/mlp/mnist"] == pytest.approx(acc["bp"], abs=1e-4)
    html = (res / "report" / "index.html").read_text()
    assert html.count("data:image/png;base64,") >= 8 and "algonauts2019-92" in html


def test_second_run_does_no_work(workflow_run):
    proc = _run(workflow_run, "--cores", "1", "--dry-run")
    assert proc.returncode == 0
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_same_seed_gives_identical_scores(workflow_run, tmp_path):
    proc = _run(tmp_path, "--cores", "2", "results/scores/bp/mlp/mnist/seed0/algonauts2019-92.csv")
    assert proc.returncode == 0, proc.stderr[-3000:]
    rel = "results/scores/bp/mlp/mnist/seed0/algonauts2019-92.csv"
    assert (tmp_path / rel).read_bytes() == (workflow_run / rel).read_bytes()


def test_snakemake_report_works(workflow_run):
    proc = _run(workflow_run, "--cores", "1", "--report", str(workflow_run / "report.zip"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (workflow_run / "report.zip").stat().st_size > 10_000
