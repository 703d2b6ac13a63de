"""Which source files a rule's training depends on, and one digest of them.

The train step's parameters carry this digest, so Snakemake (whose ``params`` rerun trigger compares
them with the last run's) retrains a rule when its code changes, and only that rule unless shared
code changed; the run record keeps it as provenance. The files: the rule's module, every ``models``
module it imports (directly or through another) and the packages above them, plus the training
entry points (``models/training.py``, ``pipelines/train.py``, ``brain_data/trainsets.py``) and what
they import from ``models``. Imports are read from the source, so the registry's discovery of the
other rules does not count.
"""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

from models import registry

ROOT = Path(__file__).resolve().parent.parent
#: Entry points of every training run (their own ``models`` imports are followed too).
TRAINING_FILES = ("models/training.py", "pipelines/train.py", "brain_data/trainsets.py")
#: The package whose imports are followed.
FOLLOWED = "models"


def _module_path(name: str) -> Path | None:
    """The source file of first-party module ``name`` (``a.b`` -> a/b.py or a/b/__init__.py)."""
    base = ROOT.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def imported_modules(path: Path, under: str = FOLLOWED) -> set[str]:
    """Absolute names of the modules under ``under`` that the file at ``path`` imports (``from x
    import y``: x, and x.y in case y is a module), with the packages above them (importing a.b.c
    runs a/__init__.py and a/b/__init__.py first). Relative imports resolve against the file's
    package in this repository."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = path.resolve().relative_to(ROOT).parent.parts
                base = ".".join([*package[: len(package) - node.level + 1], *filter(None, [base])])
            names.add(base)
            names.update(f"{base}.{a.name}" for a in node.names)
    followed = {n for n in names if n == under or n.startswith(under + ".")}
    return {".".join(n.split(".")[:i]) for n in followed for i in range(1, n.count(".") + 2)}


def source_files(rule_id: str) -> list[Path]:
    """Sorted source files a training run of ``rule_id`` depends on (see the module docstring)."""
    cls = registry.get(rule_id)
    start = [_module_path(cls.__module__)] + [ROOT / f for f in TRAINING_FILES]
    seen: set[Path] = set()
    todo = [p for p in start if p is not None]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        todo.extend(p for n in imported_modules(path) if (p := _module_path(n)) is not None)
    return sorted(seen)


def source_digest(rule_id: str) -> str:
    """sha256 over the relative paths and contents of ``source_files(rule_id)`` (first 16 hex)."""
    h = hashlib.sha256()
    for path in source_files(rule_id):
        h.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]
