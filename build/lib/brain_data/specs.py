"""Reading the YAML specs shipped in ``brain_data/`` (training sets, stimulus sets, recordings)."""

from __future__ import annotations

from pathlib import Path

import yaml

from brain_data.errors import DataError
from brain_data.fetch import FileSpec, fetch
from models.config_check import ConfigError, safe_load

ROOT = Path(__file__).resolve().parent


def read_yaml(path: Path) -> dict:
    """``yaml.safe_load`` a mapping (aliases bounded: ``check_size``), with errors naming the file."""
    try:
        data = safe_load(Path(path).read_text(), str(path))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise DataError(f"{path}: cannot be read as YAML: {err}") from err
    except ConfigError as err:  # aliases expanding beyond the bound (a YAML bomb)
        raise DataError(str(err)) from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: must be a YAML mapping, got {type(data).__name__}")
    return data


def load_spec(kind: str, spec_id: str) -> dict:
    """The spec ``brain_data/<kind>/<spec_id>.yaml`` (kind: ``trainsets`` or ``stimuli``)."""
    path = ROOT / kind / f"{spec_id}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in (ROOT / kind).glob("*.yaml"))
        raise DataError(
            f"unknown {kind[:-1] if kind.endswith('s') else kind} {spec_id!r}; known: {known}"
        )
    spec = read_yaml(path)
    spec["_path"] = str(path)
    return spec


def fetch_files(spec: dict) -> dict[str, Path]:
    """Fetch every file of a spec whose ``files`` is a mapping key -> file entry."""
    return {
        key: fetch(FileSpec.from_dict(entry, spec["id"], spec["_path"]))
        for key, entry in spec["files"].items()
    }
