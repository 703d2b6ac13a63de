"""The accuracy benchmark harness: job command lines, overrides, the wall-clock cap, the CSV rows."""

import argparse
import csv
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from benchmarks.accuracy import _parse_set, parser
from benchmarks.parallel import job_command, job_name

REPO = Path(__file__).resolve().parent.parent


def test_job_command_round_trips_overrides():
    job = {
        "rule": "dtp",
        "arch": "mlp",
        "trainset": "mnist",
        "batch_size": 64,
        "n_train": 500,
        "lr_schedule": "cosine",
        "set": {"lr": 0.0002, "beta": 0.5},
        "arch_set": {"hidden": [1024, 512, 256]},
    }
    args = argparse.Namespace(out=Path("o"), data_dir=None)
    cmd = job_command(job, args, 2.5)
    assert cmd[cmd.index("--batch-size") + 1] == "64" and cmd[cmd.index("--n-train") + 1] == "500"
    assert cmd[cmd.index("--max-minutes") + 1] == "2.5"
    assert cmd[cmd.index("--lr-schedule") + 1] == "cosine"
    sets = cmd[cmd.index("--set") + 1 : cmd.index("--arch-set")]
    assert _parse_set(sets) == {"lr": 0.0002, "beta": 0.5}
    assert _parse_set(cmd[cmd.index("--arch-set") + 1 :]) == {"hidden": [1024, 512, 256]}
    assert job_name(job) == "dtp_mlp_mnist_64_cosine_beta0.5_hidden1024-512-256_lr0.0002"


def test_repeated_set_flags_accumulate():
    """``--set a=1 --set b=2`` keeps both overrides (a plain ``nargs`` option kept only the last)."""
    args = parser().parse_args(
        ["--set", "lr=0.1", "--set", "beta=0.5", "n=2", "--arch-set", "hidden=[8]"]
    )
    assert _parse_set(args.set) == {"lr": 0.1, "beta": 0.5, "n": 2}
    assert _parse_set(args.arch_set) == {"hidden": [8]}
    assert parser().parse_args([]).set == []
    assert _parse_set(["lr=3e-5"]) == {"lr": 3e-5}  # a float, not YAML 1.1's string


def test_parallel_runs_jobs_and_caps_their_time(tmp_path, mnist_small):
    jobs = [
        {"rule": "bp", "arch": "mlp", "trainset": "mnist", "n_train": 2000, "epochs": 2,
         "arch_set": {"hidden": [64]}},
        {"rule": "bp", "arch": "mlp", "trainset": "mnist", "n_train": 2000, "epochs": 5,
         "arch_set": {"hidden": [64]}, "set": {"lr": 0.002}, "minutes": 1e-7},
    ]  # fmt: skip
    (tmp_path / "jobs.yaml").write_text(yaml.safe_dump(jobs))
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.parallel", str(tmp_path / "jobs.yaml"),
         "--workers", "2", "--out", str(tmp_path / "out"), "--minutes", "5"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    rows = {r["overrides"]: r for r in csv.DictReader((tmp_path / "out" / "accuracy.csv").open())}
    full, capped = rows["hidden=[64]"], rows["lr=0.002 hidden=[64]"]
    assert full["epochs"] == "2" and float(full["test_accuracy"]) > 70, full
    assert full["stopped"] == "budget" and full["examples_seen"] == "4000", full
    # a cap shorter than one minibatch stops the first epoch after its first minibatch
    assert capped["stopped"] == "time cap" and capped["examples_seen"] == capped["batch_size"]
    assert float(capped["epochs"]) == round(int(capped["batch_size"]) / 2000, 3), capped
    assert full["reference"] == "98.6" and full["reference_source"] == "dll"
    assert full["seed"] == "0" and full["commit"] and full["date"] and full["device"], full
    assert "| bp | mlp | mnist | 0 | 2 | 4000 |" in out.stdout
    assert (tmp_path / "out" / "logs" / "bp_mlp_mnist_hidden64.log").is_file()


def test_gpu_job_file_names_known_rules_and_keys():
    from models import registry

    keys = {"rule", "arch", "trainset", "batch_size", "epochs", "n_train", "lr_schedule", "set",
            "arch_set", "minutes"}  # fmt: skip
    jobs = yaml.safe_load((REPO / "benchmarks" / "full_gpu.yaml").read_text())
    args = argparse.Namespace(out=Path("o"), data_dir=None)
    for job in jobs:
        assert set(job) <= keys and job["rule"] in registry.available(), job
        assert job_command(job, args, 1.0)[:3] == [sys.executable, "-m", "benchmarks.accuracy"]
    assert len({job_name(j) for j in jobs}) == len(jobs), "two jobs would share one log"


def test_results_table_says_which_rows_meet_their_reference(tmp_path):
    from benchmarks.accuracy import COLUMNS, append_row, results_table

    path = tmp_path / "fb.csv"
    base = dict.fromkeys(COLUMNS, "")
    append_row(path, {**base, "rule": "bp", "arch": "mlp", "trainset": "mnist", "epochs": 2,
                      "test_accuracy": 97.1, "reference": 98.6, "reference_source": "dll"})  # fmt: skip
    append_row(path, {**base, "rule": "ff", "arch": "cnn", "trainset": "cifar10",
                      "test_accuracy": 51.0, "reference": "", "reference_source": ""})  # fmt: skip
    table = results_table(path).splitlines()
    assert "| bp | mlp/mnist | 2 |" in table[2] and "no (1.5 below)" in table[2]
    assert "| ff | cnn/cifar10 |" in table[3] and "| — |" in table[3]
    path.write_text("rule,epochs\nbp,1\n")  # another benchmark's columns: refused, naming the file
    with pytest.raises(SystemExit, match="fb.csv"):
        append_row(path, base)


