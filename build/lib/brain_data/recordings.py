"""Recordings described by manifests (``brain_data/<id>/manifest.yaml``) loaded into one object.

A ``Recording`` holds, per ROI, subject RDMs over ``stimuli`` (0-based stimulus-set indices, in
recording order): (n_subjects, n_stim, n_stim) for static recordings, (n_subjects, n_times, n_stim,
n_stim) with ``times`` (seconds) for time-resolved ones; response formats also keep the responses
(n_subjects, n_stim, n_features). The file format is read by a loader of ``brain_data.formats``;
every check fails with a ``RecordingError`` that names the file and the problem.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import jsonschema
import numpy as np

from brain_data.errors import DataError, RecordingError
from brain_data.fetch import FileSpec, fetch
from brain_data.formats import LOADERS, Context
from brain_data.specs import ROOT, load_spec, read_yaml
from brain_data.validate import validate_rdms

__all__ = [
    "Recording",
    "enabled_by_default",
    "is_time_resolved",
    "load_manifest",
    "load_recording",
    "manifest_path",
    "manifest_paths",
    "select_recordings",
    "validate_rdms",
]

SCHEMA = ROOT / "manifest.schema.yaml"


@dataclass
class Recording:
    """One recording set: subject RDMs per ROI over ``stimuli`` (0-based stimulus-set indices)."""

    id: str
    modality: str
    stimset: str
    stimuli: np.ndarray
    rdms: dict[str, np.ndarray]
    citation: str = ""
    meta: dict = field(default_factory=dict)
    times: np.ndarray | None = None
    responses: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def rois(self) -> list[str]:
        return list(self.rdms)

    @property
    def time_resolved(self) -> bool:
        return self.times is not None

    def n_subjects(self, roi: str) -> int:
        return self.rdms[roi].shape[0]


def manifest_paths(root: Path = ROOT) -> dict[str, Path]:
    """Every ``<root>/<id>/manifest.yaml`` by id."""
    return {p.parent.name: p for p in sorted(Path(root).glob("*/manifest.yaml"))}


def select_recordings(
    requested: str | list[str], root: Path = ROOT
) -> tuple[list[str], dict[str, dict], dict[str, str]]:
    """The recordings a run uses, their manifests, and the manifests skipped with the reason.

    ``requested="all"``: every manifest that is enabled by default; a malformed one is skipped (its
    reason returned, for a warning) rather than blocking every run. A list of ids: each must load;
    a malformed or unknown one raises ``RecordingError`` naming it.
    """
    manifests, skipped = {}, {}
    for rid, path in manifest_paths(root).items():
        try:
            manifests[rid] = load_manifest(path)
        except DataError as err:
            skipped[rid] = str(err)
    if requested == "all":
        return sorted(r for r, m in manifests.items() if enabled_by_default(m)), manifests, skipped
    for rid in requested:
        if rid in skipped:
            raise RecordingError(f"recording {rid!r} is requested, but {skipped[rid]}")
        if rid not in manifests:
            manifests[rid] = load_manifest(manifest_path(rid))
    return list(requested), manifests, {}


def manifest_path(recording: str) -> Path:
    """The manifest of ``recording`` (an id or a path to a manifest)."""
    if recording.endswith((".yaml", ".yml")):
        return Path(recording)
    paths = manifest_paths()
    if recording not in paths:
        raise RecordingError(f"unknown recording {recording!r}; manifests found: {sorted(paths)}")
    return paths[recording]


def enabled_by_default(manifest: dict) -> bool:
    """Whether ``recordings: all`` includes it (not for web-only or opted-out recordings)."""
    return bool(manifest.get("enabled_by_default", True)) and not manifest.get("requires_web")


TIMED_FORMATS = ("mne-epochs", "bids", "mne-dataset")
RESPONSE_FORMATS = ("nifti-betas", "surface-npz")


def has_responses(manifest: dict) -> bool:
    """Whether the recording keeps response patterns (voxels/vertices) for encoding models."""
    return manifest["format"] in RESPONSE_FORMATS


def is_time_resolved(manifest: dict) -> bool:
    """Whether the recording yields RDMs per time point (known from the manifest alone)."""
    return manifest["format"] in TIMED_FORMATS or any(
        "time_axis" in sel for sel in manifest["rois"].values()
    )


@functools.lru_cache(maxsize=1)
def _manifest_validator() -> jsonschema.protocols.Validator:
    """The manifest schema's validator, checked and built once per process."""
    schema = read_yaml(SCHEMA)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def load_manifest(path: Path) -> dict:
    """Read and schema-check a manifest; errors name the file and the offending key."""
    manifest = read_yaml(path)
    err = jsonschema.exceptions.best_match(_manifest_validator().iter_errors(manifest))
    if err is not None:
        where = "/".join(str(p) for p in err.absolute_path) or "(top level)"
        raise RecordingError(f"{path}: manifest key {where}: {err.message}") from None
    if path.name == "manifest.yaml" and manifest["id"] != path.parent.name:
        raise RecordingError(f"{path}: id {manifest['id']!r} differs from its directory name")
    names = [f["name"] for f in manifest.get("files", [])]
    if len(set(names)) != len(names):
        raise RecordingError(f"{path}: files lists a name twice: {names}")
    referenced = [sel["file"] for sel in manifest["rois"].values() if "file" in sel]
    referenced += [sel["mask"] for sel in manifest["rois"].values() if "mask" in sel]
    referenced += list(manifest.get("subject_files", []))
    for name in referenced:
        if name not in names:
            raise RecordingError(f"{path}: the manifest reads {name!r}, which is not under files")
    if manifest["format"] not in LOADERS:
        raise RecordingError(
            f"{path}: unknown format {manifest['format']!r}; known: {sorted(LOADERS)}"
        )
    return manifest


