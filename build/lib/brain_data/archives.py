"""Unpacking downloaded archives (zip, tar) safely: every member is checked before anything is
written, and an archive that tries to write outside its folder is refused whole.

Refused members: absolute paths (``/x``, ``C:\\x``), paths with ``..``, symbolic and hard links,
devices, FIFOs and anything else that is not a regular file or a folder. Tar archives are also
extracted with Python's ``data`` filter (PEP 706), a second line of defence.
"""

from __future__ import annotations

import shutil
import stat
import tarfile
import zipfile
from pathlib import Path, PurePosixPath, PureWindowsPath

from brain_data.errors import RecordingError

__all__ = ["check_member_name", "safe_unpack"]


def check_member_name(name: str, archive: Path) -> None:
    """Refuse a member path that is absolute or climbs out of the extraction folder."""
    posix, windows = PurePosixPath(name), PureWindowsPath(name)
    if posix.is_absolute() or windows.is_absolute() or windows.drive or name.startswith("\\"):
        raise RecordingError(f"{archive}: refused, member {name!r} has an absolute path")
    if ".." in posix.parts or ".." in windows.parts:
        raise RecordingError(
            f"{archive}: refused, member {name!r} would be written outside the data folder"
        )


def _check_zip(zf: zipfile.ZipFile, archive: Path) -> None:
    for info in zf.infolist():
        check_member_name(info.filename, archive)
        mode = info.external_attr >> 16  # Unix mode; many zips record no file type (0)
        if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
            kind = "a symbolic link" if stat.S_ISLNK(mode) else "not a regular file"
            raise RecordingError(f"{archive}: refused, member {info.filename!r} is {kind}")


def _check_tar(tf: tarfile.TarFile, archive: Path) -> None:
    for member in tf.getmembers():
        check_member_name(member.name, archive)
        if not (member.isfile() or member.isdir()):
            kind = (
                "a symbolic link"
                if member.issym()
                else "a hard link"
                if member.islnk()
                else "a device or FIFO"
            )
            raise RecordingError(f"{archive}: refused, member {member.name!r} is {kind}")


def safe_unpack(archive: Path, dest: Path) -> None:
    """Unpack a zip or tar ``archive`` into ``dest`` (created), after checking every member.

    Raises ``RecordingError`` naming the archive and the first refused member; nothing is written
    then. A partly written ``dest`` (e.g. disk full) is removed.
    """
    archive = Path(archive)
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                _check_zip(zf, archive)
                dest.mkdir(parents=True)
                zf.extractall(dest)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tf:
                _check_tar(tf, archive)
                dest.mkdir(parents=True)
                tf.extractall(dest, filter="data")
        else:
            raise RecordingError(f"{archive}: not a zip or tar archive")
    except RecordingError:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    except (zipfile.BadZipFile, tarfile.TarError, OSError, EOFError, ValueError) as err:
        shutil.rmtree(dest, ignore_errors=True)
        raise RecordingError(
            f"{archive}: cannot be unpacked (truncated or corrupt?): {type(err).__name__}: {err}"
        ) from err
