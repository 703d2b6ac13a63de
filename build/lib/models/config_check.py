"""Strict configuration: unknown keys are errors, and YAML may not build more than it shows.

``check_keys`` walks a value beside its JSON schema and refuses every key that the schema does not
allow (``additionalProperties: false``), naming where it is and the closest valid key; the schema is
the only list of keys, so adding a property to the schema is all a new key needs. ``check_size``
bounds what YAML anchors and aliases may expand to (a "billion laughs" file is a few hundred bytes
that reference each other into 10^9 nodes: cheap to parse, ruinous to copy, validate or walk).
"""

from __future__ import annotations

import copy
import difflib
import functools
from pathlib import Path

import yaml

__all__ = [
    "MAX_NODES",
    "ConfigError",
    "StrictLoader",
    "check_config",
    "check_keys",
    "check_known_ids",
    "check_size",
    "load_schema",
    "safe_load",
]

MAX_NODES = 1_000_000  # expanded size allowed for one YAML document (configs, manifests, specs)


REPO = Path(__file__).resolve().parent.parent


class ConfigError(ValueError):
    """A configuration or manifest key is unknown, or a YAML document expands too far."""


#: libyaml's parser where PyYAML was built with it (about ten times faster), the same safe
#: constructor and resolver either way.
SafeBase = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class StrictLoader(SafeBase):
    """``yaml.SafeLoader`` that refuses a key given twice in one mapping (PyYAML silently keeps the
    last one, so ``rois: {IT: a, IT: b}`` would lose an ROI without a word)."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(
                    key_node, yaml.ScalarNode
                ):
                    continue
                if key_node.value in seen:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping",
                        seen[key_node.value],
                        f"found the key {key_node.value!r} a second time",
                        key_node.start_mark,
                    )
                seen[key_node.value] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


@functools.cache
def _schema(path: str) -> dict:
    return yaml.load(Path(path).read_text(), Loader=SafeBase)  # noqa: S506 - a safe loader


def load_schema(path: str | Path) -> dict:
    """The schema at ``path`` (parsed once per process; a copy, so callers may change it)."""
    return copy.deepcopy(_schema(str(path)))


def _resolve(schema: dict, root: dict) -> dict:
    while isinstance(schema, dict) and "$ref" in schema:
        ref = schema["$ref"]
        if not ref.startswith("#/"):
            return {}
        node = root
        for part in ref[2:].split("/"):
            node = node[part]
        schema = node
    return schema if isinstance(schema, dict) else {}


def _object_branch(schema: dict, root: dict) -> dict | None:
    """The schema that applies to a mapping value (through ``$ref`` and ``oneOf``/``anyOf``)."""
    schema = _resolve(schema, root)
    for key in ("oneOf", "anyOf"):
        for branch in schema.get(key, []):
            b = _resolve(branch, root)
            types = b.get("type", [])
            if "object" in (types if isinstance(types, list) else [types]):
                return b
    return schema


def unknown_keys(value, schema: dict, root: dict | None = None, path: tuple = ()) -> list:
    """Every ``(path, key, allowed)`` of ``value`` that ``schema`` forbids, depth first."""
    root = schema if root is None else root
    out: list = []
    if isinstance(value, dict):
        s = _object_branch(schema, root)
        if s is None:
            return out
        props = s.get("properties", {})
        extra = s.get("additionalProperties", True)
        names = _resolve(s.get("propertyNames", {}), root)
        allowed = list(props) + list(names.get("enum", []))
        for key, sub in value.items():
            if key in props:
                out += unknown_keys(sub, props[key], root, path + (key,))
            elif extra is False or (names.get("enum") and key not in names["enum"]):
                out.append((path, str(key), allowed))
            elif isinstance(extra, dict):
                out += unknown_keys(sub, extra, root, path + (key,))
    elif isinstance(value, list):
        items = _resolve(schema, root).get("items")
        if isinstance(items, dict):
            for i, sub in enumerate(value):
                out += unknown_keys(sub, items, root, path + (i,))
    return out


def check_keys(value, schema: dict, where: str) -> None:
    """Raise ``ConfigError`` naming the first unknown key of ``value`` and the closest valid one."""
    bad = unknown_keys(value, schema)
    if not bad:
        return
    lines = []
    for path, key, allowed in bad:
        at = "/".join(str(p) for p in path + (key,))
        close = difflib.get_close_matches(key, [str(a) for a in allowed], n=1, cutoff=0.5)
        hint = f"did you mean {close[0]!r}? " if close else ""
        lines.append(f"unknown key {at!r}: {hint}valid here: {', '.join(map(str, allowed))}")
    raise ConfigError(f"{where}: " + "; ".join(lines))


def check_size(value, where: str, limit: int = MAX_NODES) -> None:
    """Refuse a value whose expanded size (aliases counted each time they are used) exceeds
    ``limit`` nodes; computed on the shared structure, so a bomb is caught without expanding it."""
    memo: dict[int, int] = {}

    def size(v) -> int:
        if not isinstance(v, dict | list):
            return 1
        if id(v) in memo:
            return memo[id(v)]
        memo[id(v)] = limit + 1  # a self-referencing alias is infinitely large
        items = v.items() if isinstance(v, dict) else enumerate(v)
        n = 1
        for k, sub in items:
            n += size(k) + size(sub)
            if n > limit:
                break
        memo[id(v)] = n
        return n

    n = size(value)
    if n > limit:
        raise ConfigError(
            f"{where}: its YAML aliases expand to more than {limit:,} values (a 'YAML bomb'?); "
            "write the values out instead of repeating anchors"
        )


def check_config(
    config: dict, schema_path: str | Path, where: str = "config", files: tuple = ()
) -> None:
    """The workflow's config: bounded in size, and every key known to the schema. ``files``
    (the config files it was read from) are re-read strictly: a key given twice is an error."""
    check_size(config, where)
    for path in files:
        try:
            safe_load(Path(path).read_text(), str(path))
        except yaml.YAMLError as err:
            raise ConfigError(f"{path}: {err}") from None
    check_keys(config, load_schema(schema_path), where)


def check_known_ids(config: dict, where: str = "config") -> None:
    """Rule and training-set ids of the grid exist (``models/rules/<family>/<id>.py``,
    ``brain_data/trainsets/<id>.yaml``), checked without importing them; unknown ones are named
    with the closest known id."""
    known = {
        "rules": sorted(
            p.stem for p in (REPO / "models" / "rules").glob("*/*.py") if not p.stem.startswith("_")
        ),
        "trainsets": sorted(p.stem for p in (REPO / "brain_data" / "trainsets").glob("*.yaml")),
    }
    given = {
        "rules": list(config.get("rules", [])),
        "trainsets": [str(n).split("/", 1)[-1] for n in config.get("nets", [])]
        + list(config.get("match_accuracy") or {}),
    }
    for key, ids in known.items():
        for value in given[key]:
            if value not in ids:
                close = difflib.get_close_matches(str(value), ids, n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                raise ConfigError(f"{where}: {key}: unknown id {value!r}; {hint}known: {ids}")
    # a training value given per run: keys "<arch>/<trainset>", trainset, arch or "default"
    archs, sets = ["mlp", "cnn"], known["trainsets"]
    valid = ["default", *archs, *sets] + [f"{a}/{t}" for a in archs for t in sets]
    for name, value in (config.get("training") or {}).items():
        for k in value if isinstance(value, dict) else ():
            if k not in valid:
                close = difflib.get_close_matches(str(k), valid, n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                raise ConfigError(
                    f"{where}: training/{name}: unknown key {k!r}; {hint}"
                    "keys are <arch>/<trainset>, a training set, an architecture or default"
                )


def safe_load(text: str, where: str, loader=StrictLoader, limit: int = MAX_NODES):
    """``yaml.load`` with a safe ``loader`` (duplicate keys refused), then ``check_size``."""
    data = yaml.load(text, Loader=loader)  # noqa: S506 - callers pass SafeLoader subclasses
    check_size(data, where, limit)
    return data
