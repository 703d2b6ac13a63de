"""Report sections beyond the rankings: geometry (MDS), training, provenance.

Each function appends HTML to a ``Report`` and its figures to ``figs``; no file I/O
except reading the inputs it is given. The caller titles the section (a collapsible one).
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from reports import geometry, provenance, training
from reports.html import Figures, Report, table


def _add(rep: Report, figs: Figures, name: str, fig) -> None:
    rep.raw(figs.tag(name, fig))


def geometry_section(
    rep: Report,
    figs: Figures,
    brain: dict[str, dict],
    model_rdms: Callable[[str, str, str, str], dict[str, np.ndarray]],
    ranking: pd.DataFrame,
    images: Callable[[str], np.ndarray],
) -> None:
    """MDS of each recording's mean RDM beside the top-ranked rule's best layer, images as markers.

    ``brain``: recording -> {"stimset", "stimuli" (indices), "rdms": {roi: (subjects, n, n)}};
    ``model_rdms(rule, arch, trainset, stimset)``: layer -> RDM over the whole stimulus set ({} if
    absent); ``images(stimset)``: the set's images (n_set, h, w, 3).
    """
    rep.paragraph(
        "Metric MDS of the subject-mean brain RDM and of the best layer of the rule ranked first "
        "(Spearman; first architecture and training set); nearby images evoke similar patterns.",
        "note",
    )
    top = ranking[ranking["method"] == "spearman"].sort_values(["arch", "trainset", "rank"])
    for rec, info in sorted(brain.items()):
        stim = np.asarray(info["stimuli"])
        for roi, rdms in info["rdms"].items():
            panels = {f"{rec} {roi} (brain)": rdms.mean(axis=0)}
            first = top[(top["recording"] == rec) & (top["roi"] == roi)]
            if len(first):
                r = first.iloc[0]
                layers = model_rdms(r["rule"], r["arch"], r["trainset"], info["stimset"])
                if r["best_layer"] in layers:
                    rdm = layers[r["best_layer"]][np.ix_(stim, stim)]
                    panels[f"{r['rule']} · {r['best_layer']} ({r['arch']}, {r['trainset']})"] = rdm
            fig = geometry.mds_panels(panels, images(info["stimset"])[stim], f"{rec} · {roi}")
            _add(rep, figs, f"mds_{rec}_{roi}", fig)


def training_section(
    rep: Report,
    figs: Figures,
    curves: pd.DataFrame,
    accuracy: pd.DataFrame,
    ranking: pd.DataFrame,
    colors: dict[str, tuple],
) -> None:
    """Per-epoch test-accuracy curves, and accuracy against brain score per recording and ROI."""
    if len(curves):
        _add(rep, figs, "training_curves", training.curve_panels(curves, colors))
    rep.heading("Task accuracy vs brain score", 3)
    rep.paragraph(
        "Each point is a rule (best-layer Spearman score with its 95 % interval against test "
        "accuracy); ρ is Spearman's rank correlation over rules.",
        "note",
    )
    spear = ranking[
        (ranking["method"] == "spearman")
        & (ranking.get("match", "examples") == "examples")
        & (ranking.get("kind", "rule") == "rule")
    ].drop(columns=["test_accuracy", "examples_seen"], errors="ignore")
    for (rec, roi), g in spear.groupby(["recording", "roi"], sort=True):
        fig = training.accuracy_vs_brain(accuracy, g, colors, f"{rec} · {roi}")
        _add(rep, figs, f"accuracy_vs_brain_{rec}_{roi}", fig)


def provenance_section(rep: Report, config: dict, used: set[str], specs: list, repo: Path) -> None:
    """Commit, configuration, data files with hashes, software versions."""
    rep.raw(table(pd.DataFrame([{"code commit": provenance.git_commit(repo)}])))
    rep.heading("Data files", 3)
    rep.raw(table(pd.DataFrame(provenance.data_files(specs, used))))
    rep.heading("Software", 3)
    rep.raw(table(pd.DataFrame([provenance.versions()])))
    rep.raw(
        "<details><summary>Configuration</summary><pre>"
        + html.escape(json.dumps(config, indent=1, sort_keys=True))
        + "</pre></details>"
    )
