"""Fetch every public data file the project knows (mirror first) into the cache, and list them.

Snakemake's steps fetch what they need on demand; this step exists for DVC, which versions the
raw-data cache (``data/raw``) as the output of its ``data`` stage, and for users who want every
file before going offline. The inventory names each file, its source URL (none for a file
found only under a data root) and its sha256.
"""

from __future__ import annotations

import argparse
import logging

from brain_data.fetch import FileSpec, fetch
from brain_data.recordings import load_manifest, manifest_paths
from brain_data.specs import ROOT, load_spec
from pipelines._io import run_main, setup_logging, write_json

log = logging.getLogger("bioalign.fetch")


def file_specs() -> list[tuple[str, FileSpec]]:
    """(dataset id, file) for every training set, stimulus set and recording in ``brain_data/``."""
    specs = []
    for kind in ("trainsets", "stimuli"):
        for path in sorted((ROOT / kind).glob("*.yaml")):
            spec = load_spec(kind, path.stem)
            entries = list((spec.get("files") or {}).values()) + list(spec.get("images") or [])
            specs += [
                (spec["id"], FileSpec.from_dict(e, spec["id"], spec["_path"])) for e in entries
            ]
    for rec_id, path in manifest_paths().items():
        man = load_manifest(path)
        specs += [
            (rec_id, FileSpec.from_dict(e, rec_id, str(path)))
            for e in man.get("files") or []
            if "sha256" in e
        ]
    return specs


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--inventory", required=True, help="JSON list of the fetched files")
    ap.add_argument("--log")
    args = ap.parse_args(argv)
    setup_logging(args.log)
    inventory = []
    for dataset, spec in file_specs():
        path = fetch(spec)
        log.info("%s/%s: %s", dataset, spec.name, path)
        inventory.append(
            {
                "dataset": dataset,
                "name": spec.name,
                "url": spec.url,
                "sha256": spec.sha256,
                "path": str(path),
            }
        )
    write_json(args.inventory, inventory)


if __name__ == "__main__":
    run_main(main)
