"""Write the HTML report (figures embedded) and the figure PNGs for `snakemake --report`."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from analyses.scoring import BEST
from models import registry
from pipelines._io import atomic_path, run_main, setup_logging
from reports import figures
from reports.html import Report, figure_png, img_tag, table

QUESTION = (
    "Which biologically plausible learning rule produces representations most like the human "
    "brain's? Each rule trains the same architectures on the same images; every layer's "
    "representational dissimilarity matrix (RDM, 1 − Pearson r) on the recordings' stimuli "
    "is compared with the brain RDMs."
)
METHOD_NOTE = (
    "Scores: 'spearman' is the mean over subjects of Spearman's r between model and brain "
    "RDMs; 'r2_spearman' is the Algonauts 2019 score (mean squared Spearman r; score_nc divides "
    "it by the upper noise ceiling). Rankings use the best layer chosen by leave-one-subject-out "
    "cross-validation (for single-RDM recordings: on random stimulus halves), averaged over "
    "seeds. Intervals: 95 % bootstrap over subjects (single-RDM recordings: over stimuli). "
    "Ties: rules whose paired-bootstrap difference is not significant after FDR correction."
)
RUN_PATH = re.compile(
    r"rdms/(?P<rule>[^/]+)/(?P<arch>[^/]+)/(?P<trainset>[^/]+)/seed(?P<seed>\d+)/"
)


def _slug(*parts: str) -> str:
    return "_".join(re.sub(r"[^A-Za-z0-9.-]+", "-", p) for p in parts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    for name in ("scores", "ranking", "pairwise", "accuracy", "title", "html", "figures", "log"):
        ap.add_argument(f"--{name.replace('_', '-')}")
    ap.add_argument("--brain", nargs="+", required=True)
    ap.add_argument("--model-rdms", nargs="+", required=True)
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
        "score",
        "ci_low",
        "ci_high",
        "score_nc",
        "noise_ceiling_low",
        "noise_ceiling_high",
        "best_layer",
        "tied_with",
    ]
    for (rec, roi, method), g in ranking.groupby(["recording", "roi", "method"], sort=True):
        rep.heading(f"{rec} · {roi} · {method}", 3)
        rep.raw(table(g[cols]))
        name = _slug("scores", rec, roi, method)
        figs[name] = figure_png(figures.score_bars(g, f"{rec} {roi} ({method})"))
        rep.raw(img_tag(figs[name], name))
        s = scores[
            (scores["recording"] == rec) & (scores["roi"] == roi) & (scores["method"] == method)
        ]
        name = _slug("layers", rec, roi, method)
        figs[name] = figure_png(
            figures.layer_profiles(s, f"Per-layer profile: {rec} {roi} ({method})")
        )
        rep.raw(img_tag(figs[name], name))
    if len(pairwise):
        rep.heading("Pairwise tests")
        rep.raw(table(pairwise, "{:.4f}"))

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
    best = scores[(scores["layer"] == BEST) & (scores["method"] == "spearman")]
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

    out = Path(args.figures)
    out.mkdir(parents=True, exist_ok=True)
    for name, png in figs.items():
        with atomic_path(out / f"{name}.png") as tmp:
            tmp.write_bytes(png)
    with atomic_path(args.html) as tmp:
        tmp.write_text(rep.render())


if __name__ == "__main__":
    run_main(main)
