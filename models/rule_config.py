"""Per-rule configuration files ``config/rules/<id>.yaml``.

Keys (all optional): ``hparams`` (keyword arguments of the rule class), ``per_arch`` and
``per_trainset`` (overrides of ``hparams``), ``training`` (the rule's optimiser settings in the
default grid: ``batch_size`` and ``lr_schedule``, e.g. ``batch_size: {cnn: 32}``), ``full_training``
(the same at the paper-scale budget, ``budget: full``), ``full_hparams`` (overrides of ``hparams`` at
that budget, e.g. a smaller learning rate that stays stable over many epochs; its own ``per_arch``
mapping overrides per architecture) and ``smoke`` (the budget with which the common test checks that
the rule learns on real MNIST: ``n_train``, ``epochs``, ``batch_size``, ``min_accuracy``, and
``per_arch`` budgets that override them for one architecture; see :func:`smoke_budget`).

The training budget itself (``n_train`` images, ``epochs``, ``n_test``) is the main config's and is
the same for every rule of one (arch, training set): rules are compared at matched examples seen. A
rule config that sets it is refused (:data:`BUDGET_KEYS`), so no rule silently trains on more or
less data than the main config says. Precedence for what a rule may set: the rule's block (its
``training`` or ``full_training``) over the main config's ``training`` block.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from models.config_check import ConfigError, StrictLoader, check_keys, load_schema, safe_load

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config" / "rules"
SCHEMA = Path(__file__).resolve().parent.parent / "workflow" / "schemas" / "rule_config.schema.yaml"
KEYS = set(yaml.safe_load(SCHEMA.read_text())["properties"])
BUDGETS = ("grid", "full")


class _Loader(StrictLoader):
    """``yaml.SafeLoader`` that also reads YAML 1.2 floats such as ``3e-5`` (YAML 1.1: text), and
    refuses duplicate keys (``config_check.StrictLoader``)."""


# Tried after SafeLoader's own resolvers (ints, YAML 1.1 floats, ...); a copy, SafeLoader is unchanged.
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def load_yaml(text: str, where: str = "YAML text"):
    """Parse YAML safely; numbers like ``3e-5`` are floats (as in YAML 1.2), not strings.

    Aliases may not expand the document beyond ``config_check.MAX_NODES`` values (YAML bombs).
    """
    return safe_load(text, where, loader=_Loader)


def load_rule_config(rule_id: str, config_dir: str | Path | None = None) -> dict:
    """The rule's config file as a dict ({} when the rule has none)."""
    path = Path(config_dir or CONFIG_DIR) / f"{rule_id}.yaml"
    if not path.is_file():
        return {}
    cfg = load_yaml(path.read_text(), str(path)) or {}
    if not isinstance(cfg, dict):
        raise ConfigError(f"{path}: must be a YAML mapping, got {type(cfg).__name__}")
    check_keys(cfg, load_schema(SCHEMA), str(path))
    return cfg


def resolve_hparams(cfg: dict, arch: str, trainset: str, budget: str = "grid") -> dict:
    """``hparams`` with the arch, trainset and (``budget="full"``) ``full_hparams`` overrides applied."""
    if budget not in BUDGETS:
        raise ValueError(f"budget must be one of {BUDGETS}, got {budget!r}")
    out = dict(cfg.get("hparams") or {})
    out.update((cfg.get("per_arch") or {}).get(arch) or {})
    out.update((cfg.get("per_trainset") or {}).get(trainset) or {})
    if budget == "full":
        full = dict(cfg.get("full_hparams") or {})
        by_arch = full.pop("per_arch", None) or {}
        out.update(full)
        out.update(by_arch.get(arch) or {})
    return out


def _pick(value, arch: str | None, trainset: str):
    """Resolve a value given per run: keys ``"<arch>/<trainset>"``, ``<trainset>``, ``<arch>``, ``default``."""
    if not isinstance(value, dict):
        return value
    for key in (f"{arch}/{trainset}", trainset, arch, "default"):
        if key in value:
            return value[key]
    return None


#: What a rule's ``training`` / ``full_training`` block may set: optimiser settings only.
RULE_TRAINING_KEYS = ("batch_size", "lr_schedule")
#: The matched budget: set in the main config only, identical for every rule of one network.
BUDGET_KEYS = ("epochs", "n_train", "n_test")


def resolve_training(
    base: dict,
    cfg: dict,
    trainset: str,
    arch: str | None = None,
    budget: str = "grid",
    *,
    rule_id: str = "this rule",
) -> dict:
    """The training block for one run: the main config's ``base`` block, with the rule's optimiser
    settings for ``budget`` (``training`` for ``grid``, ``full_training`` for ``full``) on top.

    A value may be a mapping keyed by ``"<arch>/<trainset>"``, training set, or architecture (most
    specific first), e.g. ``n_train: {mnist: 6000, cifar10: 5000}``. The result has ``epochs``,
    ``n_train``, ``n_test``, ``batch_size``, ``lr_schedule`` and ``examples`` (images seen in all:
    ``n_train * epochs``; ``n_train`` None means the whole training set, then ``examples`` is None).
    A rule block that sets a budget key (or an unknown key) raises ``ValueError`` naming the rule.
    """
    if budget not in BUDGETS:
        raise ValueError(f"budget={budget!r} is unknown; choose one of {BUDGETS}")
    key = "training" if budget == "grid" else "full_training"
    own = dict(cfg.get(key) or {})
    matched = sorted(set(own) & set(BUDGET_KEYS))
    if matched:
        raise ValueError(
            f"config/rules/{rule_id}.yaml: `{key}` sets {matched}, but the training budget is "
            "matched across rules (every rule of one network sees the same images, as many times): "
            f"set it in the main config's `training` block; a rule may set only {list(RULE_TRAINING_KEYS)}"
        )
    unknown = sorted(set(own) - set(RULE_TRAINING_KEYS))
    if unknown:
        raise ValueError(
            f"config/rules/{rule_id}.yaml: `{key}` has unknown keys {unknown}; "
            f"allowed {list(RULE_TRAINING_KEYS)}"
        )
    merged = {"lr_schedule": "constant", "n_train": None, "n_test": None, **base, **own}
    out = {k: _pick(v, arch, trainset) for k, v in merged.items()}
    for k in ("epochs", "batch_size"):
        if out.get(k) is None:
            raise ValueError(f"training.{k} is not set for {arch}/{trainset} in the main config")
    n = out.get("n_train")
    out["examples"] = None if n is None else int(n) * int(out["epochs"])
    return out


SMOKE_DEFAULTS = {"n_train": 3000, "epochs": 1, "batch_size": 64}


def smoke_budget(config: dict, arch: str) -> dict:
    """The rule's smoke budget on ``arch``: ``n_train``, ``epochs`` and ``batch_size`` (its
    ``smoke.per_arch`` entry over its ``smoke`` values over :data:`SMOKE_DEFAULTS`)."""
    smoke = config.get("smoke") or {}
    own = (smoke.get("per_arch") or {}).get(arch) or {}
    return {k: own.get(k, smoke.get(k, v)) for k, v in SMOKE_DEFAULTS.items()}
