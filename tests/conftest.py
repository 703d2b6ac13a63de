"""Shared fixtures: real data (mirror or web) in small subsets, and a per-session data cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parent.parent
_DEFAULT_MIRROR = REPO.parent / "shared" / "mirror"


def pytest_configure(config):
    if "BIOALIGN_DATA_MIRROR" not in os.environ and _DEFAULT_MIRROR.is_dir():
        os.environ["BIOALIGN_DATA_MIRROR"] = str(_DEFAULT_MIRROR)
    os.environ.setdefault("BIOALIGN_DATA_CACHE", str(REPO / "data" / "raw"))
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


def _load(trainset: str, n_train: int, n_test: int):
    from brain_data.errors import DataError
    from brain_data.images import to_tensor
    from brain_data.trainsets import load_trainset, trainset_info

    try:
        data = load_trainset(trainset)
    except DataError as err:
        pytest.skip(f"{trainset} unavailable: {err}")
    spec = trainset_info(trainset)["input"]
    g = torch.Generator().manual_seed(0)
    tr = torch.randperm(len(data["y_train"]), generator=g)[:n_train].numpy()
    return {
        "x_train": to_tensor(data["x_train"][tr], spec["mean"], spec["std"]),
        "y_train": torch.from_numpy(data["y_train"][tr]),
        "x_test": to_tensor(data["x_test"][:n_test], spec["mean"], spec["std"]),
        "y_test": torch.from_numpy(data["y_test"][:n_test]),
    }


@pytest.fixture(scope="session")
def mnist_small():
    """Real MNIST: 10 000 shuffled training images, the first 2 000 test images, as tensors."""
    return _load("mnist", 10000, 2000)
