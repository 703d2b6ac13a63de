"""The real `snakemake` on the tiny config: outputs, contents, nothing redone on a second run."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

from tests import browser

REPO = Path(__file__).resolve().parent.parent


def _run(workdir: Path, *extra: str, code: Path = REPO) -> subprocess.CompletedProcess:
    """The real snakemake on the tiny config, with the Snakefile and modules of ``code`` (run from
    there: `python -m` puts the current directory first on sys.path)."""
    cmd = [sys.executable, "-m", "snakemake", "-s", str(code / "Snakefile"), "--configfile",
           str(code / "config" / "test.yaml"), "--directory", str(workdir), *extra]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(code)}
    cwd = None if code == REPO else code
    return subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=900)


pytestmark = pytest.mark.needs_data


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
        "trajectories.csv",
        "checkpoints/bp/mlp/mnist/seed0.pt",
        "checkpoints/bp/mlp/mnist/seed0_snapshots.pt",
        "activations/bp/mlp/mnist/seed0/objects92.npz",
        "rdms/bp/objects92_snapshots.npz",
        "controls/pixels/objects92.npz",
        "scores/random/algonauts2019-92.csv",
        "scores/pixels/algonauts2019-92_trajectory.csv",
    ):
        assert (res / name).is_file(), name
    assert not list(res.rglob(".tmp-*")), "temporary files left behind"


def test_workflow_tables_are_complete_and_sane(workflow_run):
    res = workflow_run / "results"
    scores = pd.read_csv(res / "scores.csv")
    assert set(scores["rule"]) == {"bp", "random", "pixels", "category"}
    assert set(scores["match"]) == {"examples", "accuracy"}
    assert set(zip(scores["recording"], scores["roi"], strict=True)) == {
        ("algonauts2019-92", "EVC"),
        ("algonauts2019-92", "IT"),
        ("kriegeskorte2008-mit", "IT"),
    }
    assert set(scores["layer"]) == {"fc1", "fc2", "out", "best_cv", "pixels", "category"}
    alg = scores[(scores["recording"] == "algonauts2019-92") & (scores["method"] == "r2_spearman")]
    assert alg.groupby("roi")["noise_ceiling_high"].first().round(3).to_dict() == {
        "EVC": 0.159,
        "IT": 0.308,
    }
    assert (
        scores["ci_low"].dropna() <= scores.loc[scores["ci_low"].notna(), "score"] + 1e-12
    ).all()
    ranking = pd.read_csv(res / "ranking.csv")
    # (rules + controls) x (recording, roi) x methods x matches
    assert len(ranking) == 4 * 3 * 2 * 2
    assert set(ranking["rank"]) == {1, 2, 3, 4}
    kinds = ranking.drop_duplicates("rule").set_index("rule")["kind"].to_dict()
    assert kinds == {"bp": "rule", "random": "control", "pixels": "control", "category": "control"}
    # bp reaches the test config's matched accuracy (0.5) before its final snapshot
    bp = ranking[(ranking["rule"] == "bp")].set_index("match")
    assert bp.loc["accuracy", "examples_seen"].max() < bp.loc["examples", "examples_seen"].min()
    traj = pd.read_csv(res / "trajectories.csv")
    bp_traj = traj[(traj["rule"] == "bp") & (traj["layer"] == "best_cv")]
    assert sorted(bp_traj["examples_seen"].unique()) == [0, 256, 640, 2000]
    # the first snapshot is the untrained network: the same scores as the random control
    first = bp_traj[bp_traj["snapshot"] == 0].set_index(["recording", "roi", "method"])["score"]
    rand = traj[(traj["rule"] == "random") & (traj["layer"] == "best_cv")]
    rand = rand.set_index(["recording", "roi", "method"])["score"]
    assert first.sort_index().to_numpy() == pytest.approx(rand.sort_index().to_numpy())
    acc = pd.read_csv(res / "accuracy.csv").set_index("rule")["test_accuracy"]
    assert acc["bp"] > 0.6 and acc["random"] < 0.2
    budget = pd.read_csv(res / "accuracy.csv").set_index("rule")["examples_seen"]
    assert budget["bp"] == 2000 and budget["random"] == 0
    metrics = json.loads((res / "metrics.json").read_text())
    assert metrics["accuracy"]["bp/mlp/mnist"] == pytest.approx(acc["bp"], abs=1e-4)
    html = (res / "report" / "index.html").read_text()
    assert html.count("data:image/png;base64,") >= 8 and "algonauts2019-92" in html


def test_light_steps_run_in_long_lived_workers(workflow_run):
    """profiles/default is read by Snakemake itself: every extraction, control, ceilings,
    comparison and recording job ran in a worker of one Snakemake process, fewer workers than
    jobs (its log's first line names both)."""
    logs = workflow_run / "logs"
    heads = {
        p: p.read_text().splitlines()[0]
        for step in ("extract", "control", "ceilings", "compare", "brain_rdms")
        for p in (logs / step).rglob("*.log")
    }
    assert len(heads) >= 10
    found = [re.search(r"step worker pid (\d+) of snakemake pid (\d+)", h) for h in heads.values()]
    assert None not in found, "a step ran in a process of its own"
    assert len({m.group(2) for m in found}) == 1
    assert len({m.group(1) for m in found}) <= len(found) // 3  # each worker ran several jobs


def test_second_run_does_no_work(workflow_run):
    proc = _run(workflow_run, "--cores", "1", "--dry-run")
    assert proc.returncode == 0
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_same_seed_gives_identical_scores(workflow_run, tmp_path):
    proc = _run(tmp_path, "--cores", "2", "results/scores.csv")
    assert proc.returncode == 0, proc.stderr[-3000:]
    rel = "results/scores.csv"
    assert (tmp_path / rel).read_bytes() == (workflow_run / rel).read_bytes()
    # torch.save embeds a random serialization id, so checkpoints are compared tensor by tensor
    ckpt = "results/checkpoints/bp/mlp/mnist/seed0.pt"
    a, b = (torch.load(d / ckpt, weights_only=True) for d in (tmp_path, workflow_run))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_snakemake_report_works(workflow_run):
    proc = _run(workflow_run, "--cores", "1", "--report", str(workflow_run / "report.zip"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (workflow_run / "report.zip").stat().st_size > 10_000


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _project_copy(run: Path, work: Path) -> Path:
    """A finished run (results and Snakemake's metadata) with a copy of the project's code beside it."""
    shutil.copytree(run, work, ignore=shutil.ignore_patterns("report.zip"))
    for name in ("Snakefile", "dvc.yaml"):
        shutil.copy2(REPO / name, work / name)
    for name in ("workflow", "config", "models", "brain_data", "analyses", "pipelines", "reports"):
        shutil.copytree(REPO / name, work / name, ignore=shutil.ignore_patterns("__pycache__"))
    return work


def test_editing_code_reruns_the_steps_that_run_it_only(workflow_run, tmp_path):
    """Every step's params carry a digest of the code it runs: Snakemake's params trigger retrains
    the rule whose module changed, every rule when shared model code changed, and redoes the
    comparisons, not the training, when analysis code changed."""
    work = _project_copy(workflow_run, tmp_path / "project")

    def changed() -> set[str]:
        proc = _run(work, "--list-changes", "params", code=work)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return set(proc.stdout.split())

    def edit(rel: str) -> set[str]:
        """Outputs whose params changed because of this edit."""
        path = work / rel
        path.write_text(path.read_text() + "\n# edited\n")
        new = changed() - seen
        seen.update(new)
        return new

    def trained(files: set[str]) -> set[str]:
        return set(re.findall(r"results/checkpoints/(\w+)/\S+\.pt\b", " ".join(files)))

    # The same code in another directory: no training. (Snakemake also lists some secondary outputs
    # here, e.g. `*_resamples.npz`, though a dry run has nothing to do: only what each edit adds counts.)
    seen = changed()
    assert not trained(seen)
    analysis = edit("analyses/rsa.py")
    assert "results/scores/bp/algonauts2019-92.csv" in analysis and not trained(analysis)
    assert trained(edit("models/rules/baselines/bp.py")) == {"bp"}
    assert trained(edit("models/arch.py")) == {"random"}  # and bp's, already changed


def _dvc(cwd: Path, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "dvc", *args], cwd=cwd, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, f"dvc {' '.join(args)}: {proc.stdout[-2000:]}{proc.stderr[-2000:]}"
    return proc.stdout


def test_dvc_push_pull_restores_identical_outputs_and_no_rerun(workflow_run, tmp_path):
    """Version a finished run with the repo's dvc.yaml, push, wipe, pull: same bytes, no work."""
    pytest.importorskip("dvc")
    work = _project_copy(workflow_run, tmp_path / "project")
    _dvc(work, "init", "--no-scm", "-q")
    _dvc(work, "config", "core.analytics", "false")
    _dvc(work, "remote", "add", "-d", "store", str(tmp_path / "remote"))
    _dvc(work, "commit", "-f", "pipeline")
    before = _digests(work / "results")
    _dvc(work, "push", "pipeline")
    shutil.rmtree(work / ".dvc" / "cache")
    for out in (work / "results").iterdir():
        if out.name not in ("metrics.json", "curves.csv"):  # git-tracked in a real project
            shutil.rmtree(out) if out.is_dir() else out.unlink()
    _dvc(work, "pull", "pipeline")
    assert _digests(work / "results") == before
    assert "metrics" in _dvc(work, "metrics", "show")
    touched = _run(work, "--cores", "1", "--touch")
    assert touched.returncode == 0, touched.stderr[-3000:]
    dry = _run(work, "--cores", "1", "--dry-run")
    assert "Nothing to be done" in dry.stdout + dry.stderr, dry.stdout[-3000:]
    assert _digests(work / "results") == before


_PROBE = """<script>window.addEventListener('load', () => {
  document.querySelectorAll('details').forEach(d => { d.open = true; });  // figures are in details
  const all = [...document.images];
  const shown = all.filter(i => i.complete && i.naturalWidth > 0 && i.getBoundingClientRect().width > 0);
  document.body.dataset.images = all.length; document.body.dataset.shown = shown.length;
});</script>"""


def test_report_renders_every_figure_in_headless_chromium(workflow_run, tmp_path):
    chromium = browser.chromium()  # skips without Chromium, fails under CI=true
    html = (workflow_run / "results" / "report" / "index.html").read_text()
    n_figures = html.count("data:image/png;base64,")
    page = tmp_path / "index.html"
    page.write_text(html.replace("</body>", _PROBE + "</body>"))
    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=10000", "--dump-dom",
    ]  # fmt: skip
    proc = subprocess.run(
        [chromium, *flags, page.as_uri()], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    body = re.search(r"<body[^>]*>", proc.stdout)
    assert body, proc.stdout[:2000]
    images = re.search(r'data-images="(\d+)"', body.group(0))
    shown = re.search(r'data-shown="(\d+)"', body.group(0))
    assert images and shown, body.group(0)
    assert int(images.group(1)) == n_figures >= 8
    assert int(shown.group(1)) == n_figures, "some figures are not rendered"
