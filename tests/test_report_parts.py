"""Report pieces: MDS geometry, training curves table, provenance."""

from __future__ import annotations

import numpy as np

from analyses.rdm import correlation_rdm
from pipelines.aggregate import curves_table
from reports.geometry import mds_embedding
from reports.provenance import git_commit, versions


def test_mds_keeps_two_clusters_apart():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(2, 30)) * 3
    x = np.concatenate(
        [centres[0] + rng.normal(size=(8, 30)), centres[1] + rng.normal(size=(8, 30))]
    )
    xy = mds_embedding(correlation_rdm(x))
    within = np.linalg.norm(xy[:8] - xy[:8].mean(0), axis=1).mean()
    between = np.linalg.norm(xy[:8].mean(0) - xy[8:].mean(0))
    assert between > 2 * within
    assert np.allclose(xy, mds_embedding(correlation_rdm(x)))  # seeded


def test_curves_table_is_tidy_per_epoch():
    rec = {"rule": "bp", "arch": "mlp", "trainset": "mnist", "seed": 0,
           "curves": {"epoch": [1, 2], "test_accuracy": [0.5, 0.7], "loss": [1.0, 0.5]}}  # fmt: skip
    t = curves_table([rec, {**rec, "rule": "random", "curves": {}}])
    assert list(t["epoch"]) == [1, 2] and list(t["test_accuracy"]) == [0.5, 0.7]
    assert set(t["rule"]) == {"bp"}


def test_provenance_names_commit_and_versions(tmp_path):
    assert git_commit(tmp_path) == "unknown"  # not a git checkout
    v = versions()
    assert v["python"].count(".") == 2 and v["torch"] != "not installed"
