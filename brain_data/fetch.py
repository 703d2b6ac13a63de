"""Download layer: every file has a public URL and a sha256; a local mirror is tried first.

``BIOALIGN_DATA_MIRROR`` names a directory laid out like the public sources
(``<mirror>/<dataset>/<file>``); ``BIOALIGN_DATA_CACHE`` the ignored cache that files are copied or
downloaded into (default ``data/raw`` under the working directory). pooch does the download, the
atomic write and the hash check; a mismatch becomes a ``DataIntegrityError`` naming the file.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pooch

from brain_data.errors import DataIntegrityError, DataUnavailableError, RecordingError

pooch.get_logger().setLevel("WARNING")  # its "Downloading ..." line also shows for mirror copies

MIRROR_ENV = "BIOALIGN_DATA_MIRROR"
CACHE_ENV = "BIOALIGN_DATA_CACHE"


@dataclass(frozen=True)
class FileSpec:
    """One public file. ``mirror`` is its path under the mirror/cache root (``<dataset>/<name>``).

    ``hash_of="gunzip"`` means ``sha256`` is of the decompressed content (for sources that
    re-compress identical data, e.g. MNIST).
    """

    name: str
    url: str
    sha256: str
    mirror: str
    hash_of: str = "file"

    @classmethod
    def from_dict(cls, d: dict, dataset: str, where: str = "") -> FileSpec:
        missing = [k for k in ("name", "url", "sha256") if k not in d]
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
            url=d["url"],
            sha256=str(d["sha256"]).lower(),
            mirror=d.get("mirror", f"{dataset}/{d['name']}"),
            hash_of=d.get("hash_of", "file"),
        )


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV, "data/raw")).resolve()


def mirror_dir() -> Path | None:
    value = os.environ.get(MIRROR_ENV)
    return Path(value).resolve() if value else None


def sha256sum(path: Path, gunzip: bool = False) -> str:
    """Hex sha256 of a file (or of its gunzipped content)."""
    digest = hashlib.sha256()
    opener = gzip.open if gunzip else open
    with opener(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class _MirrorFirst:
    """pooch downloader: copy from the mirror when it holds the file, else HTTP."""

    def __init__(self, spec: FileSpec):
        self.spec = spec

    def __call__(self, url: str, output_file, pooch_obj, check_only: bool = False):
        mirror = mirror_dir()
        local = mirror / self.spec.mirror if mirror else None
        if local is not None and local.is_file():
            if check_only:
                return True
            if hasattr(output_file, "write"):
                with open(local, "rb") as src:
                    shutil.copyfileobj(src, output_file)
            else:
                shutil.copyfile(local, output_file)
            return None
        try:
            return pooch.HTTPDownloader(progressbar=False)(
                url, output_file, pooch_obj, check_only=check_only
            )
        except Exception as err:  # network errors come in many types
            where = (
                f" nor at {local}"
                if local is not None
                else f" (set {MIRROR_ENV} to a local mirror)"
            )
            raise DataUnavailableError(
                f"{self.spec.name}: could not be downloaded from {url} ({type(err).__name__}: {err}),{where}"
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
                spec.url,
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

    A fresh copy is downloaded beside the cache and checked before it replaces ``target``; a copy
    that fails the check is quarantined, and ``target`` (which another entry may validate) is
    never deleted.
    """
    if target.is_file() and _gunzip_sha256(target) == spec.sha256:
        return target
    incoming = cache_dir() / ".incoming" / spec.mirror
    incoming.parent.mkdir(parents=True, exist_ok=True)
    incoming.unlink(missing_ok=True)
    path = Path(
        pooch.retrieve(
            spec.url,
            known_hash=None,
            fname=incoming.name,
            path=incoming.parent,
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
    if target.is_file():  # a stale or damaged copy: keep it aside rather than delete it
        _quarantine(target, spec)
    os.replace(path, target)
    return target


def _quarantine(path: Path, spec: FileSpec) -> Path:
    """Move a refused file to ``<cache>/.quarantine/<mirror path>`` (never into use, never lost)."""
    dest = cache_dir() / ".quarantine" / spec.mirror
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.replace(path, dest)
    return dest


def _bad_hash(spec: FileSpec, what: str) -> str:
    mirror = mirror_dir()
    src = mirror / spec.mirror if mirror and (mirror / spec.mirror).is_file() else spec.url
    return (
        f"{spec.name}: refused, {what} (expected sha256 {spec.sha256}; source {src}). "
        f"Replace it with an intact copy from {spec.url}."
    )
