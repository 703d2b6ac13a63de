"""Stimulus sets shown to people in the scanner (images, in the recordings' order).

A stimulus set is ``brain_data/stimuli/<id>.yaml`` (``python -m brain_data add-stimuli`` writes one
from a folder of images). Loader ``image-files``: ``images`` lists one file entry per stimulus in
canonical order (``name``, ``sha256``, ``mirror`` path under a data root, optional ``url``,
``group``, ``label``). Every image is decoded and converted to 8-bit RGB (transparency on white);
images of different sizes are brought to one by the set's ``resize`` rule:

``resize: {method: shorter-side-centre-crop, size: N}`` scales each image so that its shorter side
is N px (Lanczos) and keeps the centred N x N square. Without ``resize``, images of one size are
kept as they are and a set of mixed sizes uses this rule with N = the smallest shorter side (no
image is enlarged). When the width/height ratios differ by more than 5 % a warning names the
extremes, since the crop then removes more of some images than of others.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.io as sio

from brain_data.errors import DataError
from brain_data.images import (
    ASPECT_TOLERANCE,
    RESIZE_METHOD,
    aspect_spread,
    shorter_side_centre_crop,
    to_rgb,
)
from brain_data.specs import fetch_files, load_spec

log = logging.getLogger("bioalign.stimuli")


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
    """A group name per stimulus: ``groups`` (name -> 1-based inclusive range) or per-image ``group``."""
    groups = [""] * n
    for name, bounds in (spec.get("groups") or {}).items():
        if not (isinstance(bounds, list) and len(bounds) == 2 and 1 <= bounds[0] <= bounds[1] <= n):
            raise DataError(
                f"{spec['_path']}: group {name!r} must be a range [first, last] within 1..{n}, "
                f"got {bounds!r}"
            )
        for i in range(bounds[0] - 1, bounds[1]):
            groups[i] = name
    for i, entry in enumerate(spec.get("images") or []):
        if isinstance(entry, dict) and entry.get("group") is not None:
            groups[i] = str(entry["group"])
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


def _decode(path: Path, where: str):
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()
            return to_rgb(img)
    except (OSError, ValueError, UnidentifiedImageError, Image.DecompressionBombError) as err:
        raise DataError(f"{path} ({where}): cannot be decoded as an image: {err}") from err


def _resize_rule(spec: dict, sizes: list[tuple[int, int]]) -> int | None:
    """The side length the set is brought to (None: all images already share one size)."""
    rule = spec.get("resize")
    if rule is None:
        return None if len(set(sizes)) == 1 else min(min(wh) for wh in sizes)
    if not isinstance(rule, dict) or rule.get("method") != RESIZE_METHOD:
        raise DataError(
            f"{spec['_path']}: resize must be {{method: {RESIZE_METHOD}, size: <pixels>}}, "
            f"got {rule!r}"
        )
    size = rule.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise DataError(f"{spec['_path']}: resize size must be a positive integer, got {size!r}")
    return size


def _load_image_files(spec: dict) -> StimulusSet:
    """``images``: one file entry per stimulus; decoded, RGB, brought to one size (module doc)."""
    from brain_data.fetch import FileSpec, fetch

    entries = spec.get("images")
    if not isinstance(entries, list) or not entries:
        raise DataError(f"{spec['_path']}: 'images' must be a non-empty list of file entries")
    pils, labels, names = [], [], []
    for k, entry in enumerate(entries, start=1):
        path = fetch(FileSpec.from_dict(entry, spec["id"], spec["_path"]))
        pils.append(_decode(path, f"stimulus set {spec['id']!r}, image {k}"))
        labels.append(str(entry.get("label", Path(entry["name"]).stem)))
        names.append(entry["name"])
    sizes = [im.size for im in pils]
    spread = aspect_spread(sizes)
    if spread > ASPECT_TOLERANCE:
        ratios = [w / h for w, h in sizes]
        lo, hi = int(np.argmin(ratios)), int(np.argmax(ratios))
        warnings.warn(
            f"{spec['_path']}: aspect ratios (width/height) differ by {100 * spread:.0f} % "
            f"({names[lo]} {ratios[lo]:.2f}, {names[hi]} {ratios[hi]:.2f}); the centre crop cuts "
            "more from some images than from others",
            stacklevel=2,
        )
    size = _resize_rule(spec, sizes)
    if size is not None:
        log.info("%s: %s to %d px", spec["id"], RESIZE_METHOD, size)
        pils = [shorter_side_centre_crop(im, size) for im in pils]
    images = np.stack([np.asarray(im, dtype=np.uint8) for im in pils])
    return StimulusSet(spec["id"], images, labels, _groups(spec, len(images)))


_LOADERS = {
    "kriegeskorte-mat": _load_kriegeskorte,
    "image-files": _load_image_files,
    "png-files": _load_image_files,  # the earlier name of image-files
}


def load_stimuli(stimset: str) -> StimulusSet:
    """Load a stimulus set by id and check its size against the spec."""
    spec = load_spec("stimuli", stimset)
    for key in ("id", "loader", "n_stimuli"):
        if key not in spec:
            raise DataError(f"{spec['_path']}: lacks the key {key!r}")
    if spec["loader"] not in _LOADERS:
        raise DataError(
            f"{spec['_path']}: unknown loader {spec['loader']!r}; known {sorted(_LOADERS)}"
        )
    stimuli = _LOADERS[spec["loader"]](spec)
    if stimuli.n_stimuli != spec.get("n_stimuli"):
        raise DataError(
            f"{spec['_path']}: expected {spec['n_stimuli']} stimuli, loaded {stimuli.n_stimuli}"
        )
    return stimuli
