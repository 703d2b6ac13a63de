"""The benchmarks' result CSVs: read with a column check, written whole, updated run by run.

A result file holds one benchmark's columns. ``--update`` runs replace the rows of the runs they
made again (same key: rule, arch, seed, ...) where those rows stood and append new runs, so a file
assembled over several sessions is still the benchmark's own output, never edited by hand.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path

from pipelines._io import atomic_path


def check_columns(path: Path, header: Sequence[str], columns: Sequence[str]) -> None:
    """Refuse a file whose header is not ``columns``, naming the file."""
    if list(header) != list(columns):
        raise SystemExit(
            f"{path}: its columns {list(header)} are not this benchmark's {list(columns)}; "
            "write to a new file"
        )


def read_rows(path: Path, columns: Sequence[str], missing_ok: bool = False) -> list[dict]:
    """The rows of ``path``, its columns checked (none for an empty file, or a missing one when
    ``missing_ok``)."""
    if not path.is_file():
        if missing_ok:
            return []
        raise SystemExit(f"{path}: no such result file")
    if not path.stat().st_size:
        return []
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        check_columns(path, reader.fieldnames or [], columns)
        return list(reader)


def write_rows(path: Path, rows: Sequence[dict], columns: Sequence[str]) -> None:
    """Write ``rows`` to ``path`` whole (a temporary file renamed over it: never half-written)."""
    with atomic_path(path) as tmp, tmp.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns))
        writer.writeheader()
        writer.writerows(rows)


def merge_rows(
    old: Sequence[dict], new: Sequence[dict], key: Callable[[dict], Hashable]
) -> list[dict]:
    """``old`` with the rows of every run (``key``) in ``new`` replaced by ``new``'s, where the
    run's first old row stood; runs ``old`` did not have are appended in ``new``'s order."""
    fresh: dict[Hashable, list[dict]] = {}
    for r in new:
        fresh.setdefault(key(r), []).append(r)
    out, done = [], set()
    for r in old:
        k = key(r)
        if k not in fresh:
            out.append(r)
        elif k not in done:
            out.extend(fresh[k])
            done.add(k)
    return out + [r for k, rs in fresh.items() if k not in done for r in rs]


def update_rows(
    path: Path, new: Sequence[dict], columns: Sequence[str], key: Callable[[dict], Hashable]
) -> list[dict]:
    """Merge ``new`` into the file at ``path`` (see ``merge_rows``), write it whole, return it."""
    rows = merge_rows(read_rows(path, columns, missing_ok=True), new, key)
    write_rows(path, rows, columns)
    return rows
