"""Training figures: per-epoch curves and task accuracy against brain score."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402


def curve_panels(curves: pd.DataFrame, colors: dict[str, tuple]) -> plt.Figure:
    """Test accuracy per epoch, one panel per (arch, trainset), a line per rule (seed mean)."""
    groups = list(curves.groupby(["arch", "trainset"], sort=True))
    fig, axes = plt.subplots(
        1, max(len(groups), 1), figsize=(4.2 * max(len(groups), 1), 3.4), squeeze=False
    )
    for ax, ((arch, trainset), g) in zip(axes[0], groups, strict=False):
        for rule, rg in g.groupby("rule"):
            m = rg.groupby("epoch")["test_accuracy"].mean()
            ax.plot(m.index, m.to_numpy(), marker="o", ms=3, label=rule, color=colors.get(rule))
        ax.set_title(f"{arch} · {trainset}", fontsize=10)
        ax.set_xlabel("epoch")
        ax.set_ylabel("test accuracy")
        ax.set_ylim(0, 1)
    handles, labels = axes[0][0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
    fig.set_layout_engine("tight")  # laid out when drawn (in the rendering process)
    return fig


def accuracy_vs_brain(
    accuracy: pd.DataFrame, ranking: pd.DataFrame, colors: dict[str, tuple], title: str
) -> plt.Figure:
    """Scatter of test accuracy (seed mean) against the ranked brain score, per (arch, trainset).

    Each panel's title gives Spearman's rho over rules: does task performance predict brain-likeness?
    """
    acc = accuracy.groupby(["rule", "arch", "trainset"], as_index=False)["test_accuracy"].mean()
    both = ranking.merge(acc, on=["rule", "arch", "trainset"])
    groups = list(both.groupby(["arch", "trainset"], sort=True))
    fig, axes = plt.subplots(
        1, max(len(groups), 1), figsize=(4.0 * max(len(groups), 1), 3.6), squeeze=False
    )
    for ax, ((arch, trainset), g) in zip(axes[0], groups, strict=False):
        for r in g.itertuples():
            ax.errorbar(
                r.test_accuracy, r.score, yerr=[[r.score - r.ci_low], [r.ci_high - r.score]],
                fmt="o", color=colors.get(r.rule), ms=5, capsize=2,
            )  # fmt: skip
            ax.annotate(
                r.rule,
                (r.test_accuracy, r.score),
                fontsize=7,
                xytext=(3, 3),
                textcoords="offset points",
            )
        rho = spearmanr(g["test_accuracy"], g["score"]).statistic if len(g) > 2 else float("nan")
        ax.set_title(f"{arch} · {trainset} (Spearman ρ = {rho:.2f})", fontsize=9)
        ax.set_xlabel("test accuracy")
        ax.set_ylabel("brain score (best layer)")
    fig.suptitle(title, fontsize=10)
    fig.set_layout_engine("tight")  # laid out when drawn (in the rendering process)
    return fig
