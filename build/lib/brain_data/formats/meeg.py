"""M/EEG epochs -> time-resolved RDMs (n_subjects, n_times, n_stim, n_stim), via MNE.

mne-epochs: ``subject_files`` lists one ``-epo.fif`` per subject. bids: a BIDS EEG/MEG dataset
(an archive under ``files``, unpacked into the cache) read with mne-bids. mne-dataset: an MNE
fetcher dataset (e.g. ``visual_92_categories``; needs web access).

Manifest keys: ``event_codes`` (the event code of each recording row, in ``stimulus_order``
order; default 1..n), ``pattern_distance`` (``analyses.patterns.METHODS``; default correlation),
``n_folds``, ``n_repeats``, ``seed``; ``epochs: {tmin, tmax, baseline, decim}`` (raw-based
formats: the epoching window; epochs files: an optional crop/decimation). ROI selectors pick
sensors: ``picks`` (``eeg``, ``meg``, ``mag``, ``grad`` or a list of channel names).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from analyses.patterns import time_resolved_rdms
from brain_data.archives import safe_unpack
from brain_data.errors import RecordingError
from brain_data.formats import Context, Loaded


def event_codes(ctx: Context) -> np.ndarray:
    """The event code of each recording row; duplicates are refused."""
    codes = np.asarray(ctx.manifest.get("event_codes", np.arange(1, ctx.n_stimuli + 1)))
    if len(codes) != ctx.n_stimuli:
        raise RecordingError(
            f"{ctx.path}: event_codes lists {len(codes)} codes, stimulus_order {ctx.n_stimuli}"
        )
    vals, counts = np.unique(codes, return_counts=True)
    if (counts > 1).any():
        raise RecordingError(f"{ctx.path}: duplicated event codes {vals[counts > 1].tolist()}")
    return codes


def _labels(events: np.ndarray, codes: np.ndarray, where: str, strict: bool) -> np.ndarray:
    """Row index of each epoch from its event code; missing stimuli (or unknown codes) refused."""
    present = events[:, 2]
    missing = sorted(set(codes.tolist()) - set(present.tolist()))
    if missing:
        raise RecordingError(
            f"{where}: no epochs for event codes {missing[:20]}"
            + (f" (+{len(missing) - 20} more)" if len(missing) > 20 else "")
        )
    unknown = sorted(set(present.tolist()) - set(codes.tolist()))
    if unknown and strict:
        raise RecordingError(
            f"{where}: event codes {unknown[:20]} are not in the manifest's event_codes"
        )
    lookup = {int(c): i for i, c in enumerate(codes)}
    return np.array([lookup.get(int(c), -1) for c in present])


def _epochs_rdms(epochs, ctx: Context, where: str, strict: bool) -> tuple[dict, np.ndarray]:
    """Per-ROI RDMs (n_times, n, n) of one subject's epochs, and the time points."""
    codes = event_codes(ctx)
    if len(set(epochs.event_id.values())) != len(epochs.event_id):
        raise RecordingError(f"{where}: event_id maps several names to one code: {epochs.event_id}")
    labels = _labels(epochs.events, codes, where, strict)
    opts = ctx.manifest.get("epochs", {})
    if ctx.manifest["format"] == "mne-epochs" and ("tmin" in opts or "tmax" in opts):
        epochs = epochs.copy().crop(opts.get("tmin"), opts.get("tmax"))
    if ctx.manifest["format"] == "mne-epochs" and opts.get("decim", 1) > 1:
        epochs = epochs.copy().decimate(opts["decim"])
    keep = labels >= 0
    out = {}
    for roi, sel in ctx.manifest["rois"].items():
        picks = ctx.require(sel, "picks", f"ROI {roi}")
        try:
            sub = epochs.copy().pick(picks, exclude="bads")
        except (ValueError, KeyError) as err:
            raise RecordingError(f"{where}: ROI {roi}: cannot pick {picks!r}: {err}") from err
        data = sub.get_data(copy=False)[keep]  # (n_epochs, n_channels, n_times)
        bad = ~np.isfinite(data).all(axis=(0, 2))
        if bad.any():
            names = [sub.ch_names[i] for i in np.flatnonzero(bad)]
            raise RecordingError(
                f"{where}: ROI {roi}: non-finite (NaN/inf) data in channels {names}; "
                "mark them bad (info['bads']) or interpolate them"
            )
        try:
            out[roi] = time_resolved_rdms(
                data,
                labels[keep],
                ctx.n_stimuli,
                method=ctx.manifest.get("pattern_distance", "correlation"),
                n_folds=int(ctx.manifest.get("n_folds", 2)),
                n_repeats=int(ctx.manifest.get("n_repeats", 5)),
                seed=int(ctx.manifest.get("seed", 0)),
            )
        except ValueError as err:
            raise RecordingError(f"{where}: ROI {roi}: {err}") from err
    return out, epochs.times.copy()


