"""Shared fixtures: real data (mirror or web) in small subsets, and a per-session data cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parent.parent
_DEFAULT_MIRROR = REPO.parent / "shared" / "mirror"


def pytest_configure(config):
    roots = [r for r in os.environ.get("BIOALIGN_DATA_MIRROR", "").split(os.pathsep) if r]
    if _DEFAULT_MIRROR.is_dir() and str(_DEFAULT_MIRROR) not in roots:  # as the Makefile does
        os.environ["BIOALIGN_DATA_MIRROR"] = os.pathsep.join([*roots, str(_DEFAULT_MIRROR)])
    os.environ.setdefault("BIOALIGN_DATA_CACHE", str(REPO / "data" / "raw"))
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


def _load(trainset: str, n_train: int, n_test: int):
    from benchmarks.hidden_probe import shuffled_subset
    from brain_data.errors import DataError

    try:
        return shuffled_subset(trainset, n_train, n_test)
    except DataError as err:
        pytest.skip(f"{trainset} unavailable: {err}")


@pytest.fixture(scope="session")
def mnist_small():
    """Real MNIST: 10 000 random training images (shuffled), 2 000 random test images, as tensors."""
    return _load("mnist", 10000, 2000)
