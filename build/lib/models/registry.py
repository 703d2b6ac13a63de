"""Registry of learning rules: ``models/rules/<family>/<id>.py`` defines one ``Rule`` subclass,
registered by ``@register``; its id is the file stem (unique across families)."""

from __future__ import annotations

import difflib
import importlib
import inspect
import numbers
import pkgutil

from models.arch import Net
from models.rules.base import Rule, RuleCard


class HyperParameterError(ValueError, TypeError):
    """A hyper-parameter a rule does not take, or of the wrong type (a ``ValueError``, so the
    pipeline steps print it as a message; also a ``TypeError``, as Python raises for a bad
    keyword argument)."""


_REGISTRY: dict[str, type[Rule]] = {}
_LOADED = False
#: Folders of ``models/rules``, one per family of mechanisms (each holds its rules and the shared
#: mechanics of that family; helpers that several families use stay in ``models/rules``).
FAMILY_FOLDERS = (
    "baselines",
    "feedback",
    "perturbation",
    "hebbian",
    "local",
    "discrepancy",
    "energy",
    "forward_only",
    "self_supervised",
)


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
        for family in FAMILY_FOLDERS:
            pkg = importlib.import_module(f"models.rules.{family}")
            for mod in pkgutil.iter_modules(pkg.__path__):
                if not mod.name.startswith("_"):
                    importlib.import_module(f"models.rules.{family}.{mod.name}")
        _LOADED = True


def family_folder(rule_id: str) -> str:
    """The family folder of a rule: ``models/rules/<family>/<rule_id>.py``."""
    return get(rule_id).__module__.split(".")[2]


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


def check_hparams(rule_id: str, hparams: dict) -> None:
    """Refuse unknown hyper-parameters (naming the closest valid one) and booleans given for
    numeric ones (``lr: true`` is not a learning rate of 1): ``HyperParameterError``."""
    params: dict[str, inspect.Parameter] = {}
    for klass in get(rule_id).__mro__:  # **options are passed on to the parent class
        if "__init__" not in vars(klass):
            continue
        sig = list(inspect.signature(klass.__init__).parameters.values())[2:]  # self, net
        for p in sig:
            if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD):
                params.setdefault(p.name, p)
        if not any(p.kind is p.VAR_KEYWORD for p in sig):
            break
    for name, value in hparams.items():
        if name not in params:
            close = difflib.get_close_matches(name, list(params), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise HyperParameterError(
                f"rule {rule_id!r}: unknown hyper-parameter {name!r}; {hint}"
                f"valid: {', '.join(sorted(params))}"
            )
        default = params[name].default
        numeric = isinstance(default, numbers.Number) and not isinstance(default, bool)
        if numeric and isinstance(value, bool):
            raise HyperParameterError(
                f"rule {rule_id!r}: hyper-parameter {name}={value!r} is a boolean; "
                f"it must be a number (default {default!r})"
            )


def create(rule_id: str, net: Net, **hparams) -> Rule:
    """Instantiate a registered rule on ``net`` with keyword hyper-parameters (checked first)."""
    check_hparams(rule_id, hparams)
    return get(rule_id)(net, **hparams)