def _stack(per_subject: list[tuple[dict, np.ndarray, Path]], ctx: Context) -> Loaded:
    times = per_subject[0][1]
    for _, t, path in per_subject[1:]:
        if len(t) != len(times) or not np.allclose(t, times):
            raise RecordingError(
                f"{path}: {len(t)} time points ({t[0]:.3f}..{t[-1]:.3f} s) differ from the first "
                f"subject's {len(times)} ({times[0]:.3f}..{times[-1]:.3f} s)"
            )
    rois = ctx.manifest["rois"]
    rdms = {roi: np.stack([r[roi] for r, _, _ in per_subject]) for roi in rois}
    return Loaded(rdms, times=times, sources={roi: ctx.path for roi in rois})


def load_mne_epochs(ctx: Context) -> Loaded:
    """mne-epochs: one epochs .fif per subject, an event code per stimulus."""
    import mne

    per_subject = []
    for path in ctx.subject_files():
        try:
            epochs = mne.read_epochs(path, preload=True, verbose="error")
        except Exception as err:
            raise RecordingError(f"{path}: not a readable MNE epochs file: {err}") from err
        rdms, times = _epochs_rdms(epochs, ctx, str(path), strict=True)
        per_subject.append((rdms, times, path))
    return _stack(per_subject, ctx)


def _epoch_raw(raw, events: np.ndarray, ctx: Context, where: str):
    import mne

    opts = ctx.manifest.get("epochs", {})
    codes = event_codes(ctx)
    events = events[np.isin(events[:, 2], codes)]
    baseline = opts.get("baseline")
    return mne.Epochs(
        raw,
        events,
        event_id={f"stim{int(c)}": int(c) for c in np.unique(events[:, 2])},
        tmin=float(opts.get("tmin", -0.1)),
        tmax=float(opts.get("tmax", 0.5)),
        baseline=tuple(baseline) if baseline else None,
        decim=int(opts.get("decim", 1)),
        preload=True,
        verbose="error",
    )


def unpack(archive: Path) -> Path:
    """Unpack an archive (zip/tar) next to itself, once, atomically; return the folder."""
    dest = archive.with_name(archive.name + ".unpacked")
    if not dest.is_dir():
        tmp = archive.with_name(f".tmp-{archive.name}.unpacked")
        shutil.rmtree(tmp, ignore_errors=True)
        safe_unpack(archive, tmp)  # refuses '..', absolute paths, links, devices
        tmp.rename(dest)
    return dest


def _inside(base: Path, rel: str, where: str) -> Path:
    path = (base / rel).resolve()
    if not path.is_relative_to(base.resolve()):
        raise RecordingError(f"{where}: path {rel!r} lies outside the data folder {base}")
    return path


def load_bids(ctx: Context) -> Loaded:
    """bids: ``bids: {archive, root, datatype, task, subjects, session?, run?}``."""
    import pandas as pd
    from mne_bids import BIDSPath, read_raw_bids

    spec = ctx.require(ctx.manifest, "bids", "the manifest")
    archive = ctx.file(ctx.require(spec, "archive", "bids"))
    root = _inside(unpack(archive), spec.get("root", "."), str(ctx.path))
    per_subject = []
    for subject in ctx.require(spec, "subjects", "bids"):
        bp = BIDSPath(
            root=root,
            subject=str(subject),
            session=spec.get("session"),
            task=ctx.require(spec, "task", "bids"),
            run=spec.get("run"),
            datatype=ctx.require(spec, "datatype", "bids"),
            suffix=spec["datatype"],
        )
        where = f"{archive} (BIDS subject {subject})"
        try:
            raw = read_raw_bids(bp, verbose="error")
            tsv = pd.read_csv(bp.copy().update(suffix="events", extension=".tsv").fpath, sep="\t")
        except Exception as err:
            raise RecordingError(f"{where}: cannot be read with mne-bids: {err}") from err
        onsets = raw.time_as_index(tsv["onset"].to_numpy(), use_rounding=True) + raw.first_samp
        events = np.column_stack([onsets, np.zeros(len(tsv), int), tsv["value"].to_numpy(int)])
        epochs = _epoch_raw(raw, events, ctx, where)
        rdms, times = _epochs_rdms(epochs, ctx, where, strict=False)
        per_subject.append((rdms, times, archive))
    return _stack(per_subject, ctx)


def load_mne_dataset(ctx: Context) -> Loaded:
    """mne-dataset: ``dataset`` (an ``mne.datasets`` module) and its ``raw_files`` of one subject."""
    import mne

    name = ctx.require(ctx.manifest, "dataset", "the manifest")
    module = getattr(mne.datasets, name, None)
    if module is None:
        raise RecordingError(f"{ctx.path}: mne.datasets has no dataset {name!r}")
    try:
        base = Path(module.data_path(download=True, verbose="error"))
    except Exception as err:
        raise RecordingError(f"{ctx.path}: MNE fetcher {name} failed (needs web): {err}") from err
    raws = []
    for rel in ctx.require(ctx.manifest, "raw_files", "the manifest"):
        path = _inside(base, rel, str(ctx.path))
        raws.append(mne.io.read_raw_fif(path, verbose="error", on_split_missing="ignore"))
    raw = mne.concatenate_raws(raws)
    events = mne.find_events(raw, min_duration=0.002, verbose="error")
    epochs = _epoch_raw(raw, events, ctx, str(base))
    rdms, times = _epochs_rdms(epochs, ctx, str(base), strict=False)
    return _stack([(rdms, times, base)], ctx)
