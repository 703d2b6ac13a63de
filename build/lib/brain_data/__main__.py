"""Command line: ``python -m brain_data validate|list|add-stimuli``.

``validate <manifest.yaml | recording id | stimulus-set file>`` checks the manifest against the
schema, fetches its files (data roots first, sha256 checked), loads the recording and its stimulus
set (every image decoded, counts and order checked) and prints what it found, or a precise error
(exit status 1). ``add-stimuli DIR --id ID`` writes ``brain_data/stimuli/ID.yaml`` from a folder of
images under a data root.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from brain_data import specs
from brain_data.add_stimuli import write_stimulus_set
from brain_data.errors import DataError
from brain_data.recordings import (
    enabled_by_default,
    load_manifest,
    load_recording,
    manifest_path,
    manifest_paths,
)
from brain_data.stimuli import load_stimuli


def _shown(items: list, n: int = 8) -> str:
    return ", ".join(map(str, items[:n])) + (", ..." if len(items) > n else "")


def describe_stimuli(stimset: str) -> list[str]:
    """Load a stimulus set (every image decoded) and summarise it."""
    s = load_stimuli(stimset)
    n, h, w, _ = s.images.shape
    groups = sorted({g for g in s.groups if g})
    return [
        f"stimuli     set {s.id!r}: {n} images decoded, {w}x{h} RGB",
        f"groups      {_shown(groups) if groups else 'none'}",
    ]


def describe(recording: str) -> str:
    """A human-readable summary of a loaded recording."""
    rec = load_recording(recording)
    man = load_manifest(manifest_path(recording))
    stimset = load_stimuli(rec.stimset)  # decodes every image, checks the count
    stim = [int(s) + 1 for s in rec.stimuli]
    if max(stim) > stimset.n_stimuli:
        raise DataError(
            f"{manifest_path(recording)}: stimulus_order refers to image {max(stim)}, the "
            f"stimulus set {rec.stimset!r} has {stimset.n_stimuli}"
        )
    first = [stimset.labels[i - 1] for i in stim]
    n, h, w, _ = stimset.images.shape
    lines = [
        f"recording   {rec.id} ({rec.modality}, format {man['format']})",
        f"stimuli     {len(stim)} of stimulus set {rec.stimset!r} ({n} images decoded, "
        f"{w}x{h} RGB), in recording order: {_shown(stim, 12)}",
        f"            first rows: {_shown(first, 6)}",
        f"rois        {', '.join(rec.rois)}",
    ]
    for roi in rec.rois:
        shape = rec.rdms[roi].shape
        extra = f"; responses {rec.responses[roi].shape}" if roi in rec.responses else ""
        lines.append(f"  {roi:<10} {shape[0]} subject(s), RDMs {shape}{extra}")
    if rec.times is not None:
        t = rec.times
        lines.append(f"times       {len(t)} points, {t[0]:.3f} .. {t[-1]:.3f} s")
    else:
        lines.append("times       none (static RDMs)")
    if "noise_ceiling_note" in rec.meta:
        lines.append(f"note        {rec.meta['noise_ceiling_note']}")
    lines.append(f"in `recordings: all`: {'yes' if enabled_by_default(man) else 'no'}")
    lines.append(f"citation    {rec.citation}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m brain_data", description=__doc__)
    sub = ap.add_subparsers(dest="command", required=True)
    v = sub.add_parser("validate", help="load a recording and print what it holds")
    v.add_argument(
        "manifest",
        help="path to a manifest.yaml, a recording id, or a stimulus-set file brain_data/stimuli/<id>.yaml",
    )
    sub.add_parser("list", help="list the manifests in brain_data/")
    a = sub.add_parser(
        "add-stimuli", help="write brain_data/stimuli/<id>.yaml from a folder of images"
    )
    a.add_argument("folder", help="folder of images (png, jpg, tif, ...) under a data root")
    a.add_argument("--id", required=True, help="stimulus-set id (the file name)")
    a.add_argument("--order", help="text file: the images' file names in stimulus order")
    a.add_argument("--groups", help="text file: '<file name>,<group>' per line")
    a.add_argument("--force", action="store_true", help="overwrite an existing stimulus set")
    args = ap.parse_args(argv)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if args.command == "list":
                for rid, path in manifest_paths().items():
                    flag = "" if enabled_by_default(load_manifest(path)) else "  (not in 'all')"
                    print(f"{rid}{flag}")
            elif args.command == "add-stimuli":
                out, spec, warns = write_stimulus_set(
                    Path(args.folder),
                    args.id,
                    order=args.order,
                    groups=args.groups,
                    force=args.force,
                )
                for w in warns:
                    print(f"warning: {w}", file=sys.stderr)
                size = spec["resize"]["size"]
                print(
                    f"wrote {out}: {spec['n_stimuli']} images ({spec['source']['order']}), "
                    f"brought to {size}x{size} px ({spec['resize']['method']}); use "
                    f"`stimuli: {args.id}` in your recording's manifest"
                )
            elif _is_stimulus_file(args.manifest):
                print("\n".join(describe_stimuli(Path(args.manifest).stem)))
                print("OK")
            else:
                print(describe(args.manifest))
                print("OK")
        for w in caught:
            print(f"warning: {w.message}", file=sys.stderr)
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


def _is_stimulus_file(arg: str) -> bool:
    path = Path(arg)
    return path.suffix in (".yaml", ".yml") and path.resolve().parent == (specs.ROOT / "stimuli")


if __name__ == "__main__":
    sys.exit(main())
