"""The rankings section of the report: tables, score bars, significance matrices, layer profiles."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from reports import figures
from reports.html import Figures, Report, table
from reports.verdict import CONTROLS, MATCH_LABEL

METHOD_NOTE = (
    "Scores: 'spearman', 'kendall' (tau-a), 'pearson' and 'whitened' (covariance-weighted "
    "correlation) are means over subjects of the comparator between model and brain RDMs "
    "(rsatoolbox definitions); 'r2_spearman' is the Algonauts 2019 score (mean squared Spearman "
    "r; score_nc divides it by the upper noise ceiling). Rankings use the best layer chosen by "
    "leave-one-subject-out cross-validation (for single-RDM recordings: on random stimulus "
    "halves), averaged over seeds. Intervals (ci_method): t-intervals on bootstrap variances, "
    "by default over subjects and stimuli at once (dual bootstrap, Schütt et al. 2023, with "
    "rsatoolbox's small-sample correction; the stimulus part counts the pair-specific variance "
    "once, not three times as a stimulus bootstrap does), over stimuli for single-RDM "
    "recordings; with several seeds the seed-to-seed variance of the mean is added. The rank "
    "interval bootstraps the ranks, redoing the layer choice in every resample. Pairwise tests: "
    "t statistics of the paired difference with the same variance, Benjamini-Hochberg corrected "
    "within one family per trainset, network, recording, ROI, comparator and match; '=' after a "
    "rank and 'tied_with' mark rules whose difference is not significant. p_perm_max: the "
    "largest, over seeds, stimulus-label permutation p-value of the best-layer score against "
    "zero. Seed stability: Kendall's W between the per-seed rankings (– with one seed)."
)


def _slug(*parts: str) -> str:
    return "_".join(re.sub(r"[^A-Za-z0-9.-]+", "-", p) for p in parts)


def display(g: pd.DataFrame) -> pd.DataFrame:
    """Ranking rows for the report: '=' marks a rank tied with another rule, rank CI as text."""
    g = g.copy()
    tied = g["tied_with"].fillna("").astype(str) != ""
    g["rank"] = [
        f"{r:.0f}{'=' if t else ''}" if pd.notna(r) else "–"
        for r, t in zip(g["rank"], tied, strict=True)
    ]
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
    g["network"] = g["arch"] + "/" + g["trainset"]
    g["score [95% CI]"] = [
        f"{s:.3f} [{a:.3f}, {b:.3f}]" if pd.notna(s) else "–"
        for s, a, b in zip(g["score"], g["ci_low"], g["ci_high"], strict=True)
    ]
    g["tied"] = [len(t.split(";")) if t else 0 for t in g["tied_with"].fillna("").astype(str)]
    return g


def _ceiling_note(g: pd.DataFrame) -> str:
    lo, hi = g["noise_ceiling_low"].mean(), g["noise_ceiling_high"].mean()
    if not np.isfinite(hi):
        return "no noise ceiling (one group RDM)"
    return f"noise ceiling {lo:.3f} (lower) – {hi:.3f} (upper)"


def _compact(g: pd.DataFrame) -> pd.DataFrame:
    """Rule x network table of 'score (rank)' for comparators shown without figures."""
    g = display(g)
    g["cell"] = [
        f"{s:.3f} ({r})" if pd.notna(s) else "–" for s, r in zip(g["score"], g["rank"], strict=True)
    ]
    wide = g.pivot_table("cell", ["kind", "rule"], "network", aggfunc="first").reset_index()
    return wide.sort_values(["kind", "rule"], ascending=[False, True])


def rankings_section(
    rep: Report,
    figs: Figures,
    scores: pd.DataFrame,
    ranking: pd.DataFrame,
    pairwise: pd.DataFrame,
    main: str,
) -> None:
    """Per recording and ROI (collapsible): tables per comparator and match; for the ``main``
    comparator score bars, significance matrices and per-layer profiles."""
    rep.open_details("Rankings per recording and ROI")
    rep.paragraph(METHOD_NOTE, "note")
    cols = [
        "network", "rule", "kind", "rank", "rank 95% CI", "score [95% CI]", "score_nc",
        "best_layer", "p_perm_max", "tied", "reached",
    ]  # fmt: skip
    for (rec, roi), place in ranking.groupby(["recording", "roi"], sort=True):
        rep.open_details(f"{rec} · {roi}", level=3)
        methods = sorted(place["method"].unique(), key=lambda m: (m != main, m))
        for method in methods:
            rep.heading(f"{rec} · {roi} · {method}", 4)
            for match, g in place[place["method"] == method].groupby("match", sort=False):
                g = g.sort_values(["trainset", "arch", "rank"])
                rep.raw(f"<p><b>{MATCH_LABEL[match]}</b> · {_ceiling_note(g)}</p>")
                if method != main:
                    rep.raw(table(_compact(g)))
                    continue
                shown = display(g)
                if match != "accuracy":
                    shown = shown.drop(columns="reached")
                rep.raw(table(shown[[c for c in cols if c in shown]]))
                missing = sorted(g.loc[~g["reached"], "rule"].unique())
                if missing:
                    rep.paragraph(
                        "Never reached the matched accuracy (not ranked): " + ", ".join(missing),
                        "note",
                    )
                ok = g[g["reached"]]
                if method == main and len(ok):
                    name = _slug("scores", rec, roi, method, match)
                    fig = figures.score_bars(ok, f"{rec} {roi} ({method}, {MATCH_LABEL[match]})")
                    rep.raw(figs.tag(name, fig))
                pw = pairwise[
                    (pairwise["recording"] == rec)
                    & (pairwise["roi"] == roi)
                    & (pairwise["method"] == method)
                    & (pairwise["match"] == match)
                ]
                if method == main and len(pw) and len(ok):
                    name = _slug("significance", rec, roi, method, match)
                    fig = figures.significance_matrix(
                        ok,
                        pw,
                        f"Pairwise differences: {rec} {roi} ({method}, {MATCH_LABEL[match]})",
                    )
                    rep.raw(figs.tag(name, fig, dpi=80))
            s = scores[
                (scores["recording"] == rec) & (scores["roi"] == roi) & (scores["method"] == method)
            ]
            if method == main and len(s):
                name = _slug("layers", rec, roi, method)
                fig = figures.layer_profiles(
                    s, f"Per-layer profile: {rec} {roi} ({method})", tuple(CONTROLS)
                )
                rep.raw(figs.tag(name, fig))
        rep.close_details()
    rep.paragraph(
        f"Tables: '=' after a rank and 'tied' (how many rules) mark differences that are not "
        f"significant; the full rows (every p_fdr_vs_<rule>, tied_with) are in results/ranking.csv "
        f"and every pairwise test in results/pairwise.csv. Comparators other than {main} are "
        "shown as 'score (rank)' per network, without figures.",
        "note",
    )
    rep.close_details()
