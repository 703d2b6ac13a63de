"""Command line: ``python -m brain_data validate <manifest.yaml | id>`` and ``python -m brain_data list``.

``validate`` checks the manifest against the schema, fetches its files (mirror first, sha256
checked), loads the recording and prints what it found, or a precise error (exit status 1).
"""

from __future__ import annotations

import argparse
import sys

from brain_data.errors import DataError
from brain_data.recordings import (
    enabled_by_default,
    load_manifest,
    load_recording,
    manifest_path,
    manifest_paths,
)


def describe(recording: str) -> str:
    """A human-readable summary of a loaded recording."""
    rec = load_recording(recording)
    man = load_manifest(manifest_path(recording))
    stim = [int(s) + 1 for s in rec.stimuli]
    shown = ", ".join(map(str, stim[:12])) + (", ..." if len(stim) > 12 else "")
    lines = [
        f"recording   {rec.id} ({rec.modality}, format {man['format']})",
        f"stimuli     {len(stim)} of stimulus set {rec.stimset!r}, in recording order: {shown}",
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
    v.add_argument("manifest", help="path to a manifest.yaml, or a recording id")
    sub.add_parser("list", help="list the manifests in brain_data/")
    args = ap.parse_args(argv)
    try:
        if args.command == "list":
            for rid, path in manifest_paths().items():
                flag = "" if enabled_by_default(load_manifest(path)) else "  (not in 'all')"
                print(f"{rid}{flag}")
        else:
            print(describe(args.manifest))
            print("OK")
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
