"""Write the HTML report (figures embedded) and the figure PNGs for `snakemake --report`."""

from __future__ import annotations

import argparse
import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analyses.scoring import BEST
from brain_data.stimuli import StimulusSet, load_stimuli
from models import registry
from pipelines._io import atomic_path, run_main, setup_logging
from pipelines.fetch import file_specs
from reports import figures, sections
from reports.html import Figures, Report, table
from reports.rankings import rankings_section
from reports.summary import summary_figure
from reports.timecourse import timecourse_figures
from reports.trajectories import movement_section, trajectory_section
from reports.verdict import assess_all, normalise_ranking, verdict_html

QUESTION = (
    "Which biologically plausible learning rules produce representations more like the human "
    "brain's than an untrained network and simple control models do?"
)
SETUP = (
    "Each rule trains the same architectures on the same images; every layer's representational "
    "dissimilarity matrix (RDM, 1 − Pearson r) on the recordings' stimuli is compared with the "
    "brain RDMs. Rules are compared at matched examples seen and, where the ranking has it, at "
    "matched task accuracy."
)
CONTROL_NOTES = {
    "random": "the untrained network: same architecture, random initialisation, no learning",
    "pixels": "raw pixel values of the images",
    "luminance": "mean luminance of the images",
    "colour": "colour statistics of the images",
    "gabor": "a Gabor-energy (V1-like) model of the images",
    "category": "the stimulus categories (same / different group)",
}
ENCODING_NOTE = (
    "Cross-validated ridge (penalty per channel, PCA-reduced features) from each layer to every "
    "voxel/vertex; r_mean is the channel-mean correlation of held-out predictions, averaged over "
    "subjects and seeds, at the layer where it is highest (per rule; layer chosen on the same "
    "data, so read it descriptively). No repetitions, hence no noise ceiling."
)
REPO = Path(__file__).resolve().parent.parent
RUN_PATH = re.compile(
    r"rdms/(?P<rule>[^/]+)/(?P<arch>[^/]+)/(?P<trainset>[^/]+)/seed(?P<seed>\d+)/"
)


def _slug(*parts: str) -> str:
    return "_".join(re.sub(r"[^A-Za-z0-9.-]+", "-", p) for p in parts)


def encoding_summary(enc: pd.DataFrame) -> pd.DataFrame:
    """Per (recording, ROI, arch, trainset, rule): the layer with the highest mean held-out r."""
    keys = ["recording", "roi", "arch", "trainset", "rule"]
    per_layer = enc.groupby([*keys, "layer"], as_index=False)[["r_mean", "ev_mean"]].mean()
    best = per_layer.loc[per_layer.groupby(keys)["r_mean"].idxmax()]
    return best.sort_values(
        ["recording", "roi", "arch", "trainset", "r_mean"], ascending=[True] * 4 + [False]
    )


def _model_rdm_reader(paths: list[str]):
    """``(rule, arch, trainset, stimset) -> {layer: RDM}`` over the lowest seed's RDM files."""
    by_run: dict[tuple, tuple[int, str]] = {}
    for path in paths:
        m = RUN_PATH.search(path)
        if m:
            key = (m["rule"], m["arch"], m["trainset"], Path(path).stem)
            if key not in by_run or int(m["seed"]) < by_run[key][0]:
                by_run[key] = (int(m["seed"]), path)

    def read(rule: str, arch: str, trainset: str, stimset: str) -> dict[str, np.ndarray]:
        if (rule, arch, trainset, stimset) not in by_run:
            return {}
        with np.load(by_run[(rule, arch, trainset, stimset)][1]) as data:
            return {str(name): rdm for name, rdm in zip(data["layers"], data["rdms"], strict=True)}

    return read


def _datasets(brain: dict[str, dict]) -> set[str]:
    """Stimulus sets and training sets whose files the run used."""
    return {b["stimset"] for b in brain.values()} | {"mnist", "cifar10"}


@dataclass
class Inputs:
    """Everything the report reads (tables as DataFrames; brain RDMs by recording)."""

    title: str
    scores: pd.DataFrame
    ranking: pd.DataFrame
    pairwise: pd.DataFrame
    accuracy: pd.DataFrame
    brain: dict[str, dict]
    model_rdms: list[str]
    curves: pd.DataFrame = field(default_factory=pd.DataFrame)
    config: dict = field(default_factory=dict)
    timecourse: pd.DataFrame | None = None
    peaks: pd.DataFrame | None = None
    encoding: pd.DataFrame | None = None
    trajectories: pd.DataFrame | None = None
    movement: pd.DataFrame | None = None


