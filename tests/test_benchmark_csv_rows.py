"""The benchmarks' result CSVs: column checks that name the file, whole-file writes, run updates."""

import pytest

from benchmarks.csv_rows import merge_rows, read_rows, update_rows, write_rows

COLS = ["rule", "seed", "value"]


def _key(r: dict) -> tuple[str, str]:
    return r["rule"], str(r["seed"])


def test_rows_round_trip_and_no_temporary_file_is_left(tmp_path):
    path = tmp_path / "sub" / "r.csv"
    write_rows(path, [{"rule": "a", "seed": 0, "value": 1.5}], COLS)
    assert [p.name for p in path.parent.iterdir()] == ["r.csv"]
    assert read_rows(path, COLS) == [{"rule": "a", "seed": "0", "value": "1.5"}]


def test_a_missing_or_foreign_file_is_refused_by_name(tmp_path):
    path = tmp_path / "r.csv"
    with pytest.raises(SystemExit, match="r.csv: no such result file"):
        read_rows(path, COLS)
    assert read_rows(path, COLS, missing_ok=True) == []
    path.write_text("rule,epochs\nbp,1\n")
    with pytest.raises(SystemExit, match=r"r.csv: its columns \['rule', 'epochs'\]"):
        update_rows(path, [{"rule": "a", "seed": 0, "value": 1}], COLS, _key)
    assert path.read_text() == "rule,epochs\nbp,1\n"  # left as it was


def test_merge_puts_each_rerun_where_its_run_stood():
    old = [{"rule": r, "seed": s, "value": "old"} for r, s in (("a", "0"), ("b", "0"), ("a", "1"))]
    new = [{"rule": "a", "seed": 1, "value": "new"}, {"rule": "c", "seed": 0, "value": "new"}]
    merged = merge_rows(old, new, _key)
    assert [(r["rule"], str(r["seed"]), r["value"]) for r in merged] == [
        ("a", "0", "old"), ("b", "0", "old"), ("a", "1", "new"), ("c", "0", "new"),
    ]  # fmt: skip
    assert merge_rows(old, [], _key) == old
