"""Write a stimulus-set file (``brain_data/stimuli/<id>.yaml``) from a folder of images.

The folder must lie under one of the data roots (``BIOALIGN_DATA_MIRROR``); each image is recorded
with its sha256 and its path relative to that root, so it is fetched like any other data file
(no URL needed). Images are taken sorted by file name, or in the order of ``--order`` (one file
name per line); ``--groups`` gives each image a group (``<file name>,<group>`` or tab-separated,
one per line), drawn on the report's RDMs. Every image is decoded here, and the set's ``resize``
rule (``shorter-side-centre-crop`` to the smallest shorter side) is written into the file.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from PIL import Image, UnidentifiedImageError

from brain_data import specs
from brain_data.errors import DataError
from brain_data.fetch import MIRROR_ENV, mirror_roots, sha256sum
from brain_data.images import ASPECT_TOLERANCE, RESIZE_METHOD, aspect_spread

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp", ".ppm", ".pgm")
SET_ID = re.compile(r"^[A-Za-z0-9_.-]+$")


def root_holding(folder: Path) -> Path:
    """The first data root that contains ``folder``, or an error naming every root."""
    folder = Path(folder).resolve()
    roots = mirror_roots()
    for root in roots:
        if folder == root or root in folder.parents:
            return root
    listed = ", ".join(map(str, roots)) or f"none ({MIRROR_ENV} is empty)"
    raise DataError(
        f"{folder}: is not under a data root (roots: {listed}); move it under one, or add a "
        f"folder above it to {MIRROR_ENV} (os.pathsep-separated)"
    )


def _lines(path: Path) -> list[str]:
    try:
        text = Path(path).read_text()
    except OSError as err:
        raise DataError(f"{path}: cannot be read: {err}") from err
    return [
        ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")
    ]


def _check_names(path: Path, listed: list[str], found: list[str], what: str) -> None:
    dup = sorted({n for n in listed if listed.count(n) > 1})
    unknown = [n for n in listed if n not in found]
    missing = [n for n in found if n not in listed]
    problems = []
    if dup:
        problems.append(f"lists twice: {dup[:5]}")
    if unknown:
        problems.append(f"names files not in the folder: {unknown[:5]}")
    if missing:
        problems.append(
            f"lacks images of the folder: {missing[:5]}" + (" ..." if len(missing) > 5 else "")
        )
    if problems:
        raise DataError(
            f"{path}: {what} must name every image of the folder once; it " + "; ".join(problems)
        )


def read_order(path: Path, found: list[str]) -> list[str]:
    """File names in stimulus order, one per line ('#' comments allowed)."""
    order = _lines(path)
    _check_names(path, order, found, "the order file")
    return order


def read_groups(path: Path, found: list[str]) -> dict[str, str]:
    """``file name -> group`` from lines ``<file name>,<group>`` (or tab-separated)."""
    groups, names = {}, []
    for k, line in enumerate(_lines(path), start=1):
        parts = [p.strip() for p in re.split(r"[,\t]", line, maxsplit=1)]
        if len(parts) != 2 or not all(parts):
            raise DataError(f"{path}: line {k} {line!r} is not '<file name>,<group>'")
        names.append(parts[0])
        groups[parts[0]] = parts[1]
    _check_names(path, names, found, "the groups file")
    return groups


def _image_size(path: Path) -> tuple[int, int]:
    try:
        with Image.open(path) as img:
            img.load()
            return img.size
    except (OSError, ValueError, UnidentifiedImageError, Image.DecompressionBombError) as err:
        raise DataError(f"{path}: cannot be decoded as an image: {err}") from err


def stimulus_set(
    folder: Path, set_id: str, *, order: Path | None = None, groups: Path | None = None
) -> tuple[dict, list[str]]:
    """The stimulus-set mapping for ``folder`` and a list of warnings (nothing written)."""
    folder = Path(folder)
    if not SET_ID.match(set_id):
        raise DataError(f"stimulus-set id {set_id!r}: use letters, digits, '_', '.', '-' only")
    if not folder.is_dir():
        raise DataError(f"{folder}: is not a folder")
    root = root_holding(folder)
    found = sorted(
        p.name
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES
    )
    if len(found) < 3:
        raise DataError(
            f"{folder}: holds {len(found)} image file(s) ({', '.join(IMAGE_SUFFIXES)}); "
            "a stimulus set needs at least 3"
        )
    names = read_order(order, found) if order else found
    group_of = read_groups(groups, found) if groups else {}
    sizes = [_image_size(folder / n) for n in names]
    warns = []
    spread = aspect_spread(sizes)
    if spread > ASPECT_TOLERANCE:
        warns.append(
            f"{folder}: aspect ratios (width/height) differ by {100 * spread:.0f} %; the "
            "centre crop cuts more from some images than from others"
        )
    images = []
    for name in names:
        path = (folder / name).resolve()
        entry = {
            "name": name,
            "sha256": sha256sum(path),
            "mirror": path.relative_to(root).as_posix(),
        }
        if name in group_of:
            entry["group"] = group_of[name]
        images.append(entry)
    size = min(min(wh) for wh in sizes)
    spec = {
        "id": set_id,
        "loader": "image-files",
        "n_stimuli": len(images),
        "resize": {"method": RESIZE_METHOD, "size": size},
        "source": {
            "folder": folder.resolve().relative_to(root).as_posix(),
            "order": f"as listed in {Path(order).name}" if order else "sorted by file name",
            "sizes_found": sorted({f"{w}x{h}" for w, h in sizes}),
        },
        "images": images,
        "citation": "",
        "license": "",
    }
    return spec, warns


HEADER = """\
# Stimulus set written by `python -m brain_data add-stimuli` from {folder}.
# Images are fetched from the data roots (BIOALIGN_DATA_MIRROR) by their `mirror` path and sha256.
# resize: each image is scaled so its shorter side is `size` px (Lanczos) and the centred square
# kept; modes are converted to 8-bit RGB (transparency on white). Fill in citation and license.
"""


def write_stimulus_set(
    folder: Path,
    set_id: str,
    *,
    order: Path | None = None,
    groups: Path | None = None,
    force: bool = False,
) -> tuple[Path, dict, list[str]]:
    """Write ``brain_data/stimuli/<set_id>.yaml``; returns (path, spec, warnings)."""
    out = specs.ROOT / "stimuli" / f"{set_id}.yaml"
    if out.exists() and not force:
        raise DataError(f"{out}: exists; pass --force to overwrite it")
    spec, warns = stimulus_set(folder, set_id, order=order, groups=groups)
    text = HEADER.format(folder=Path(folder).resolve()) + yaml.safe_dump(
        spec, sort_keys=False, allow_unicode=True, width=100
    )
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(text)
    tmp.replace(out)
    return out, spec, warns