def read_brain(paths: list[str]) -> dict[str, dict]:
    """``results/brain/<id>.npz`` (+ .json) -> id -> {meta, stimset, stimuli, rdms}."""
    brain = {}
    for path in paths:
        meta = json.loads(Path(path).with_suffix(".json").read_text())
        with np.load(path) as data:
            brain[meta["id"]] = {
                "meta": meta,
                "stimset": meta["stimuli"],
                "stimuli": data["stimuli"],
                "rdms": {str(r): data[f"rdm_{r}"] for r in data["rois"]},
            }
    return brain


def _with_match(frame: pd.DataFrame) -> pd.DataFrame:
    return frame if "match" in frame or not len(frame.columns) else frame.assign(match="examples")


def _answer(rep: Report, figs: Figures, ranking: pd.DataFrame, alpha: float) -> str:
    """The first screen: the question, the verdict and the summary figure; returns the method."""
    verdict, method = verdict_html(ranking, alpha)
    cells = assess_all(ranking, method, alpha)
    rep.raw(f'<p class="question"><b>Question.</b> {QUESTION}</p>')
    rep.raw(
        '<section class="answer"><div class="verdict-box" id="verdict"><h2>Answer</h2>'
        f"{verdict}</div><div>"
        + figs.tag(
            "summary",
            summary_figure(ranking, cells, method),
            alt="summary: rule x recording/ROI",
            element_id="summary-figure",
        )  # fmt: skip
        + "</div></section>"
    )
    rep.paragraph(
        f"{SETUP} Summary figure: best-layer {method} score divided by the recording's upper "
        "noise ceiling, mean over networks (architecture/training set); † no noise ceiling (one "
        "group RDM): raw score. A number counts the networks in which the rule is significantly "
        "above the untrained network and the best control; grey: not reached or not run. Details "
        "below (click to open).",
        "note",
    )
    return method


def _data_section(rep: Report, inp: Inputs, ranking: pd.DataFrame) -> None:
    rep.open_details("Data")
    rows = []
    for rid, info in inp.brain.items():
        meta = info["meta"]
        for roi, roi_info in meta["rois"].items():
            nc = ranking[(ranking["recording"] == rid) & (ranking["roi"] == roi)]
            rows.append(
                {
                    "recording": rid,
                    "modality": meta["modality"],
                    "ROI": roi,
                    "subjects": roi_info["n_subjects"],
                    "stimuli": meta["n_stimuli"],
                    "stimulus set": info["stimset"],
                    **{
                        f"ceiling upper ({m})": nc.loc[
                            nc["method"] == m, "noise_ceiling_high"
                        ].mean()
                        for m in sorted(ranking["method"].unique())
                    },
                    "citation": meta.get("citation", ""),
                    "note": meta.get("noise_ceiling_note", ""),
                }
            )
    rep.raw(table(pd.DataFrame(rows)))
    rep.close_details()


def _rules_section(rep: Report, inp: Inputs, ranking: pd.DataFrame) -> None:
    rep.open_details("Learning rules and controls")
    cards = []
    for r in sorted(
        set(inp.accuracy["rule"]) | set(ranking.loc[ranking["kind"] == "rule", "rule"])
    ):
        try:
            card = registry.get(r).card.as_dict()
        except KeyError:
            continue
        cards.append(
            {
                "rule": r,
                **{
                    k: (", ".join(v) if isinstance(v, list) else v)
                    for k, v in card.items()
                    if k != "extra"
                },
            }  # fmt: skip
        )
    rep.raw(table(pd.DataFrame(cards)))
    controls = sorted(set(ranking.loc[ranking["kind"] == "control", "rule"]))
    if controls:
        rep.heading("Controls", 3)
        rep.raw(table(pd.DataFrame(
            [{"control": c, "what": CONTROL_NOTES.get(c, "control model")} for c in controls]
        )))  # fmt: skip
    rep.close_details()


