"""The source digest of a rule's training: what it covers, and that it moves with the code."""

from __future__ import annotations

import shutil

from models import provenance, registry


def test_a_rules_sources_are_its_module_shared_code_and_at_most_rules_it_builds_on():
    ids = set(registry.available())
    for rule_id in ids:
        stems = {p.stem for p in provenance.source_files(rule_id)}
        assert rule_id in stems, rule_id
        # a rule may build on a rule of its own family (recirc on chl, sign_sym on fa), no other
        family = registry.family_folder(rule_id)
        others = {r for r in stems & ids if registry.family_folder(r) != family}
        assert not others, (rule_id, sorted(others))
    assert {p.stem for p in provenance.source_files("recirc")} & ids == {"recirc", "chl"}
    assert {p.stem for p in provenance.source_files("chl")} & ids == {"chl"}
    fa = {p.relative_to(provenance.ROOT).as_posix() for p in provenance.source_files("fa")}
    assert {"models/rules/feedback/_feedback.py", "models/rules/feedback/__init__.py"} <= fa
    assert set(provenance.TRAINING_FILES) <= fa


def test_digest_moves_with_the_rules_code_and_with_shared_code_only(tmp_path, monkeypatch):
    for name in provenance.TRAINING_FILES:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(provenance.ROOT / "models", tmp_path / "models", dirs_exist_ok=True)
    for name in provenance.TRAINING_FILES[1:]:
        shutil.copy2(provenance.ROOT / name, tmp_path / name)
    rules = ("fa", "dfa", "pc")
    before = {r: provenance.source_digest(r) for r in rules}
    monkeypatch.setattr(provenance, "ROOT", tmp_path)
    assert {r: provenance.source_digest(r) for r in rules} == before  # paths are relative

    def edit(rel: str) -> dict[str, bool]:
        path = tmp_path / rel
        path.write_text(path.read_text() + "\n# edited\n")
        now = {r: provenance.source_digest(r) for r in rules}
        moved = {r: now[r] != before[r] for r in rules}
        before.update(now)
        return moved

    assert edit("models/rules/feedback/fa.py") == {"fa": True, "dfa": False, "pc": False}
    assert edit("models/rules/feedback/_feedback.py") == {"fa": True, "dfa": True, "pc": False}
    assert edit("models/arch.py") == {"fa": True, "dfa": True, "pc": True}
    assert edit("pipelines/train.py") == {"fa": True, "dfa": True, "pc": True}
