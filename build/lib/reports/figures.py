"""Matplotlib figures of the report; each function returns a Figure and does no file I/O."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from analyses.ranks import rankdata  # noqa: E402
from analyses.scoring import BEST, REWEIGHTED  # noqa: E402


def rule_colors(rules: list[str]) -> dict[str, tuple]:
    """A distinct colour per rule (tab20 then tab20b: 40 before any repeats)."""
    palette = list(plt.get_cmap("tab20").colors) + list(plt.get_cmap("tab20b").colors)
    return {r: palette[i % len(palette)] for i, r in enumerate(sorted(rules))}


def score_bars(ranking: pd.DataFrame, title: str) -> plt.Figure:
    """Cross-validated best-layer score per rule, grouped by (arch, trainset); ceiling band, 95 % CI."""
    groups = ranking.groupby(["arch", "trainset"], sort=True)
    rules = sorted(ranking["rule"].unique())
    colors = rule_colors(rules)
    width_in = min(16.0, max(4.0, 0.12 * len(rules) * groups.ngroups + 3))
    fig, ax = plt.subplots(figsize=(width_in, 3.8))
    width = 0.8 / max(len(rules), 1)
    offset = {r: (i - (len(rules) - 1) / 2) * width for i, r in enumerate(rules)}
    labels = []
    for gi, ((arch, trainset), g) in enumerate(groups):
        labels.append(f"{arch}\n{trainset}")
        g = g.drop_duplicates("rule")
        x = gi + g["rule"].map(offset).to_numpy()
        ax.bar(x, g["score"], width, color=[colors[r] for r in g["rule"]])
        err = np.abs(np.vstack([g["score"] - g["ci_low"], g["ci_high"] - g["score"]]))
        ok = ~np.isnan(err).any(axis=0)
        if ok.any():
            ax.errorbar(x[ok], g["score"].to_numpy()[ok], err[:, ok], fmt="none", ecolor="k",
                        capsize=2)  # fmt: skip
    handles = [Patch(color=colors[r], label=r) for r in rules]
    lo, hi = ranking["noise_ceiling_low"].mean(), ranking["noise_ceiling_high"].mean()
    if np.isfinite(lo) and np.isfinite(hi):
        handles.append(ax.axhspan(lo, hi, color="0.85", zorder=0, label="noise ceiling"))
    ax.set_xticks(range(len(labels)), labels)
    ax.set_ylabel(f"{ranking['method'].iloc[0]} (best layer, CV)")
    ax.axhline(0, color="k", lw=0.5)
    ax.set_title(title, fontsize=10)
    ax.legend(handles=handles, fontsize=7, ncols=2, frameon=False, loc="upper left",
              bbox_to_anchor=(1, 1))  # fmt: skip
    fig.set_layout_engine("tight")  # laid out when drawn (in the rendering process)
    return fig


N_HIGHLIGHT = 6


def layer_profiles(scores: pd.DataFrame, title: str, controls: tuple[str, ...] = ()) -> plt.Figure:
    """Score of every layer (mean over seeds), one panel per (arch, trainset), two panels a row.

    The ``N_HIGHLIGHT`` rules with the highest peak are drawn in colour with their 95 % CI band,
    the untrained network (``random``) in black dashes, every other rule thin and grey, so that
    the profiles stay readable with dozens of rules; the dashed grey line is the noise ceiling.
    """
    per_layer = scores[~scores["layer"].isin([BEST, REWEIGHTED])]
    panels = sorted(per_layer.groupby(["arch", "trainset"]).groups)
    ncols = min(2, len(panels))
    nrows = int(np.ceil(len(panels) / ncols))
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(5.2 * ncols + 2.2, 3.3 * nrows), squeeze=False, layout="constrained"
    )
    for ax in axes.ravel()[len(panels) :]:
        ax.axis("off")
    peak = per_layer.groupby(["rule", "layer"])["score"].mean().groupby("rule").max()
    ranked = [r for r in peak.sort_values(ascending=False).index if r not in controls]
    top = ranked[:N_HIGHLIGHT]
    palette = plt.get_cmap("tab10").colors
    colors = {r: palette[i] for i, r in enumerate(top)}
    for ax, (arch, trainset) in zip(axes.ravel(), panels, strict=False):
        g = per_layer[(per_layer["arch"] == arch) & (per_layer["trainset"] == trainset)]
        for rule, rg in g.groupby("rule"):
            m = rg.groupby("layer", sort=False)[["score", "ci_low", "ci_high"]].mean()
            x = np.arange(len(m))
            if rule in top:
                ax.plot(
                    x, m["score"], "-o", ms=3.5, lw=1.8, color=colors[rule], label=rule, zorder=3
                )
                ax.fill_between(x, m["ci_low"], m["ci_high"], color=colors[rule], alpha=0.15, lw=0)
            elif rule == "random":
                ax.plot(
                    x, m["score"], "--", lw=1.5, color="k", label="random (untrained)", zorder=2
                )
            else:
                ax.plot(
                    x,
                    m["score"],
                    "-",
                    lw=0.7,
                    color="0.75",
                    zorder=1,
                    label="other rules / controls",
                )
            ax.set_xticks(x, m.index, rotation=30, ha="right", fontsize=8)
        nc = g["noise_ceiling_high"].mean()
        if np.isfinite(nc):
            ax.axhline(nc, color="0.5", ls=":", lw=1, label="noise ceiling (upper)")
        ax.set_title(f"{arch} / {trainset}", fontsize=10)
        ax.set_ylabel(per_layer["method"].iloc[0], fontsize=9)
        ax.grid(axis="y", lw=0.3, color="0.85")
    handles: dict = {}
    for ax in axes.ravel():
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(lab, h)
    labels = sorted(handles, key=lambda k: top.index(k) if k in top else N_HIGHLIGHT + len(k))
    fig.legend([handles[k] for k in labels], labels, loc="outside right upper", fontsize=8,
               frameon=False)  # fmt: skip
    fig.suptitle(title, fontsize=11)
    return fig


def _group_spans(groups: list[str]) -> list[tuple[str, int, int]]:
    """Runs of equal group names: (name, first index, last index + 1)."""
    spans, start = [], 0
    for i in range(1, len(groups) + 1):
        if i == len(groups) or groups[i] != groups[start]:
            spans.append((groups[start], start, i))
            start = i
    return spans


def group_colors(groups: list[str]) -> dict[str, tuple]:
    """A tab10 colour per group name, in order of first appearance."""
    names = list(dict.fromkeys(g for g in groups if g))
    palette = plt.get_cmap("tab10").colors
    return {g: palette[i % len(palette)] for i, g in enumerate(names)}


def rdm_grid(
    rdms: dict[str, np.ndarray],
    title: str,
    ncols: int = 6,
    groups: dict[str, list[str]] | None = None,
) -> plt.Figure:
    """RDMs as percentile-ranked images (the display convention of Kriegeskorte et al. 2008).

    ``groups`` (panel name -> a group name per stimulus) draws coloured bars along the left and top
    edges and lines between the groups, with one legend for every group shown.
    """
    n = len(rdms)
    ncols = min(ncols, n)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.7 * ncols, 1.85 * nrows + 0.4), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    all_groups = [g for gs in (groups or {}).values() for g in gs]
    colors = group_colors(all_groups)
    for ax, (name, rdm) in zip(axes.ravel(), rdms.items(), strict=False):
        iu = np.triu_indices(len(rdm), 1)
        ranked = np.zeros_like(rdm, dtype=float)
        ranked[iu] = rankdata(rdm[iu]) / len(iu[0])
        ranked = ranked + ranked.T
        ax.imshow(ranked, cmap="viridis", interpolation="nearest")
        ax.set_title(name, fontsize=7)
        g = (groups or {}).get(name)
        if g is not None and any(g) and len(g) == len(rdm):
            k = len(rdm)
            bar = 0.045 * k
            for gname, lo, hi in _group_spans(list(g)):
                c = colors.get(gname, (1, 1, 1))
                ax.add_patch(
                    plt.Rectangle((-0.5 - bar, lo - 0.5), bar, hi - lo, color=c, clip_on=False)
                )
                ax.add_patch(
                    plt.Rectangle((lo - 0.5, -0.5 - bar), hi - lo, bar, color=c, clip_on=False)
                )
                if lo > 0:
                    ax.axhline(lo - 0.5, color="w", lw=0.4)
                    ax.axvline(lo - 0.5, color="w", lw=0.4)
            ax.set_xlim(-0.5 - bar, k - 0.5)
            ax.set_ylim(k - 0.5, -0.5 - bar)
    if colors:
        handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in colors.values()]
        fig.legend(handles, list(colors), loc="lower center", ncols=min(6, len(colors)),
                   fontsize=7, frameon=False)  # fmt: skip
    fig.suptitle(title, fontsize=10)
    fig.set_layout_engine("tight", rect=(0, 0.06 if colors else 0, 1, 1))
    return fig


def significance_matrix(ranking: pd.DataFrame, pairwise: pd.DataFrame, title: str) -> plt.Figure:
    """Pairwise rule differences (row minus column, lower triangle), one panel per (arch, trainset).

    Rules are ordered by rank; a star marks differences significant after FDR correction, blank
    cells were not tested (e.g. single-RDM recordings).
    """
    panels = sorted(ranking.groupby(["arch", "trainset"]).groups)
    n_rules = ranking["rule"].nunique()
    size = min(7.0, 2.8 + 0.22 * n_rules)
    ncols = min(2, len(panels))
    nrows = int(np.ceil(len(panels) / ncols))
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(size * ncols + 1, size * nrows), squeeze=False, layout="constrained"
    )
    for ax in axes.ravel()[len(panels) :]:
        ax.axis("off")
    vmax = float(np.nanmax(np.abs(pairwise["diff"]))) if len(pairwise) else 1.0
    for ax, (arch, trainset) in zip(axes.ravel(), panels, strict=False):
        g = ranking[(ranking["arch"] == arch) & (ranking["trainset"] == trainset)]
        rules = list(g.sort_values(["rank", "rule"])["rule"])
        pos = {r: i for i, r in enumerate(rules)}
        diff = np.full((len(rules), len(rules)), np.nan)
        sig = np.zeros_like(diff, dtype=bool)
        pw = pairwise[(pairwise["arch"] == arch) & (pairwise["trainset"] == trainset)]
        for row in pw.itertuples():
            if row.rule_a in pos and row.rule_b in pos:
                i, j = pos[row.rule_a], pos[row.rule_b]
                diff[i, j], diff[j, i] = row.diff, -row.diff
                sig[i, j] = sig[j, i] = bool(row.significant)
        diff[np.triu_indices(len(rules))] = np.nan  # antisymmetric: the lower triangle says it all
        sig &= np.tril(np.ones_like(sig), -1).astype(bool)
        im = ax.imshow(diff, cmap="RdBu_r", vmin=-vmax, vmax=vmax or 1.0)
        rows, cols = np.nonzero(sig)
        ax.scatter(cols, rows, marker="*", s=14, c="k", linewidths=0)
        ax.set_xticks(range(len(rules)), rules, rotation=90, fontsize=7)
        ax.set_yticks(range(len(rules)), rules, fontsize=7)
        ax.set_title(f"{arch} / {trainset}", fontsize=9)
    fig.colorbar(im, ax=axes, fraction=0.03, label="score difference (row - column)")
    fig.suptitle(title, fontsize=10)
    return fig