def _training(rep: Report, figs: Figures, inp: Inputs, ranking: pd.DataFrame) -> None:
    """Accuracy table, per-epoch curves, accuracy vs brain score, brain score along training
    (vs examples seen and vs test accuracy), seed spread and rank agreement across seeds."""
    rep.open_details("Training")
    acc = (
        inp.accuracy.groupby(["rule", "arch", "trainset"])["test_accuracy"]
        .mean()
        .unstack(["arch", "trainset"])
    )
    rep.heading("Test accuracy", 3)
    rep.raw(table(acc.reset_index()))
    colors = figures.rule_colors(list(inp.accuracy["rule"].unique()))
    examples = ranking[ranking["match"] == "examples"].drop(columns="match")
    sections.training_section(rep, figs, inp.curves, inp.accuracy, examples, colors)
    if inp.trajectories is not None:
        trajectory_section(rep, figs, inp.trajectories, ranking)
    if inp.movement is not None:
        movement_section(rep, inp.movement)
    rep.close_details()


MODEL_RDM_PANELS = 12


def _top_rules(best: pd.DataFrame, n: int) -> list[str]:
    """The untrained net and the ``n - 1`` rules with the highest mean best-layer score."""
    mean = best.groupby("rule")["score"].mean().sort_values(ascending=False)
    top = [r for r in mean.index if r != "random"][: n - 1]
    return top + (["random"] if "random" in mean.index else [])


def _rule_order(path: str, shown: list[str]) -> int:
    m = RUN_PATH.search(path)
    return shown.index(m["rule"]) if m and m["rule"] in shown else len(shown)


def _rdms(rep, figs, inp: Inputs, stimuli: Callable[[str], StimulusSet]) -> None:
    rep.open_details("RDMs")
    rep.paragraph(
        "Percentile-ranked RDMs; the coloured bars along the edges mark the stimulus groups. "
        f"Model RDMs: the untrained network and the {MODEL_RDM_PANELS - 1} rules with the "
        "highest mean best-layer Spearman score per network, at their best layer (every "
        "rule's RDMs are in results/rdms/).",
        "note",
    )
    brain_rdms, groups = {}, {}
    for rid, info in inp.brain.items():
        g = list(np.asarray(stimuli(info["stimset"]).groups, dtype=object)[info["stimuli"]])
        for roi, rdms in info["rdms"].items():
            key = f"{rid} {roi}"
            mean = rdms.mean(axis=0)
            brain_rdms[key] = mean if mean.ndim == 2 else mean.mean(axis=0)  # time: average
            groups[key] = g
    if brain_rdms:
        fig = figures.rdm_grid(brain_rdms, "Brain RDMs (subject mean, percentile)", groups=groups)
        rep.raw(figs.tag("rdms_brain", fig, dpi=90, alt="brain RDMs"))
    best = inp.scores[(inp.scores["layer"] == BEST) & (inp.scores["method"] == "spearman")]
    for (arch, trainset), g in best.groupby(["arch", "trainset"]):
        shown = _top_rules(g, MODEL_RDM_PANELS)
        panel, panel_groups = {}, {}
        for path in sorted(inp.model_rdms, key=lambda p: _rule_order(p, shown)):
            m = RUN_PATH.search(path)
            if (
                not m
                or m["rule"] not in shown
                or (m["arch"], m["trainset"], m["seed"])
                != (
                    arch,
                    trainset,
                    str(g["seed"].min()),
                )
            ):
                continue
            with np.load(path) as data:
                layers = [str(x) for x in data["layers"]]
                chosen = g.loc[g["rule"] == m["rule"], "best_layer"]
                layer = chosen.mode().iloc[0] if len(chosen) else layers[-1]
                key = f"{m['rule']} · {layer}"
                panel[key] = data["rdms"][layers.index(layer)]
            panel_groups[key] = list(stimuli(Path(path).stem).groups)
        if panel:
            name = _slug("rdms", arch, trainset)
            fig = figures.rdm_grid(
                panel, f"Model RDMs, best layer ({arch}, {trainset})", groups=panel_groups
            )
            rep.raw(figs.tag(name, fig, dpi=90))
    rep.close_details()


