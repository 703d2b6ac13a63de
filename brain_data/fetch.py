"""Download layer: every file has a sha256 and, if public, a URL; local data roots are tried first.

``BIOALIGN_DATA_MIRROR`` lists one or more data roots separated by ``os.pathsep`` (``:`` on
POSIX), searched in order, each laid out like the public sources (``<root>/<dataset>/<file>``, or
the entry's ``mirror`` path). A file without a ``url`` (private data) must be under one of them.
``BIOALIGN_DATA_CACHE`` is the ignored cache that files are copied or downloaded into (default
``data/raw`` under the working directory). pooch does the download, the atomic write and the hash
check; a mismatch becomes a ``DataIntegrityError`` naming the file.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pooch

from brain_data.errors import DataIntegrityError, DataUnavailableError, RecordingError

pooch.get_logger().setLevel("WARNING")  # its "Downloading ..." line also shows for mirror copies

MIRROR_ENV = "BIOALIGN_DATA_MIRROR"
CACHE_ENV = "BIOALIGN_DATA_CACHE"


@dataclass(frozen=True)
class FileSpec:
    """One data file. ``mirror`` is its path under a data root and the cache (``<dataset>/<name>``).

    ``url`` is ``None`` for a file that exists only under a data root (``BIOALIGN_DATA_MIRROR``).

    ``hash_of="gunzip"`` means ``sha256`` is of the decompressed content (for sources that
    re-compress identical data, e.g. MNIST).
    """

    name: str
    url: str | None
    sha256: str
    mirror: str
    hash_of: str = "file"

    @classmethod
    def from_dict(cls, d: dict, dataset: str, where: str = "") -> FileSpec:
        if not isinstance(d, dict):
            raise DataUnavailableError(f"{where}: a file entry must be a mapping, got {d!r}")
        missing = [k for k in ("name", "sha256") if k not in d]
        if missing:
            raise DataUnavailableError(f"{where}: file entry {d!r} lacks {missing}")
        if d.get("hash_of", "file") not in ("file", "gunzip"):
            raise DataIntegrityError(
                f"{where}: hash_of must be 'file' or 'gunzip', got {d['hash_of']!r}"
            )
        for key in ("name", "mirror"):
            rel = str(d.get(key, ""))
            if rel.startswith(("/", "~")) or ".." in Path(rel).parts:
                raise RecordingError(
                    f"{where}: file {key} {rel!r} is outside the data folder "
                    "(use a relative path without '..')"
                )
            if key in d and (rel.endswith("/") or rel.rsplit("/", 1)[-1] in ("", ".")):
                raise RecordingError(
                    f"{where}: file {key} {rel!r} names a folder, not a file "
                    "(give the file's path, e.g. <dataset>/<file>)"
                )
            if any(ord(c) < 32 for c in rel):
                raise RecordingError(f"{where}: file {key} {rel!r} holds a control character")
        if not re.fullmatch(r"[0-9a-fA-F]{64}", str(d["sha256"])):
            raise DataIntegrityError(
                f"{where}: file {d['name']!r}: sha256 {d['sha256']!r} is not 64 hex digits"
            )
        return cls(
            name=d["name"],
            url=d.get("url") or None,
            sha256=str(d["sha256"]).lower(),
            mirror=d.get("mirror", f"{dataset}/{d['name']}"),
            hash_of=d.get("hash_of", "file"),
        )


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV, "data/raw")).resolve()


def mirror_roots() -> list[Path]:
    """The data roots of ``BIOALIGN_DATA_MIRROR`` (``os.pathsep``-separated), in search order."""
    value = os.environ.get(MIRROR_ENV, "")
    roots = []
    for part in value.split(os.pathsep):
        root = Path(part).expanduser().resolve() if part.strip() else None
        if root is not None and root not in roots:
            roots.append(root)
    return roots


def find_in_roots(spec: FileSpec) -> Path | None:
    """The first data root's copy of ``spec`` (``<root>/<spec.mirror>``), or None."""
    for root in mirror_roots():
        local = root / spec.mirror
        if local.is_file():
            return local
    return None


def _searched(spec: FileSpec) -> str:
    roots = mirror_roots()
    if not roots:
        return f"no data root is set ({MIRROR_ENV} is empty)"
    return "searched " + ", ".join(str(r / spec.mirror) for r in roots)