def test_min_epochs_keeps_the_cap_from_cutting_the_first_epochs(tmp_path, mnist_small):
    """With ``--min-epochs 1`` a cap shorter than one minibatch still lets the run see every
    training image once, and then stops it (the budget had 5 epochs)."""
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.accuracy", "--rules", "bp", "--archs", "mlp",
         "--trainsets", "mnist", "--n-train", "1000", "--epochs", "5", "--arch-set", "hidden=[32]",
         "--max-minutes", "1e-7", "--min-epochs", "1", "--threads", "1",
         "--csv", str(tmp_path / "a.csv")],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    (row,) = csv.DictReader((tmp_path / "a.csv").open())
    assert row["stopped"] == "time cap" and row["epochs"] == "1", row
    assert row["examples_seen"] == "1000", row


def test_update_reruns_one_row_of_a_results_file_in_place(tmp_path, mnist_small):
    """``--csv F --update`` puts the run's row where F's row of the same rule / arch / trainset /
    seed stood and keeps the others; a file of other columns is refused before any training."""
    from benchmarks.accuracy import COLUMNS
    from benchmarks.csv_rows import read_rows, write_rows

    path = tmp_path / "fb.csv"
    stale = dict.fromkeys(COLUMNS, "") | {"rule": "bp", "arch": "mlp", "trainset": "mnist",
                                         "seed": 0, "test_accuracy": -1}  # fmt: skip
    other = stale | {"rule": "ff", "test_accuracy": 50.0}
    write_rows(path, [other, stale, other | {"seed": 1}], COLUMNS)
    cmd = [sys.executable, "-m", "benchmarks.accuracy", "--rules", "bp", "--archs", "mlp",
           "--trainsets", "mnist", "--n-train", "500", "--epochs", "1", "--arch-set",
           "hidden=[16]", "--threads", "1", "--csv", str(path), "--update"]  # fmt: skip
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    rows = read_rows(path, COLUMNS)
    assert [(r["rule"], r["seed"]) for r in rows] == [("ff", "0"), ("bp", "0"), ("ff", "1")]
    assert float(rows[1]["test_accuracy"]) > 10 and rows[1]["examples_seen"] == "500"
    assert rows[0]["test_accuracy"] == "50.0" and rows[2]["test_accuracy"] == "50.0"
    foreign = tmp_path / "other.csv"
    foreign.write_text("rule,epochs\nbp,1\n")
    out = subprocess.run(
        cmd[:-3] + ["--csv", str(foreign), "--update"], cwd=REPO, capture_output=True, text=True
    )
    assert out.returncode != 0 and "other.csv: its columns" in out.stderr
    assert "| bp |" not in out.stdout  # refused before training


def test_results_md_shows_the_result_files_as_they_are():
    """RESULTS.md's two tables are the committed CSVs rendered by their benchmarks' ``--table``: a
    rerun row (``--update``) that is not carried into the notes, or a hand edit, fails here."""
    from benchmarks.accuracy import results_table
    from benchmarks.csv_rows import read_rows
    from benchmarks.hidden_probe import COLUMNS, summary_table

    results = REPO / "benchmarks" / "results"
    notes = (REPO / "benchmarks" / "RESULTS.md").read_text()
    accuracy = results_table(results / "full_budget.csv")
    probe = summary_table(read_rows(results / "hidden_probe.csv", COLUMNS))
    for name, table in (("full_budget.csv", accuracy), ("hidden_probe.csv", probe)):
        missing = [line for line in table.splitlines() if line not in notes.splitlines()]
        assert table in notes, (
            f"RESULTS.md does not show {name} as it is: {missing[:3] or 'rows moved or added'}"
        )


def test_commit_is_dirty_for_code_changes_but_not_for_results_tables(tmp_path, monkeypatch):
    """A benchmark's rows name the code they ran: writing results tables (its own rows) or notes
    does not mark the commit dirty; a changed source file does."""
    import benchmarks.provenance as prov

    def git(*a):
        subprocess.run(["git", *a], cwd=tmp_path, check=True, capture_output=True)

    for rel in (
        "models/rule.py",
        "benchmarks/results/t.csv",
        "results/r.csv",
        "b/NOTES.md",
        "README.md",
    ):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("0\n")
    git("init", "-q")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "c")
    monkeypatch.setattr(prov, "ROOT", tmp_path)
    clean = prov.commit()
    assert clean and not clean.endswith("-dirty")
    (tmp_path / "benchmarks/results/t.csv").write_text("1\n")
    (tmp_path / "results/r.csv").write_text("1\n")
    (tmp_path / "b/NOTES.md").write_text("1\n")
    (tmp_path / "README.md").write_text("1\n")
    assert prov.commit() == clean
    (tmp_path / "models/rule.py").write_text("1\n")
    assert prov.commit() == clean + "-dirty"