def stimulus_indices(man: dict, path: Path) -> tuple[np.ndarray, int]:
    """The recording's rows as 0-based stimulus-set indices, and the set's size."""
    try:
        n_set = int(load_spec("stimuli", man["stimuli"])["n_stimuli"])
    except DataError as err:
        raise RecordingError(f"{path}: key stimuli: {err}") from None
    order = man.get("stimulus_order", "all")
    stimuli = np.arange(n_set) if order == "all" else np.asarray(order) - 1
    out = [(k + 1, int(s) + 1) for k, s in enumerate(stimuli) if not 0 <= s < n_set]
    if out or len(np.unique(stimuli)) != len(stimuli):
        dup = sorted({int(s) + 1 for s in stimuli if (stimuli == s).sum() > 1})
        shown = ", ".join(f"{v} at position {k}" for k, v in out[:5])
        raise RecordingError(
            f"{path}: stimulus_order must list distinct indices 1..{n_set} of stimulus set "
            f"{man['stimuli']!r}"
            + (f" (repeated: {dup})" if dup else "")
            + (f" (out of range: {shown}{', ...' if len(out) > 5 else ''})" if out else "")
        )
    return stimuli, n_set


def _check_subjects(man: dict, path: Path, roi: str, n: int) -> None:
    if "subjects" in man and n != man["subjects"]:
        raise RecordingError(
            f"{path} (ROI {roi}): {n} subjects found, the manifest says {man['subjects']}"
        )


def load_recording(recording: str) -> Recording:
    """Fetch, read and validate a recording by id (or manifest path)."""
    path = manifest_path(recording)
    man = load_manifest(path)
    stimuli, _ = stimulus_indices(man, path)
    files = {f["name"]: fetch(FileSpec.from_dict(f, man["id"], str(path))) for f in man["files"]}
    loaded = LOADERS[man["format"]](Context(man, path, files, stimuli))
    rdms = {}
    for roi, arr in loaded.rdms.items():
        where = f"{loaded.sources.get(roi, path)} (recording {man['id']}, ROI {roi})"
        if loaded.times is not None:
            if arr.ndim != 4 or arr.shape[1] != len(loaded.times):
                raise RecordingError(
                    f"{where}: time-resolved RDMs must be (subjects, {len(loaded.times)} times, "
                    f"stimuli, stimuli), got {arr.shape}"
                )
            s, t = arr.shape[:2]
            names = [
                f"subject {a + 1} at {loaded.times[b]:.3f} s" for a in range(s) for b in range(t)
            ]
            validate_rdms(arr.reshape((s * t,) + arr.shape[2:]), len(stimuli), where, names)
        else:
            validate_rdms(arr, len(stimuli), where)
        _check_subjects(man, path, roi, arr.shape[0])
        rdms[roi] = arr
    meta = {k: v for k, v in man.items() if k not in ("rois", "files")}
    meta["time_resolved"] = loaded.times is not None
    if man.get("group_rdm") or all(a.shape[0] == 1 for a in rdms.values()):
        what = "one group-level RDM" if man.get("group_rdm") else "one subject"
        meta["noise_ceiling_note"] = (
            f"{what}: no between-subject noise ceiling exists; scores are shown "
            "without one (intervals from stimulus bootstrap)"
        )
    return Recording(
        man["id"],
        man["modality"],
        man["stimuli"],
        stimuli,
        rdms,
        man.get("citation", ""),
        meta,
        times=loaded.times,
        responses=loaded.responses,
    )
