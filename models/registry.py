"""Registry of learning rules: ``models/rules/<id>.py`` defines one ``Rule`` subclass, registered
by ``@register``; its id is the file stem."""

from __future__ import annotations

import importlib
import pkgutil

import models.rules as _rules_pkg
from models.arch import Net
from models.rules.base import Rule, RuleCard

_REGISTRY: dict[str, type[Rule]] = {}
_LOADED = False
_NOT_RULES = {"base"}


def register(cls: type[Rule]) -> type[Rule]:
    """Class decorator: register ``cls`` under its module's file stem."""
    rule_id = cls.__module__.rsplit(".", 1)[-1]
    if rule_id in _REGISTRY and _REGISTRY[rule_id] is not cls:
        raise ValueError(f"rule id {rule_id!r} is registered twice")
    if not isinstance(vars(cls).get("card"), RuleCard):
        raise TypeError(f"rule {rule_id!r} ({cls.__name__}) has no card")
    cls.rule_id = rule_id
    _REGISTRY[rule_id] = cls
    return cls


def _load_all() -> None:
    global _LOADED
    if not _LOADED:
        for mod in pkgutil.iter_modules(_rules_pkg.__path__):
            if mod.name not in _NOT_RULES and not mod.name.startswith("_"):
                importlib.import_module(f"models.rules.{mod.name}")
        _LOADED = True


def available() -> list[str]:
    """Sorted ids of every registered rule."""
    _load_all()
    return sorted(_REGISTRY)


def get(rule_id: str) -> type[Rule]:
    """The rule class for ``rule_id``; an unknown id lists the valid ones."""
    _load_all()
    if rule_id not in _REGISTRY:
        raise KeyError(
            f"unknown learning rule {rule_id!r}; registered rules: {', '.join(available())}"
        )
    return _REGISTRY[rule_id]


def create(rule_id: str, net: Net, **hparams) -> Rule:
    """Instantiate a registered rule on ``net`` with keyword hyper-parameters."""
    cls = get(rule_id)
    try:
        return cls(net, **hparams)
    except TypeError as err:
        raise TypeError(f"rule {rule_id!r}: bad hyper-parameters {sorted(hparams)}: {err}") from err
