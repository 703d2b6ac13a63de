"""Digests of the source code a pipeline step runs, so that Snakemake reruns a step when it changes.

Snakemake reruns a job whose ``params`` differ from its last run's, but it does not read the modules a
step imports. Every step's params therefore carry a digest of its source: the step's module and every
first-party module it imports, directly or through another, with the packages above them (imports are
read from the source, so the registry's discovery of the other rules does not count).

* ``rule_digest(rule_id)``: a training run. The rule's module and the training entry points
  (``TRAINING_FILES``), following imports into ``models`` only, so that editing a rule retrains that
  rule alone (and any rule built on it), and editing shared model code retrains every rule.
* ``step_digest(module)``: any other step (``pipelines.compare``, ...), following every first-party
  package (``FIRST_PARTY``).
"""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Iterable
from pathlib import Path

from models import registry

ROOT = Path(__file__).resolve().parent.parent
FIRST_PARTY = ("analyses", "brain_data", "models", "pipelines", "reports")
#: Entry points of every training run (their own ``models`` imports are followed too).
TRAINING_FILES = ("models/training.py", "pipelines/train.py", "brain_data/trainsets.py")


def module_path(name: str) -> Path | None:
    """The source file of first-party module ``name`` (``a.b`` -> a/b.py or a/b/__init__.py)."""
    base = ROOT.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def imported_modules(path: Path, under: Iterable[str] = FIRST_PARTY) -> set[str]:
    """Absolute names of the modules in the packages ``under`` that the file at ``path`` imports
    (``from x import y``: x, and x.y in case y is a module), with the packages above them (importing
    a.b.c runs a/__init__.py and a/b/__init__.py first). Relative imports resolve against the file's
    package in this repository."""
    prefixes = (under,) if isinstance(under, str) else tuple(under)
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
    kept = {n for n in names if any(n == p or n.startswith(p + ".") for p in prefixes)}
    return {".".join(n.split(".")[:i]) for n in kept for i in range(1, n.count(".") + 2)}


def source_files(start: Iterable[Path], follow: Iterable[str] = FIRST_PARTY) -> list[Path]:
    """Sorted files ``start`` and every module they import from the packages ``follow``, transitively."""
    follow = (follow,) if isinstance(follow, str) else tuple(follow)
    seen: set[Path] = set()
    todo = list(start)
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        todo.extend(p for n in imported_modules(path, follow) if (p := module_path(n)) is not None)
    return sorted(seen)


def digest(files: Iterable[Path]) -> str:
    """sha256 over the files' paths (relative to the repository) and contents (first 16 hex)."""
    h = hashlib.sha256()
    for path in sorted(files):
        h.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def rule_source_files(rule_id: str) -> list[Path]:
    """The files a training run of ``rule_id`` depends on (see the module docstring)."""
    own = module_path(registry.get(rule_id).__module__)
    return source_files([own, *(ROOT / f for f in TRAINING_FILES)], follow=("models",))


def rule_digest(rule_id: str) -> str:
    """Digest of ``rule_source_files(rule_id)``."""
    return digest(rule_source_files(rule_id))


def step_digest(module: str) -> str:
    """Digest of step ``module`` (e.g. ``"pipelines.compare"``) and all it imports first-party."""
    path = module_path(module)
    if path is None:
        raise ValueError(f"no source file for module {module!r} under {ROOT}")
    return digest(source_files([path]))
