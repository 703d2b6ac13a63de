"""Write the HTML report (figures embedded) and the figure PNGs for `snakemake --report`."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from analyses.scoring import BEST
from brain_data.stimuli import load_stimuli
from models import registry
from pipelines._io import atomic_path, run_main, setup_logging
from pipelines.encode import reliability_note
from pipelines.fetch import file_specs
from reports import figures, sections
from reports.html import Report, figure_png, img_tag, table
from reports.timecourse import timecourse_figures
from reports.trajectories import trajectory_section

QUESTION = (
    "Which biologically plausible learning rule produces representations most like the human "
    "brain's? Each rule trains the same architectures on the same images; every layer's "
    "representational dissimilarity matrix (RDM, 1 − Pearson r) on the recordings' stimuli "
    "is compared with the brain RDMs."
)
METHOD_NOTE = (
    "Scores: 'spearman', 'kendall' (tau-a), 'pearson' and 'whitened' (covariance-weighted "
    "correlation) are means over subjects of the comparator between model and brain RDMs "
    "(rsatoolbox definitions); 'r2_spearman' is the Algonauts 2019 score (mean squared Spearman "
    "r; score_nc divides it by the upper noise ceiling). Rankings use the best layer chosen by "
    "leave-one-subject-out cross-validation (for single-RDM recordings: on random stimulus "
    "halves), averaged over seeds. Intervals: 95 % bootstrap over subjects (single-RDM "
    "recordings: over stimuli); the rank interval bootstraps the ranks, redoing the layer choice "
    "in every resample. Pairwise tests: t statistics with the variance of the paired bootstrap "
    "difference, Benjamini-Hochberg corrected across every comparison; '=' after a rank and "
    "'tied_with' mark rules whose difference is not significant. p_perm_max: the largest, over "
    "seeds, stimulus-label permutation p-value of the best-layer score against zero. Seed "
    "stability: Kendall's W between the per-seed rankings (– with one seed)."
)
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


def _display(g: pd.DataFrame) -> pd.DataFrame:
    """Ranking rows for the report: '=' marks a rank tied with another rule, rank CI as text."""
    g = g.copy()
    tied = g["tied_with"].fillna("").astype(str) != ""
    g["rank"] = g["rank"].astype(str) + np.where(tied, "=", "")
    lo, hi = g.get("rank_ci_low"), g.get("rank_ci_high")
    g["rank 95% CI"] = [
        f"{a:.0f}–{b:.0f}" if pd.notna(a) and pd.notna(b) else "–"
        for a, b in zip(
            lo if lo is not None else [np.nan] * len(g),
            hi if hi is not None else [np.nan] * len(g),
            strict=True,
        )
    ]
    for col in ("p_perm_max", "rank_stability_w"):
        if col not in g:
            g[col] = np.nan
    return g


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


def _images(stimset: str) -> np.ndarray:
    return load_stimuli(stimset).images


def _datasets(brain: dict[str, dict]) -> set[str]:
    """Stimulus sets and training sets whose files the run used."""
    return {b["stimset"] for b in brain.values()} | {"mnist", "cifar10"}


def main() -> None:
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
    args = ap.parse_args()
    setup_logging(args.log)
    scores, ranking = pd.read_csv(args.scores), pd.read_csv(args.ranking)
    pairwise, accuracy = pd.read_csv(args.pairwise), pd.read_csv(args.accuracy)
    figs: dict[str, bytes] = {}
    rep = Report(args.title)
    rep.paragraph(QUESTION)

    rep.heading("Data")
    rows = []
    for path in args.brain:
        meta = json.loads(Path(path).with_suffix(".json").read_text())
        for roi, info in meta["rois"].items():
            nc = ranking[(ranking["recording"] == meta["id"]) & (ranking["roi"] == roi)]
            rows.append(
                {
                    "recording": meta["id"],
                    "modality": meta["modality"],
                    "ROI": roi,
                    "subjects": info["n_subjects"],
                    "stimuli": meta["n_stimuli"],
                    "ceiling R² (upper)": nc.loc[
                        nc["method"] == "r2_spearman", "noise_ceiling_high"
                    ].mean(),
                    "citation": meta.get("citation", ""),
                    "note": meta.get("noise_ceiling_note", ""),
                }
            )
    rep.raw(table(pd.DataFrame(rows)))

    rep.heading("Learning rules")
    cards = [
        {
            "rule": r,
            **{
                k: (", ".join(v) if isinstance(v, list) else v)
                for k, v in registry.get(r).card.as_dict().items()
                if k != "extra"
            },
        }
        for r in sorted(accuracy["rule"].unique())
    ]
    rep.raw(table(pd.DataFrame(cards)))
    rep.heading("Test accuracy")
    acc = (
        accuracy.groupby(["rule", "arch", "trainset"])["test_accuracy"]
        .mean()
        .unstack(["arch", "trainset"])
    )
    rep.raw(table(acc.reset_index()))

    rep.heading("Rankings")
    rep.paragraph(METHOD_NOTE, "note")
    cols = [
        "trainset",
        "arch",
        "rule",
        "rank",
        "rank 95% CI",
        "score",
        "ci_low",
        "ci_high",
        "score_nc",
        "noise_ceiling_low",
        "noise_ceiling_high",
        "best_layer",
        "p_perm_max",
        "rank_stability_w",
        "tied_with",
    ]
    ranked = (
        ranking[ranking["score"].notna()]
        if "match" in ranking
        else ranking.assign(match="examples")
    )
    for (match, rec, roi, method), g in ranked.groupby(
        ["match", "recording", "roi", "method"], sort=True
    ):
        rep.heading(f"{rec} · {roi} · {method} · matched {match}", 3)
        rep.raw(table(_display(g)[cols]))
        name = _slug("scores", match, rec, roi, method)
        figs[name] = figure_png(figures.score_bars(g, f"{rec} {roi} ({method})"))
        rep.raw(img_tag(figs[name], name))
        s = scores[
            (scores["recording"] == rec)
            & (scores["roi"] == roi)
            & (scores["method"] == method)
            & (scores.get("match", match) == match)
        ]
        name = _slug("layers", match, rec, roi, method)
        figs[name] = figure_png(
            figures.layer_profiles(s, f"Per-layer profile: {rec} {roi} ({method})")
        )
        rep.raw(img_tag(figs[name], name))
        pw = pairwise[
            (pairwise["recording"] == rec)
            & (pairwise["roi"] == roi)
            & (pairwise["method"] == method)
            & (pairwise.get("match", match) == match)
        ]
        if len(pw):
            name = _slug("significance", match, rec, roi, method)
            figs[name] = figure_png(
                figures.significance_matrix(g, pw, f"Pairwise differences: {rec} {roi} ({method})")
            )
            rep.raw(img_tag(figs[name], name))
    if args.trajectories:
        trajectory_section(rep, figs, pd.read_csv(args.trajectories), ranking)
    if len(pairwise):
        rep.heading("Pairwise tests")
        rep.raw(table(pairwise, "{:.4f}"))
    if args.timecourse:
        rep.heading("Time-resolved comparisons (M/EEG)")
        tc_figs = timecourse_figures(
            pd.read_csv(args.timecourse), pd.read_csv(args.peaks) if args.peaks else None
        )
        for name, png in tc_figs.items():
            figs[name] = png
            rep.raw(img_tag(png, name))
    if args.encoding:
        rep.heading("Encoding models")
        rep.paragraph(ENCODING_NOTE, "note")
        enc = pd.read_csv(args.encoding)
        if reliability_note(enc):
            rep.paragraph(reliability_note(enc), "note")
        rep.raw(table(encoding_summary(enc)))
    colors = figures.rule_colors(list(accuracy["rule"].unique()))
    curves = pd.read_csv(args.curves) if args.curves else pd.DataFrame()
    sections.training_section(rep, figs, curves, accuracy, ranking, colors)

    rep.heading("RDMs")
    brain_rdms = {}
    for path in args.brain:
        data = np.load(path)
        rec = Path(path).stem
        for roi in data["rois"]:
            brain_rdms[f"{rec} {roi}"] = data[f"rdm_{roi}"].mean(axis=0)
    figs["rdms_brain"] = figure_png(
        figures.rdm_grid(brain_rdms, "Brain RDMs (subject mean, percentile)")
    )
    rep.raw(img_tag(figs["rdms_brain"], "brain RDMs"))
    best = scores[
        (scores["layer"] == BEST)
        & (scores["method"] == "spearman")
        & (scores.get("match", "examples") == "examples")
    ]
    for (arch, trainset), g in best.groupby(["arch", "trainset"]):
        panel = {}
        for path in sorted(args.model_rdms):
            m = RUN_PATH.search(path)
            if not m or (m["arch"], m["trainset"], m["seed"]) != (
                arch,
                trainset,
                str(g["seed"].min()),
            ):
                continue
            data = np.load(path)
            layers = [str(x) for x in data["layers"]]
            chosen = g.loc[g["rule"] == m["rule"], "best_layer"]
            layer = chosen.mode().iloc[0] if len(chosen) else layers[-1]
            panel[f"{m['rule']} · {layer}"] = data["rdms"][layers.index(layer)]
        if panel:
            name = _slug("rdms", arch, trainset)
            figs[name] = figure_png(
                figures.rdm_grid(panel, f"Model RDMs, best layer ({arch}, {trainset})")
            )
            rep.raw(img_tag(figs[name], name))

    brain = {}
    for path in args.brain:
        meta = json.loads(Path(path).with_suffix(".json").read_text())
        with np.load(path) as data:
            brain[meta["id"]] = {
                "stimset": meta["stimuli"],
                "stimuli": data["stimuli"],
                "rdms": {str(r): data[f"rdm_{r}"] for r in data["rois"]},
            }
    sections.geometry_section(
        rep, figs, brain, _model_rdm_reader(args.model_rdms), ranking, _images
    )
    sections.provenance_section(
        rep, json.loads(args.config_json), set(brain) | _datasets(brain), file_specs(), REPO
    )

    out = Path(args.figures)
    out.mkdir(parents=True, exist_ok=True)
    for name, png in figs.items():
        with atomic_path(out / f"{name}.png") as tmp:
            tmp.write_bytes(png)
    with atomic_path(args.html) as tmp:
        tmp.write_text(rep.render())


if __name__ == "__main__":
    run_main(main)
