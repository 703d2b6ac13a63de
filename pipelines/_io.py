"""Atomic output writing and small shared helpers for the pipeline steps."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import sys
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling of ``path`` (same suffix); rename it onto ``path`` on success.

    An interrupted or failing step leaves no file at ``path`` that looks complete.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(path: str | Path, obj) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=_jsonable) + "\n")


def write_npz(path: str | Path, compress: bool = True, **arrays: np.ndarray) -> None:
    """Write ``arrays`` atomically; ``compress=False`` for files many jobs read (no inflate)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        (np.savez_compressed if compress else np.savez)(fh, **arrays)


def write_csv(path: str | Path, frame) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, float_format="%.6g")


def save_torch(path: str | Path, obj) -> str:
    """``torch.save`` ``obj`` to ``path`` atomically, byte-reproducibly; return the file's sha256.

    torch names the archive's inner folder after the file it writes to; saving through a buffer
    gives every file the same inner name, so the same object always gives the same bytes.
    """
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    data = buf.getvalue()
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def load_torch(path: str | Path, sha256: str | None = None, *, what: str = "file"):
    """``torch.load(weights_only=True)`` of ``path``, checked against ``sha256`` when given.

    A truncated or altered file raises ``CorruptFileError`` naming it; it is first moved aside
    (``<name>.corrupt``) so that the step that wrote it runs again on the next ``snakemake`` call.
    """
    import torch

    from brain_data.errors import CorruptFileError

    path = Path(path)
    data = path.read_bytes()
    problem = None
    actual = hashlib.sha256(data).hexdigest()
    if sha256 is not None and actual != sha256:
        problem = f"its sha256 is {actual}, its run record says {sha256}"
    else:
        try:
            return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        except Exception as err:  # torch raises RuntimeError, EOFError, UnpicklingError, ...
            problem = f"not a readable torch file ({type(err).__name__}: {err})"
    aside = path.with_name(path.name + ".corrupt")
    os.replace(path, aside)
    raise CorruptFileError(
        f"{path}: corrupt {what}, {problem}; moved to {aside.name} so that the next run rebuilds it"
    )


def read_json(path: str | Path) -> dict:
    """A JSON file the pipeline wrote (a run record); a truncated one raises ``CorruptFileError``
    naming it, after moving it aside so that the step that wrote it runs again."""
    from brain_data.errors import CorruptFileError

    path = Path(path)
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        aside = path.with_name(path.name + ".corrupt")
        os.replace(path, aside)
        raise CorruptFileError(
            f"{path}: corrupt JSON ({err}); moved to {aside.name} so that the next run rebuilds it"
        ) from None


def _jsonable(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


STEP_COMMAND: str | None = None  # in a step worker (pipelines.workers): the step's command line


def setup_logging(log_file: str | None = None) -> None:
    """Log progress to ``log_file`` (Snakemake's ``log:``) if given, else to stderr.

    With a log file, only warnings and errors also reach stderr, so the Snakemake console stays
    readable while every step's progress (epochs, batches, resamples) is in ``logs/``. A step run by
    a worker process (:mod:`pipelines.workers`) heads its log with the command that reruns it.
    """
    console = logging.StreamHandler(sys.stderr)
    handlers: list[logging.Handler] = [console]
    if log_file:
        console.setLevel(logging.WARNING)
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, mode="w"))
    logging.basicConfig(
        level=logging.INFO,
        handlers=handlers,
        force=True,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    if STEP_COMMAND:
        logging.getLogger("bioalign").info(
            "run by step worker pid %d of snakemake pid %d, as: %s",
            os.getpid(), os.getppid(), STEP_COMMAND,
        )  # fmt: skip


def corrupt_inputs(argv: list[str]) -> list[Path]:
    """The files named on a step's command line (``.npz``, ``.npy``, ``.json``, ``.csv``, ``.pt``)
    that exist but cannot be read whole."""
    bad = []
    for arg in argv:
        path = Path(arg)
        if path.suffix not in (".npz", ".npy", ".json", ".csv", ".pt") or not path.is_file():
            continue
        try:
            if path.suffix == ".npz":
                with np.load(path, allow_pickle=False) as npz:
                    for key in npz.files:
                        npz[key]
            elif path.suffix == ".npy":
                np.load(path, allow_pickle=False, mmap_mode="r")
            elif path.suffix == ".json":
                json.loads(path.read_text())
            elif path.suffix == ".csv":
                import pandas as pd

                pd.read_csv(path)
            else:
                import torch

                torch.load(path, map_location="cpu", weights_only=True)
        except Exception:
            bad.append(path)
    return bad


def run_main(main, argv: list[str] | None = None) -> None:
    """Run a step's ``main`` on ``argv`` (default: the command line); a data error exits 1 with its
    message instead of a traceback.

    When a step fails on a truncated or corrupt input file (a cache of an earlier step: the
    error itself often names no file), the unreadable inputs are named and moved aside
    (``<name>.corrupt``) so that the next ``snakemake`` call rebuilds them.
    """
    from brain_data.errors import DataError

    log = logging.getLogger("bioalign")
    try:
        main(argv)
    except (DataError, ValueError, KeyError) as err:
        log.error("%s: %s", type(err).__name__, err)
        sys.exit(1)
    except (zipfile.BadZipFile, EOFError, OSError, zlib.error, RuntimeError) as err:
        bad = corrupt_inputs(sys.argv[1:] if argv is None else argv)
        if not bad:
            raise
        for path in bad:
            os.replace(path, path.with_name(path.name + ".corrupt"))
        names = ", ".join(str(p) for p in bad)
        log.error(
            "corrupt input %s (%s: %s); moved aside as *.corrupt so that the next run rebuilds it",
            names,
            type(err).__name__,
            err,
        )
        sys.exit(1)
