"""Helpers for recording tests: a temporary mirror + cache and manifests that point into it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from brain_data import fetch as fetch_mod
from brain_data.fetch import sha256sum


def use_tmp_mirror(tmp_path: Path, monkeypatch) -> Path:
    """A fresh mirror root (returned) and cache under ``tmp_path``."""
    mirror = tmp_path / "mirror"
    mirror.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv(fetch_mod.MIRROR_ENV, str(mirror))
    monkeypatch.setenv(fetch_mod.CACHE_ENV, str(tmp_path / "cache"))
    return mirror


def write_manifest(tmp_path: Path, rid: str, files: list[Path], **manifest) -> Path:
    """A manifest ``<tmp>/manifests/<rid>/manifest.yaml`` listing ``files`` (already in the
    mirror under ``<mirror>/<rid>/``) with their sha256."""
    entries = [
        {"name": f.name, "url": f"https://example.invalid/{rid}/{f.name}", "sha256": sha256sum(f)}
        for f in files
    ]
    man = {"id": rid, "stimuli": "objects92", "citation": "simulated", "files": entries, **manifest}
    d = tmp_path / "manifests" / rid
    d.mkdir(parents=True, exist_ok=True)
    (d / "manifest.yaml").write_text(yaml.safe_dump(man, sort_keys=False))
    return d / "manifest.yaml"


def random_rdms(shape: tuple, n: int, seed: int = 0) -> np.ndarray:
    """Symmetric, zero-diagonal random RDMs of shape ``shape + (n, n)``."""
    x = np.random.default_rng(seed).random(shape + (n, n))
    x = x + np.swapaxes(x, -1, -2)
    i = np.arange(n)
    x[..., i, i] = 0.0
    return x


def category_geometry(n: int = 92, seed: int = 0, n_features: int = 16) -> np.ndarray:
    """Patterns (n, n_features) with a category structure (the objects92 groups) + exemplar noise."""
    rng = np.random.default_rng(seed)
    bounds = [0, 12, 24, 36, 48, 71, 92]
    cats = np.searchsorted(bounds, np.arange(n), side="right") - 1
    protos = rng.normal(size=(6, n_features))
    return protos[cats] + 0.5 * rng.normal(size=(n, n_features))