def build_report(
    inp: Inputs, stimuli: Callable[[str], StimulusSet] = load_stimuli, workers: int = 1
) -> tuple[str, dict[str, bytes]]:
    """(HTML page, figure PNGs by name): the answer first, then collapsible details. ``workers``
    processes render the figures while the page is being built (1: render each in place)."""
    with Figures(workers) as figs:
        page = _page(inp, figs, functools.lru_cache(maxsize=None)(stimuli))
        return figs.finish(page)


def _page(inp: Inputs, figs: Figures, stimuli: Callable[[str], StimulusSet]) -> str:
    ranking = normalise_ranking(inp.ranking)
    pairwise = _with_match(inp.pairwise)
    alpha = float((inp.config.get("rsa") or {}).get("alpha", 0.05))
    rep = Report(inp.title)
    main = _answer(rep, figs, ranking, alpha)
    rankings_section(rep, figs, inp.scores, ranking, pairwise, main)
    _data_section(rep, inp, ranking)
    _rules_section(rep, inp, ranking)
    _training(rep, figs, inp, ranking)
    if inp.timecourse is not None:
        rep.open_details("Time-resolved comparisons (M/EEG)")
        for name, png in timecourse_figures(inp.timecourse, inp.peaks).items():
            rep.raw(figs.png_tag(name, png))
        rep.close_details()
    if inp.encoding is not None:
        rep.open_details("Encoding models")
        rep.paragraph(ENCODING_NOTE, "note")
        rep.raw(table(encoding_summary(inp.encoding)))
        rep.close_details()
    _rdms(rep, figs, inp, stimuli)
    rep.open_details("Representational geometry")
    examples = ranking[(ranking["match"] == "examples") & (ranking["kind"] == "rule")]
    sections.geometry_section(
        rep, figs, inp.brain, _model_rdm_reader(inp.model_rdms), examples,
        lambda s: stimuli(s).images,
    )  # fmt: skip
    rep.close_details()
    rep.open_details("Provenance")
    sections.provenance_section(
        rep, inp.config, set(inp.brain) | _datasets(inp.brain), file_specs(), REPO
    )
    rep.close_details()
    return rep.render()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    for name in ("scores", "ranking", "pairwise", "accuracy", "title", "html", "figures", "log"):
        ap.add_argument(f"--{name.replace('_', '-')}")
    ap.add_argument("--brain", nargs="+", required=True)
    ap.add_argument("--model-rdms", nargs="+", required=True)
    ap.add_argument("--curves", help="per-epoch training curves (results/curves.csv)")
    ap.add_argument("--config-json", default="{}", help="the run's configuration (provenance)")
    ap.add_argument("--timecourse", help="time-resolved scores (results/timecourse.csv)")
    ap.add_argument("--peaks", help="time-resolved peak latencies (results/timecourse_peaks.csv)")
    ap.add_argument("--encoding", help="encoding-model scores (results/encoding.csv)")
    ap.add_argument("--trajectories", help="brain scores along training (results/trajectories.csv)")
    ap.add_argument("--movement", help="layer movement (results/layer_movement.csv)")
    ap.add_argument("--workers", type=int, default=1, help="processes that render the figures")
    args = ap.parse_args(argv)
    setup_logging(args.log)
    inp = Inputs(
        title=args.title,
        scores=pd.read_csv(args.scores),
        ranking=pd.read_csv(args.ranking),
        pairwise=pd.read_csv(args.pairwise),
        accuracy=pd.read_csv(args.accuracy),
        brain=read_brain(args.brain),
        model_rdms=list(args.model_rdms),
        curves=pd.read_csv(args.curves) if args.curves else pd.DataFrame(),
        config=json.loads(args.config_json),
        timecourse=pd.read_csv(args.timecourse) if args.timecourse else None,
        peaks=pd.read_csv(args.peaks) if args.peaks else None,
        encoding=pd.read_csv(args.encoding) if args.encoding else None,
        trajectories=pd.read_csv(args.trajectories) if args.trajectories else None,
        movement=pd.read_csv(args.movement) if args.movement else None,
    )
    page, figs = build_report(inp, workers=args.workers)
    out = Path(args.figures)
    out.mkdir(parents=True, exist_ok=True)
    for name, png in figs.items():
        with atomic_path(out / f"{name}.png") as tmp:
            tmp.write_bytes(png)
    with atomic_path(args.html) as tmp:
        tmp.write_text(page)


if __name__ == "__main__":
    run_main(main)
