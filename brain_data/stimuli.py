"""Stimulus sets shown to people in the scanner (images, in the recordings' order)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.io as sio

from brain_data.errors import DataError
from brain_data.specs import fetch_files, load_spec


@dataclass
class StimulusSet:
    """Images (n, h, w, 3) uint8 in canonical order, a label per image and coarse groups."""

    id: str
    images: np.ndarray
    labels: list[str]
    groups: list[str]

    @property
    def n_stimuli(self) -> int:
        return len(self.images)


def _groups(spec: dict, n: int) -> list[str]:
    groups = [""] * n
    for name, (lo, hi) in spec.get("groups", {}).items():
        for i in range(lo - 1, hi):
            groups[i] = name
    return groups


def _load_kriegeskorte(spec: dict) -> StimulusSet:
    path = fetch_files(spec)["supplemental"]
    mat = sio.loadmat(path)
    if "stimuli_92objs" not in mat:
        raise DataError(f"{path}: has no variable 'stimuli_92objs'")
    stim = mat["stimuli_92objs"].ravel()
    images = np.stack([np.asarray(s["image"], dtype=np.uint8) for s in stim])
    labels = [str(np.asarray(s["category"]).ravel()[0]) for s in stim]
    return StimulusSet(spec["id"], images, labels, _groups(spec, len(images)))


def _load_png_files(spec: dict) -> StimulusSet:
    """``images``: a list of file entries (name, url, sha256, mirror), one PNG per stimulus."""
    from PIL import Image

    from brain_data.fetch import FileSpec, fetch

    images, labels = [], []
    for entry in spec["images"]:
        path = fetch(FileSpec.from_dict(entry, spec["id"], spec["_path"]))
        images.append(np.asarray(Image.open(path).convert("RGB"), dtype=np.uint8))
        labels.append(path.stem)
    if len({im.shape for im in images}) != 1:
        raise DataError(f"{spec['_path']}: images differ in size")
    return StimulusSet(spec["id"], np.stack(images), labels, _groups(spec, len(images)))


_LOADERS = {"kriegeskorte-mat": _load_kriegeskorte, "png-files": _load_png_files}


def load_stimuli(stimset: str) -> StimulusSet:
    """Load a stimulus set by id and check its size against the spec."""
    spec = load_spec("stimuli", stimset)
    if spec["loader"] not in _LOADERS:
        raise DataError(
            f"{spec['_path']}: unknown loader {spec['loader']!r}; known {sorted(_LOADERS)}"
        )
    stimuli = _LOADERS[spec["loader"]](spec)
    if stimuli.n_stimuli != spec["n_stimuli"]:
        raise DataError(
            f"{spec['_path']}: expected {spec['n_stimuli']} stimuli, loaded {stimuli.n_stimuli}"
        )
    return stimuli
