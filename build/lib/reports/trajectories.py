"""The fair race in the report: brain score along training (vs examples seen, vs test accuracy),
controls as reference lines, seed spread and rank agreement across seeds."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from analyses.scoring import BEST  # noqa: E402
from reports.figures import rule_colors  # noqa: E402
from reports.html import Figures, Report, table  # noqa: E402

RESOLUTION_NOTE = (
    "Networks see the stimuli at their training set's input size and format (MNIST: 28 x 28 grey; "
    "CIFAR-10: 32 x 32 colour), the `pixels` control likewise; the other controls (luminance, colour, "
    "Gabor energy) see the images at their native resolution. Published work shows that whether a "
    "trained network beats an untrained one at early visual cortex can flip between 32 and 224 px, "
    "so read early-visual scores with this resolution in mind."
)
FAIR_NOTE = (
    "Every learning rule of one network trained on the same images and saw the same number of "
    "examples (only batch size, learning rate and inference steps differ). Rankings are given at "
    "that matched budget (match = examples) and at matched test accuracy (match = accuracy: each "
    "rule at its first snapshot reaching the configured accuracy; rules that never reach it are "
    "listed as not reached). Controls (untrained net, pixels, luminance, colour, Gabor energy, "
    "stimulus categories) are ranked beside the rules with the same statistics."
)


def trajectory_figure(traj: pd.DataFrame, title: str) -> plt.Figure:
    """Best-layer score vs examples seen (left) and vs test accuracy (right); mean over seeds, one
    line per rule; single-state controls as horizontal dashed lines."""
    fig, (ax_ex, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.4), sharey=True)
    colors = rule_colors(list(traj["rule"].unique()))
    learners = traj[traj["kind"] == "rule"]
    mean = (
        learners.groupby(["rule", "snapshot"])[["examples_seen", "test_accuracy", "score"]]
        .mean()
        .reset_index()
    )
    for rule, g in mean.groupby("rule", sort=True):
        g = g.sort_values("snapshot")
        ax_ex.plot(
            g["examples_seen"], g["score"], "-o", ms=2.5, lw=1, color=colors[rule], label=rule
        )
        ax_acc.plot(g["test_accuracy"], g["score"], "-o", ms=2.5, lw=1, color=colors[rule])
    controls = traj[traj["kind"] == "control"].groupby("rule")["score"].mean()
    for rule, value in controls.items():
        for ax in (ax_ex, ax_acc):
            ax.axhline(value, ls="--", lw=0.9, color=colors[rule])
        ax_ex.plot([], [], ls="--", lw=0.9, color=colors[rule], label=f"{rule} (control)")
    positive = mean["examples_seen"].replace(0, np.nan)
    ax_ex.set_xscale(
        "symlog", linthresh=max(1.0, float(positive.min())) if positive.notna().any() else 1.0
    )
    ax_ex.set_xlabel("examples seen (0 = untrained)")
    ax_acc.set_xlabel("test accuracy")
    ax_ex.set_ylabel("best-layer score (CV)")
    for ax in (ax_ex, ax_acc):
        ax.axhline(0, color="k", lw=0.4)
    fig.suptitle(title, fontsize=10)
    ncols = 1 if len(ax_ex.get_legend_handles_labels()[0]) <= 14 else 2
    right = 0.84 if ncols == 1 else 0.70
    fig.legend(
        fontsize=6,
        ncols=ncols,
        frameon=False,
        loc="center left",
        bbox_to_anchor=(right + 0.01, 0.5),
    )
    fig.subplots_adjust(left=0.07, right=right, bottom=0.17, top=0.86, wspace=0.08)
    return fig


def seed_table(ranking: pd.DataFrame) -> pd.DataFrame:
    """Per ranking cell: seeds, the mean seed-to-seed SD of the rules' scores, the spread of the
    rules' mean scores, and the rank agreement across seeds (Kendall's W, mean Spearman)."""
    rules = ranking[(ranking.get("kind", "rule") == "rule") & ranking["score"].notna()]
    keys = [k for k in ("match", "trainset", "arch", "recording", "roi", "method") if k in rules]
    rows = []
    for key, g in rules.groupby(keys, sort=True):
        rows.append(
            {
                **dict(zip(keys, key, strict=True)),
                "seeds": int(g["n_seeds"].max()),
                "seed SD (mean over rules)": g["seed_sd"].mean() if "seed_sd" in g else np.nan,
                "SD of rule means": g["score"].std(ddof=1),
                "Kendall's W": g["rank_stability_w"].iloc[0] if "rank_stability_w" in g else np.nan,
                "mean Spearman": (
                    g["rank_stability_rho"].iloc[0] if "rank_stability_rho" in g else np.nan
                ),
            }
        )
    return pd.DataFrame(rows)


def trajectory_section(
    rep: Report, figs: Figures, trajectories: pd.DataFrame, ranking: pd.DataFrame
) -> None:
    """Trajectory figures per (network, recording, ROI), the seed table and the fair-race notes."""
    rep.heading("Brain score along training", 3)
    rep.paragraph(FAIR_NOTE, "note")
    rep.paragraph(RESOLUTION_NOTE, "note")
    best = trajectories[trajectories["layer"] == BEST]
    if not len(best):
        rep.paragraph("No trajectory rows (no static recording in the grid).")
        return
    method = "spearman" if (best["method"] == "spearman").any() else str(best["method"].iloc[0])
    best = best[best["method"] == method]
    for (arch, trainset, rec, roi), g in best.groupby(["arch", "trainset", "recording", "roi"]):
        name = f"trajectory_{arch}_{trainset}_{rec}_{roi}".replace(" ", "_").replace("/", "_")
        fig = trajectory_figure(g, f"{rec} {roi} · {arch}/{trainset} ({method})")
        rep.raw(figs.tag(name, fig, dpi=90))  # ten of these in the default grid: keep them small
    if len(ranking) and "rank_stability_w" in ranking:
        rep.heading("Network instances: seed spread and rank agreement", 4)
        rep.raw(table(seed_table(ranking)))


MOVEMENT_NOTE = (
    "How far training moved each layer: 1 − Spearman ρ between the final network's RDM and the "
    "untrained network's (same seed) on the stimulus set; 0 = the geometry of the random "
    "initialisation, 1 = unrelated. Mean over seeds. A rule whose layers barely move cannot owe its "
    "brain score to learning."
)


def movement_section(rep: Report, movement: pd.DataFrame) -> None:
    """Rule x (network, layer) table of layer movement (mean over seeds)."""
    if not len(movement):
        return
    rep.heading("How far training moved each layer", 3)
    rep.paragraph(MOVEMENT_NOTE, "note")
    m = movement.assign(network=movement["arch"] + "/" + movement["trainset"])
    wide = m.groupby(["stimset", "network", "rule", "layer"], sort=False)["movement"].mean()
    for (stimset, network), g in wide.groupby(level=["stimset", "network"], sort=True):
        rep.heading(f"{network} on {stimset}", 4)
        table_ = g.droplevel(["stimset", "network"]).unstack("layer")
        layers = list(dict.fromkeys(m.loc[m["network"] == network, "layer"]))
        rep.raw(table(table_[[c for c in layers if c in table_]].reset_index()))
