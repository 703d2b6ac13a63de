"""The hidden-layer probe benchmark: its rows, its summary table, its whole-file CSV, bad rules."""

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.csv_rows import write_rows
from benchmarks.hidden_probe import (
    COLUMNS,
    MAX_PROBE_ERROR_RATIO,
    run_key,
    run_one,
    summary_table,
)

REPO = Path(__file__).resolve().parent.parent


def test_rows_cover_every_hidden_layer_and_flag_only_the_last(mnist_small):
    rows = run_one("bp", "mlp", 0, mnist_small)
    assert [r["layer"] for r in rows] == ["fc1", "fc2"]
    assert all(set(r) == set(COLUMNS) for r in rows)
    assert [r["last_hidden"] for r in rows] == [False, True]
    first, last = rows
    assert first["passes"] == "" and last["passes"] is True  # backprop's hidden layers learn
    for r in rows:
        ratio = (1 - r["probe"]) / (1 - r["probe_untrained"])
        assert r["error_ratio"] == pytest.approx(ratio, abs=2e-3)
        assert 0 < r["layer_change"] < 2
    assert last["error_ratio"] <= MAX_PROBE_ERROR_RATIO
    assert (first["n_train"], first["epochs"], first["batch_size"]) == (3000, 1, 64)


def test_csv_is_written_whole_and_read_back_as_a_table(tmp_path):
    base = {c: "" for c in COLUMNS} | {"arch": "mlp", "probe": 0.9, "probe_untrained": 0.8}
    rows = [
        base | {"rule": "a", "seed": s, "layer": lay, "last_hidden": lay == "fc2",
                "error_ratio": er, "passes": (er <= 0.85) if lay == "fc2" else "",
                "layer_change": 0.1}
        for s, er in ((0, 0.5), (1, 0.9)) for lay in ("fc1", "fc2")
    ]  # fmt: skip
    path = tmp_path / "sub" / "probe.csv"
    write_rows(path, rows, COLUMNS)
    assert [p.name for p in path.parent.iterdir()] == ["probe.csv"]  # no temporary file left
    with path.open(newline="") as fh:
        back = list(csv.DictReader(fh))
    assert len(back) == 4 and list(back[0]) == COLUMNS
    table = summary_table(back)
    assert "| a | mlp | 0.50, 0.90 | 1/2 | 0.900 / 0.800 | fc1 0.100 / fc2 0.100 |" in table
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.hidden_probe", "--table", str(path)],
        cwd=REPO, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert out.stdout.strip() == table


def test_unknown_rule_is_refused_by_name(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.hidden_probe", "--rules", "no_such_rule",
         "--csv", str(tmp_path / "x.csv")],
        cwd=REPO, capture_output=True, text=True,
    )  # fmt: skip
    assert out.returncode != 0 and "no_such_rule" in out.stderr
    assert not (tmp_path / "x.csv").exists()


def test_update_replaces_only_the_runs_made_again(tmp_path):
    from benchmarks.csv_rows import update_rows

    def row(rule, seed, layer, ratio):
        return {c: "" for c in COLUMNS} | {"rule": rule, "arch": "cnn", "seed": seed,
                                           "layer": layer, "error_ratio": ratio}  # fmt: skip

    path = tmp_path / "p.csv"
    write_rows(path, [row("a", 0, "l1", 1), row("a", 0, "l2", 1), row("b", 0, "l1", 1)], COLUMNS)
    new = [row("a", 0, "l1", 2), row("a", 0, "l2", 2), row("a", 1, "l1", 3)]
    update_rows(path, new, COLUMNS, run_key)
    with path.open(newline="") as fh:
        merged = list(csv.DictReader(fh))
    assert [(r["rule"], r["seed"], r["error_ratio"]) for r in merged] == [
        ("a", "0", "2"), ("a", "0", "2"), ("b", "0", "1"), ("a", "1", "3"),
    ]  # fmt: skip


def test_update_refuses_another_benchmarks_file_and_leaves_it(tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("rule,epochs\nbp,1\n")
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.hidden_probe", "--rules", "bp", "--archs", "mlp",
         "--seeds", "0", "--csv", str(path), "--update"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode != 0 and "other.csv: its columns ['rule', 'epochs']" in out.stderr
    assert path.read_text() == "rule,epochs\nbp,1\n"
