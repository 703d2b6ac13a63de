"""Digests of the code a step runs: what a rule's covers, and that each moves with its code only."""

from __future__ import annotations

import shutil

from models import registry
from pipelines import code_digest as cd


def _rel(paths) -> set[str]:
    return {p.relative_to(cd.ROOT).as_posix() for p in paths}


def test_a_rules_sources_are_its_module_shared_code_and_at_most_rules_it_builds_on():
    ids = set(registry.available())
    for rule_id in ids:
        stems = {p.stem for p in cd.rule_source_files(rule_id)}
        assert rule_id in stems, rule_id
        # a rule may build on a rule of its own family (recirc on chl, sign_sym on fa), no other
        family = registry.family_folder(rule_id)
        others = {r for r in stems & ids if registry.family_folder(r) != family}
        assert not others, (rule_id, sorted(others))
    assert {p.stem for p in cd.rule_source_files("recirc")} & ids == {"recirc", "chl"}
    assert {p.stem for p in cd.rule_source_files("chl")} & ids == {"chl"}
    fa = _rel(cd.rule_source_files("fa"))
    assert {"models/rules/feedback/_feedback.py", "models/rules/feedback/__init__.py"} <= fa
    assert set(cd.TRAINING_FILES) <= fa
    assert not any(f.startswith(("analyses/", "reports/")) for f in fa)  # models only


def test_a_steps_sources_follow_its_imports_across_packages():
    compare = _rel(cd.source_files([cd.module_path("pipelines.compare")]))
    assert {"pipelines/compare.py", "analyses/rsa.py", "analyses/__init__.py"} <= compare
    assert not any(f.startswith("models/rules/") for f in compare)


def test_digests_move_with_the_code_they_cover_only(tmp_path, monkeypatch):
    for pkg in cd.FIRST_PARTY:
        shutil.copytree(cd.ROOT / pkg, tmp_path / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    rules, steps = ("fa", "dfa", "pc"), ("pipelines.compare", "pipelines.extract")
    before = {k: cd.rule_digest(k) for k in rules} | {k: cd.step_digest(k) for k in steps}
    monkeypatch.setattr(cd, "ROOT", tmp_path)

    def now() -> dict[str, str]:
        return {k: cd.rule_digest(k) for k in rules} | {k: cd.step_digest(k) for k in steps}

    assert now() == before  # paths enter relative to the repository

    def edit(rel: str) -> set[str]:
        path = tmp_path / rel
        path.write_text(path.read_text() + "\n# edited\n")
        after = now()
        moved = {k for k in after if after[k] != before[k]}
        before.update(after)
        return moved

    assert edit("models/rules/feedback/fa.py") == {"fa"}
    assert edit("models/rules/feedback/_feedback.py") == {"fa", "dfa"}
    assert edit("models/arch.py") == {"fa", "dfa", "pc", "pipelines.extract"}
    assert edit("pipelines/train.py") == {"fa", "dfa", "pc"}
    assert edit("analyses/rsa.py") >= {"pipelines.compare"}
    assert not edit("analyses/rsa.py") & set(rules)
