"""Training sets (MNIST from idx files, CIFAR-10 from its JPEG archive) as uint8 arrays."""

from __future__ import annotations

import gzip
import io
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from brain_data.errors import DataError
from brain_data.specs import fetch_files, load_spec


def read_idx(path: Path) -> np.ndarray:
    """An idx(.gz) file (MNIST format) as a uint8 array."""
    with (gzip.open if str(path).endswith(".gz") else open)(path, "rb") as fh:
        raw = fh.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path}: not an unsigned-byte idx file (magic {raw[:4].hex()})")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise DataError(f"{path}: header says {shape} but holds {data.size} values")
    return data.reshape(shape)


def _load_idx(files: dict[str, Path]) -> dict[str, np.ndarray]:
    out = {}
    for split in ("train", "test"):
        x, y = read_idx(files[f"{split}_images"]), read_idx(files[f"{split}_labels"])
        if len(x) != len(y):
            raise DataError(f"{files[f'{split}_images']}: {len(x)} images but {len(y)} labels")
        out[f"x_{split}"], out[f"y_{split}"] = x[..., None], y.astype(np.int64)
    return out


def _load_jpeg_zip(files: dict[str, Path], classes: list[str]) -> dict[str, np.ndarray]:
    index = {c: i for i, c in enumerate(classes)}
    parts: dict[str, tuple[list, list]] = {"train": ([], []), "test": ([], [])}
    with zipfile.ZipFile(files["archive"]) as zf:
        for name in sorted(n for n in zf.namelist() if n.endswith((".jpg", ".png"))):
            split, cls = Path(name).parts[-3], Path(name).parts[-2]
            if split not in parts or cls not in index:
                continue
            img = Image.open(io.BytesIO(zf.read(name))).convert("RGB")
            parts[split][0].append(np.asarray(img, dtype=np.uint8))
            parts[split][1].append(index[cls])
    out = {}
    for split, (xs, ys) in parts.items():
        if not xs:
            raise DataError(f"{files['archive']}: no {split}/<class>/*.jpg images found")
        out[f"x_{split}"], out[f"y_{split}"] = np.stack(xs), np.asarray(ys, dtype=np.int64)
    return out


def load_trainset(trainset: str) -> dict[str, np.ndarray]:
    """``x_train, y_train, x_test, y_test``: uint8 images (n, h, w, c) and int64 labels."""
    spec = load_spec("trainsets", trainset)
    files = fetch_files(spec)
    if spec["loader"] == "idx":
        return _load_idx(files)
    if spec["loader"] == "jpeg-zip":
        return _load_jpeg_zip(files, spec["classes"])
    raise DataError(f"{spec['_path']}: unknown loader {spec['loader']!r}")


def trainset_info(trainset: str) -> dict:
    """The training set's spec: ``input`` format, ``n_classes``, ``classes``."""
    return load_spec("trainsets", trainset)


def subset_indices(n: int | None, total: int, seed: int) -> np.ndarray:
    """Sorted indices of a seeded random subset of size ``n`` (all when ``n`` is None or >= total)."""
    if n is None or n >= total:
        return np.arange(total)
    return np.sort(np.random.default_rng(seed).permutation(total)[:n])


def as_tensors(
    data: dict[str, np.ndarray],
    trainset: str,
    *,
    n_train: int | None = None,
    n_test: int | None = None,
    seed: int = 0,
    device: str = "cpu",
) -> dict:
    """Normalised float tensors (n, c, h, w) and int64 labels of seeded train/test subsets."""
    import torch

    from brain_data.images import to_tensor

    spec = trainset_info(trainset)["input"]
    out = {}
    for split, n in (("train", n_train), ("test", n_test)):
        idx = subset_indices(n, len(data[f"y_{split}"]), seed)
        out[f"x_{split}"] = to_tensor(data[f"x_{split}"][idx], spec["mean"], spec["std"]).to(device)
        out[f"y_{split}"] = torch.from_numpy(data[f"y_{split}"][idx]).to(device)
    return out
