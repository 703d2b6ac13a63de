"""Time-course figures for time-resolved (M/EEG) recordings, from ``results/timecourse.csv``.

``timecourse_figures(scores, peaks)`` returns PNG bytes by figure name: for every (recording, ROI,
method) an RSA-curve figure (one panel per network: a curve per layer with its bootstrap CI, the
noise-ceiling band and each layer's peak latency) and a layers x time "fusion" heat map.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from reports.html import figure_png  # noqa: E402

NET = ["rule", "arch", "trainset"]


def _grid(n: int, width: float = 3.6, height: float = 2.6):
    cols = min(n, 4)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(
        rows, cols, figsize=(width * cols, height * rows), squeeze=False, sharex=True, sharey=True
    )
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    return fig, axes.ravel()


def curves_figure(frame: pd.DataFrame, peaks: pd.DataFrame | None = None, title: str = "") -> bytes:
    """RSA per time point: a panel per network, a curve per layer (mean over seeds) with CI."""
    nets = frame[NET].drop_duplicates().sort_values(NET).itertuples(index=False)
    nets = list(nets)
    fig, axes = _grid(len(nets))
    for ax, net in zip(axes, nets, strict=False):
        sub = frame[(frame[NET] == pd.Series(net._asdict())).all(axis=1)]
        mean = (
            sub.groupby(["layer", "time"], sort=False)[
                ["score", "ci_low", "ci_high", "noise_ceiling_low", "noise_ceiling_high"]
            ]
            .mean()
            .reset_index()
        )
        nc = mean.groupby("time")[["noise_ceiling_low", "noise_ceiling_high"]].first()
        if nc.notna().all().all():
            ax.fill_between(
                nc.index * 1e3,
                nc["noise_ceiling_low"],
                nc["noise_ceiling_high"],
                color="0.85",
                label="noise ceiling",
            )
        sig_p = (
            sub.groupby(["layer", "time"], sort=False)["cluster_p"].max()
            if "cluster_p" in sub
            else None
        )
        bar = 0.03 * max(1e-3, float(mean["score"].abs().max()))
        for k, (layer, g) in enumerate(mean.groupby("layer", sort=False)):
            (line,) = ax.plot(g["time"] * 1e3, g["score"], lw=1.4, label=layer)
            ax.fill_between(
                g["time"] * 1e3, g["ci_low"], g["ci_high"], color=line.get_color(), alpha=0.2, lw=0
            )
            if sig_p is not None:  # significant clusters (p < 0.05 for every seed): marks below 0
                sig = (sig_p.loc[layer] < 0.05).to_numpy()
                t_sig = g["time"].to_numpy()[sig] * 1e3
                ax.plot(
                    t_sig, np.full(len(t_sig), -bar * (k + 1)), "s", ms=2.5, color=line.get_color()
                )
            if peaks is not None:
                pk = peaks[
                    (peaks[NET] == pd.Series(net._asdict())).all(axis=1) & (peaks["layer"] == layer)
                ]
                if len(pk):
                    ax.axvline(pk["peak_time"].mean() * 1e3, color=line.get_color(), ls=":", lw=1)
        ax.axhline(0, color="k", lw=0.6)
        ax.axvline(0, color="k", lw=0.6, ls="--")
        ax.set_title(" ".join(str(v) for v in net), fontsize=9)
        ax.set_xlabel("time (ms)")
    axes[0].set_ylabel(frame["method"].iloc[0])
    axes[0].legend(fontsize=7, frameon=False)
    fig.suptitle(title, fontsize=10, y=1.04)
    return figure_png(fig)


def fusion_figure(frame: pd.DataFrame, title: str = "") -> bytes:
    """Layers x time heat map of the RSA score, a panel per network (mean over seeds)."""
    nets = list(frame[NET].drop_duplicates().sort_values(NET).itertuples(index=False))
    fig, axes = _grid(len(nets), height=2.2)
    vmax = float(np.nanmax(np.abs(frame["score"]))) or 1.0
    for ax, net in zip(axes, nets, strict=False):
        sub = frame[(frame[NET] == pd.Series(net._asdict())).all(axis=1)]
        layers = list(dict.fromkeys(sub["layer"]))
        mat = sub.pivot_table(index="layer", columns="time", values="score").loc[layers]
        t = mat.columns.to_numpy() * 1e3
        im = ax.imshow(
            mat.to_numpy(),
            aspect="auto",
            cmap="RdBu_r",
            vmin=-vmax,
            vmax=vmax,
            extent=[t[0], t[-1], len(layers) - 0.5, -0.5],
            interpolation="nearest",
        )
        ax.set_yticks(range(len(layers)), layers, fontsize=7)
        ax.set_title(" ".join(str(v) for v in net), fontsize=9)
        ax.set_xlabel("time (ms)")
    fig.colorbar(im, ax=list(axes), shrink=0.8, label=frame["method"].iloc[0])
    fig.suptitle(title, fontsize=10, y=1.04)
    return figure_png(fig)


def timecourse_figures(scores: pd.DataFrame, peaks: pd.DataFrame | None = None) -> dict[str, bytes]:
    """PNG bytes by name (``timecourse_<rec>_<roi>_<method>``, ``fusion_<...>``) for the report."""
    out = {}
    if scores is None or scores.empty:
        return out
    for (rec, roi, method), g in scores.groupby(["recording", "roi", "method"], sort=True):
        pk = None
        if peaks is not None and len(peaks):
            pk = peaks[
                (peaks["recording"] == rec) & (peaks["roi"] == roi) & (peaks["method"] == method)
            ]
        title = f"{rec} {roi}: {method} per time point"
        note = ""
        if g["noise_ceiling_high"].isna().all():
            note = " (one RDM: no noise ceiling)"
        out[f"timecourse_{rec}_{roi}_{method}"] = curves_figure(g, pk, title + note)
        out[f"fusion_{rec}_{roi}_{method}"] = fusion_figure(g, f"{rec} {roi}: layers x time")
    return out
