"""Representational geometry figure: 2-D metric MDS of an RDM with the stimulus images as markers."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.offsetbox import AnnotationBbox, OffsetImage  # noqa: E402
from sklearn.manifold import MDS  # noqa: E402


def mds_embedding(rdm: np.ndarray, seed: int = 0) -> np.ndarray:
    """(n, 2) metric-MDS coordinates of a symmetric (n, n) dissimilarity matrix: SMACOF started
    from the classical (Torgerson) solution, so deterministic (``seed`` seeds the estimator only)."""
    rdm = np.asarray(rdm, dtype=float)
    if rdm.ndim != 2 or rdm.shape[0] != rdm.shape[1]:
        raise ValueError(f"an RDM must be square, got shape {rdm.shape}")
    mds = MDS(n_components=2, metric="precomputed", metric_mds=True, init="classical_mds",
              random_state=seed)  # fmt: skip
    return mds.fit_transform((rdm + rdm.T) / 2)


def mds_panels(
    rdms: dict[str, np.ndarray], images: np.ndarray, title: str, zoom: float = 0.18
) -> plt.Figure:
    """One MDS panel per named RDM, each stimulus drawn as its thumbnail (``images`` (n, h, w, 3))."""
    n = len(rdms)
    fig, axes = plt.subplots(1, n, figsize=(5.2 * n, 5.2), squeeze=False)
    for ax, (name, rdm) in zip(axes[0], rdms.items(), strict=True):
        if len(images) != len(rdm):
            raise ValueError(f"{name}: {len(rdm)} stimuli in the RDM but {len(images)} images")
        xy = mds_embedding(rdm)
        ax.scatter(xy[:, 0], xy[:, 1], s=1, alpha=0)
        for (x, y), img in zip(xy, images, strict=True):
            box = AnnotationBbox(OffsetImage(img, zoom=zoom), (x, y), frameon=False, pad=0)
            box.set_in_layout(False)  # inside the limits set below; layout need not measure it
            ax.add_artist(box)
        pad = 0.08 * np.ptp(xy, axis=0).max()
        ax.set_xlim(xy[:, 0].min() - pad, xy[:, 0].max() + pad)
        ax.set_ylim(xy[:, 1].min() - pad, xy[:, 1].max() + pad)
        ax.set_title(name, fontsize=10)
        ax.set_xticks([]), ax.set_yticks([])
    fig.suptitle(title)
    fig.set_layout_engine("tight")  # laid out when drawn (in the rendering process)
    return fig