def sha256sum(path: Path, gunzip: bool = False) -> str:
    """Hex sha256 of a file (or of its gunzipped content)."""
    digest = hashlib.sha256()
    opener = gzip.open if gunzip else open
    with opener(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class _MirrorFirst:
    """pooch downloader: copy from the first data root that holds the file, else HTTP."""

    def __init__(self, spec: FileSpec):
        self.spec = spec

    def __call__(self, url: str, output_file, pooch_obj, check_only: bool = False):
        local = find_in_roots(self.spec)
        if local is not None:
            if check_only:
                return True
            if hasattr(output_file, "write"):
                with open(local, "rb") as src:
                    shutil.copyfileobj(src, output_file)
            else:
                shutil.copyfile(local, output_file)
            return None
        if self.spec.url is None:
            raise DataUnavailableError(
                f"{self.spec.name}: not found under any data root and it has no url to download "
                f"it from ({_searched(self.spec)}); put it there or add its root to "
                f"{MIRROR_ENV} (os.pathsep-separated)"
            )
        try:
            return pooch.HTTPDownloader(progressbar=False)(
                url, output_file, pooch_obj, check_only=check_only
            )
        except Exception as err:  # network errors come in many types
            raise DataUnavailableError(
                f"{self.spec.name}: could not be downloaded from {url} ({type(err).__name__}: "
                f"{err}), nor found under a data root ({_searched(self.spec)})"
            ) from err


def fetch(spec: FileSpec) -> Path:
    """Return the local path of ``spec``, fetching it (mirror first) and checking its hash."""
    target = cache_dir() / spec.mirror
    target.parent.mkdir(parents=True, exist_ok=True)
    if spec.hash_of == "gunzip":
        return _fetch_gunzip(spec, target)
    try:
        path = Path(
            pooch.retrieve(
                spec.url or f"local:{spec.mirror}",
                known_hash=f"sha256:{spec.sha256}",
                fname=target.name,
                path=target.parent,
                downloader=_MirrorFirst(spec),
                progressbar=False,
            )
        )
    except ValueError as err:
        if "hash" not in str(err).lower():
            raise
        raise DataIntegrityError(_bad_hash(spec, "its sha256 differs")) from err
    return path


def _gunzip_sha256(path: Path) -> str:
    try:
        return sha256sum(path, gunzip=True)
    except (OSError, EOFError) as err:  # gzip.BadGzipFile is an OSError
        return f"unreadable ({type(err).__name__}: {err})"


def _fetch_gunzip(spec: FileSpec, target: Path) -> Path:
    """Fetch a file whose sha256 is of its decompressed content (pooch checks raw bytes only).

    A fresh copy is downloaded into a private folder under the cache (so parallel jobs never share
    a path) and checked before it replaces ``target``; a copy that fails the check is quarantined,
    and ``target`` (which another entry may validate) is never deleted.
    """
    if target.is_file() and _gunzip_sha256(target) == spec.sha256:
        return target
    incoming = cache_dir() / ".incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    # a private folder per call: parallel jobs fetching the same file never share a path
    with tempfile.TemporaryDirectory(dir=incoming) as tmp:
        path = Path(
            pooch.retrieve(
                spec.url or f"local:{spec.mirror}",
                known_hash=None,
                fname=target.name,
                path=tmp,
                downloader=_MirrorFirst(spec),
                progressbar=False,
            )
        )
        actual = _gunzip_sha256(path)
        if actual != spec.sha256:
            kept = _quarantine(path, spec)
            raise DataIntegrityError(
                _bad_hash(spec, f"the sha256 of its decompressed content is {actual}")
                + f" The refused copy is kept in {kept}"
                + (f"; {target} is left as it was." if target.is_file() else ".")
            )
        if target.is_file():
            if _gunzip_sha256(target) == spec.sha256:  # another job placed it meanwhile
                return target
            try:  # a stale or damaged copy: kept aside, not deleted
                _quarantine(target, spec)
            except FileNotFoundError:  # another job moved it aside first
                pass
        os.replace(path, target)
    return target


def _quarantine(path: Path, spec: FileSpec) -> Path:
    """Move a refused file to ``<cache>/.quarantine/<mirror path>`` (never into use, never lost)."""
    dest = cache_dir() / ".quarantine" / spec.mirror
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.replace(path, dest)
    return dest


def _bad_hash(spec: FileSpec, what: str) -> str:
    src = find_in_roots(spec) or spec.url
    fix = (
        f"Replace it with an intact copy from {spec.url}."
        if spec.url
        else "Replace it with an intact copy, or correct the sha256 if the file changed."
    )
    return f"{spec.name}: refused, {what} (expected sha256 {spec.sha256}; source {src}). {fix}"
