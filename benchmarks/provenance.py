"""Which code a benchmark row came from: the short commit, ``-dirty`` for code changes only."""

from __future__ import annotations

from pathlib import Path

from reports.provenance import git_commit

ROOT = Path(__file__).resolve().parent.parent


def commit() -> str:
    """The checked-out commit (short hash), ``-dirty`` when tracked files other than results tables
    and notes (``reports.provenance.NOT_CODE``) differ from it; ``unknown`` outside git."""
    sha = git_commit(ROOT)
    if sha == "unknown":
        return sha
    return sha.removesuffix("+dirty")[:7] + ("-dirty" if sha.endswith("+dirty") else "")
