"""The summary figure: rule x recording/ROI, noise-ceiling-normalised score, significance marked.

One panel per match (matched examples, matched accuracy). A cell is the rule's best-layer score
divided by the recording's upper noise ceiling (``score_nc``), averaged over networks
(architecture x training set); recordings without a ceiling (one group RDM) show the raw score and
are marked with a dagger. The number in a cell counts the networks in which the rule is
significantly above the untrained network and the best control; grey cells: not reached or not run.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from reports.verdict import MATCH_LABEL, MATCHES, PLACE, Cell  # noqa: E402


def _place_label(rec: str, roi: str, has_nc: bool) -> str:
    return f"{rec} · {roi}" + ("" if has_nc else " †")


def summary_table(ranking: pd.DataFrame, method: str) -> pd.DataFrame:
    """Per (match, rule, recording, roi): mean normalised score over networks and the raw flag."""
    sub = ranking[ranking["method"] == method].copy()
    has_nc = sub.groupby(PLACE)["score_nc"].apply(lambda s: s.notna().any())
    sub["value"] = np.where(
        sub.set_index(PLACE).index.map(has_nc).to_numpy(dtype=bool), sub["score_nc"], sub["score"]
    )
    sub.loc[~sub["reached"], "value"] = np.nan
    out = sub.groupby(["match", "kind", "rule", *PLACE], as_index=False)["value"].mean()
    out["has_nc"] = out.set_index(PLACE).index.map(has_nc).to_numpy(dtype=bool)
    return out


def summary_figure(
    ranking: pd.DataFrame, cells: dict[tuple, Cell], method: str, title: str = ""
) -> plt.Figure:
    """The heat map described in the module docstring (``cells`` from ``verdict.assess_all``)."""
    table = summary_table(ranking, method)
    matches = [m for m in MATCHES if (table["match"] == m).any()]
    places = list(table[PLACE].drop_duplicates().sort_values(PLACE).itertuples(index=False))
    first = table[table["match"] == matches[0]]
    mean = first.groupby("rule")["value"].mean()
    kinds = table.drop_duplicates("rule").set_index("rule")["kind"]
    rules = sorted(
        kinds.index[kinds == "rule"], key=lambda r: (-np.nan_to_num(mean.get(r, np.nan), nan=-9), r)
    )
    controls = sorted(
        kinds.index[kinds == "control"],
        key=lambda r: (-np.nan_to_num(mean.get(r, np.nan), nan=-9), r),
    )
    rows = rules + controls
    counts: dict[tuple, int] = {}
    n_nets: dict[tuple, int] = {}
    for (match, rec, roi, *_), cell in cells.items():
        n_nets[(match, rec, roi)] = n_nets.get((match, rec, roi), 0) + 1
        for r in cell.beats_controls:
            counts[(match, r, rec, roi)] = counts.get((match, r, rec, roi), 0) + 1
    vals = table["value"].to_numpy(dtype=float)
    vmax = float(np.nanmax(vals)) if np.isfinite(vals).any() else 1.0
    vmin = min(0.0, float(np.nanmin(vals)) if np.isfinite(vals).any() else 0.0)
    width = 1.6 + len(matches) * (0.42 * len(places) + 0.4)
    height = max(3.4, 1.9 + 0.19 * len(rows))
    fig, axes = plt.subplots(
        1, len(matches), figsize=(width, height), squeeze=False, sharey=True, layout="constrained"
    )
    cmap = plt.get_cmap("viridis").with_extremes(bad="0.88")
    im = None
    for ax, match in zip(axes[0], matches, strict=True):
        grid = np.full((len(rows), len(places)), np.nan)
        sub = table[table["match"] == match].set_index(["rule", *PLACE])["value"]
        for i, rule in enumerate(rows):
            for j, (rec, roi) in enumerate(places):
                grid[i, j] = sub.get((rule, rec, roi), np.nan)
                k = counts.get((match, rule, rec, roi), 0)
                if k:
                    ax.text(j, i, str(k), ha="center", va="center", fontsize=7, color="w",
                            fontweight="bold")  # fmt: skip
        im = ax.imshow(
            grid, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto", interpolation="nearest"
        )
        has_nc = table.drop_duplicates(PLACE).set_index(PLACE)["has_nc"]
        labels = [_place_label(rec, roi, bool(has_nc[(rec, roi)])) for rec, roi in places]
        ax.set_xticks(range(len(places)), labels, rotation=40, ha="right", fontsize=8)
        ax.set_yticks(range(len(rows)), rows, fontsize=8)
        if controls:
            ax.axhline(len(rules) - 0.5, color="w", lw=2)
        nets = max((v for (m, *_), v in n_nets.items() if m == match), default=0)
        ax.set_title(
            f"{MATCH_LABEL[match]}\n({nets} network{'s' if nets != 1 else ''})", fontsize=9
        )
    for label in axes[0, 0].get_yticklabels():
        if label.get_text() in controls:
            label.set_fontstyle("italic")
            label.set_color("0.35")
    fig.colorbar(im, ax=axes, shrink=0.6, aspect=25, label=f"{method} / noise ceiling")
    fig.suptitle(
        title or "Brain similarity by rule (controls in italics, below the line)", fontsize=10
    )
    return fig
