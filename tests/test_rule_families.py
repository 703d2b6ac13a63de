"""The tree shows the taxonomy: every rule lives in a family folder, and no rule imports a rule of
another family (shared mechanics are helpers, ``_*.py``, not rules)."""

from __future__ import annotations

from pathlib import Path

import pytest

from models import registry
from pipelines.code_digest import imported_modules

RULES = Path(registry.__file__).parent / "rules"


def cross_family_rule_imports(path: Path, family: str) -> list[str]:
    """Rules of another family that the file at ``path`` (in ``family``) imports."""
    ids = set(registry.available())
    bad = set()
    for mod in imported_modules(path, under=("models.rules",)):
        parts = mod.split(".")
        if len(parts) >= 4 and parts[3] in ids and parts[2] != family:
            bad.add(".".join(parts[:4]))
    return sorted(bad)


def test_every_rule_lives_in_a_family_folder():
    for rule_id in registry.available():
        folder = registry.family_folder(rule_id)
        assert folder in registry.FAMILY_FOLDERS, rule_id
        assert (RULES / folder / f"{rule_id}.py").is_file(), rule_id
    stray = [p.stem for p in RULES.glob("*.py") if not p.stem.startswith("_") and p.stem != "base"]
    assert not stray, f"rules outside a family folder: {stray}"


@pytest.mark.parametrize("family", registry.FAMILY_FOLDERS)
def test_no_rule_imports_a_rule_of_another_family(family):
    for path in sorted((RULES / family).glob("*.py")):
        assert not cross_family_rule_imports(path, family), path


def test_the_import_check_can_fail(tmp_path):
    """A planted cross-family import is caught (the check above is not vacuous)."""
    planted = tmp_path / "x.py"
    planted.write_text("from models.rules.feedback.fa import fa_op\n")
    assert cross_family_rule_imports(planted, "forward_only") == ["models.rules.feedback.fa"]
    assert cross_family_rule_imports(planted, "feedback") == []
