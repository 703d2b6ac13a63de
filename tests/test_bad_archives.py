"""Archives that try to write outside their folder are refused before anything is written
(issue 26, item 1)."""

from __future__ import annotations

import io
import stat
import tarfile
import zipfile

import pytest

from brain_data.archives import safe_unpack
from brain_data.errors import RecordingError
from brain_data.formats.meeg import unpack


def _zip(path, members: dict[str, bytes], links: dict[str, str] | None = None):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return path


def _tar(path, members: dict[str, bytes], kind=tarfile.REGTYPE, linkname=""):
    with tarfile.open(path, "w") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname, info.size = kind, linkname, len(data)
            tf.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
    return path


@pytest.mark.parametrize(
    "name, message",
    [
        ("../../escaped.txt", "would be written outside"),
        ("sub/../../escaped.txt", "would be written outside"),
        ("/tmp/abs-escaped.txt", "absolute path"),
        ("C:/escaped.txt", "absolute path"),
        ("..\\..\\escaped.txt", "would be written outside"),
    ],
)
@pytest.mark.parametrize("fmt", ["zip", "tar"])
def test_members_outside_the_folder_are_refused_before_writing(tmp_path, name, message, fmt):
    data = tmp_path / "data"
    data.mkdir()
    members = {"ok/first.txt": b"fine", name: b"evil"}
    archive = (_zip if fmt == "zip" else _tar)(data / f"ds.{fmt}", members)
    with pytest.raises(RecordingError, match=rf"ds.{fmt}: refused, member .*{message}"):
        unpack(archive)
    assert sorted(p.name for p in data.iterdir()) == [f"ds.{fmt}"]  # nothing written
    assert not (tmp_path / "escaped.txt").exists()


def test_links_and_devices_are_refused(tmp_path):
    z = _zip(tmp_path / "l.zip", {"a.txt": b"x"}, links={"link": "/etc/passwd"})
    with pytest.raises(RecordingError, match=r"l.zip: refused, member 'link' is a symbolic link"):
        safe_unpack(z, tmp_path / "z")
    for kind, what in [(tarfile.SYMTYPE, "symbolic link"), (tarfile.LNKTYPE, "hard link"),
                       (tarfile.CHRTYPE, "device or FIFO"), (tarfile.FIFOTYPE, "device or FIFO")]:  # fmt: skip
        t = _tar(tmp_path / f"{kind!r}.tar", {"m": b""}, kind=kind, linkname="/etc/passwd")
        with pytest.raises(RecordingError, match=rf"refused, member 'm' is a {what}"):
            safe_unpack(t, tmp_path / "t")
    assert not (tmp_path / "z").exists() and not (tmp_path / "t").exists()


def test_truncated_or_foreign_archive_is_refused_naming_it(tmp_path):
    z = _zip(tmp_path / "d.zip", {"a.txt": b"x" * 5000})
    z.write_bytes(z.read_bytes()[:-40])
    with pytest.raises(RecordingError, match=r"d.zip: (not a zip or tar|cannot be unpacked)"):
        safe_unpack(z, tmp_path / "out")
    (tmp_path / "n.zip").write_bytes(b"plain text")
    with pytest.raises(RecordingError, match=r"n.zip: not a zip or tar archive"):
        safe_unpack(tmp_path / "n.zip", tmp_path / "out")


def test_a_good_archive_unpacks_once(tmp_path):
    z = _zip(tmp_path / "g.zip", {"sub/a.txt": b"x", "b.txt": b"y"})
    dest = unpack(z)
    assert (dest / "sub" / "a.txt").read_bytes() == b"x" and unpack(z) == dest
