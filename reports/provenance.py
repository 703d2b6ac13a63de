"""Provenance of a run: code commit, configuration, data files and their hashes, software versions."""

from __future__ import annotations

import importlib.metadata
import platform
import subprocess
from pathlib import Path

PACKAGES = (
    "torch", "numpy", "scipy", "scikit-learn", "pandas", "rsatoolbox", "mne", "nilearn",
    "snakemake", "dvc", "matplotlib",
)  # fmt: skip


#: What a run cannot depend on, so its changes do not make a commit "dirty": the folders of results
#: tables (which the pipeline and the benchmarks write as they go) and Markdown notes.
NOT_CODE = ("benchmarks/results", "results", "*.md")


def git_commit(repo: Path) -> str:
    """``<sha>`` of HEAD (``+dirty`` when tracked files other than ``NOT_CODE`` changed), or
    ``"unknown"`` outside git."""
    outside = [f":(exclude,glob)**/{p}" if "*" in p else f":(exclude){p}" for p in NOT_CODE]
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", *outside],
            cwd=repo, capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return sha + ("+dirty" if dirty else "")


def versions() -> dict[str, str]:
    """Python and the installed versions of the packages the results depend on."""
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def data_files(specs: list[tuple[str, object]], used: set[str]) -> list[dict]:
    """One row per file of the datasets in ``used``: dataset, file, sha256, source URL.

    ``specs`` pairs a dataset id with its ``brain_data.fetch.FileSpec`` (``pipelines.fetch.file_specs``).
    """
    return [
        {"dataset": d, "file": s.name, "sha256": s.sha256, "url": s.url or "data root only"}
        for d, s in specs
        if d in used
    ]
