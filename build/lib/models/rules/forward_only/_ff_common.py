"""Helpers shared by the forward-only rules ff, rff, pff and sigprop (not a rule: leading underscore).

Goodness, layer normalisation, the forward-forward logistic loss, label embeddings (one-hot overlay
or label-coded input patterns), wrong-label sampling and the local softmax readout.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

EMBEDDINGS = ("onehot", "pattern")


def goodness(h: torch.Tensor) -> torch.Tensor:
    """Mean squared activity of each sample over all its units: (n, ...) -> (n,)."""
    return h.pow(2).flatten(1).mean(1)


def normalize(h: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Divide each sample by its root-mean-square activity (length normalisation, Hinton 2022).

    Only the direction of the activity vector reaches the next layer, not its goodness.
    """
    rms = h.pow(2).flatten(1).mean(1).add(eps).sqrt()  # (n,)
    return h / rms.view(-1, *([1] * (h.dim() - 1)))  # (n,) -> (n, 1, ..., 1) to broadcast


def ff_loss(g_pos: torch.Tensor, g_neg: torch.Tensor, threshold: float) -> torch.Tensor:
    """Logistic loss pushing positive goodness above and negative goodness below the threshold."""
    return F.softplus(threshold - g_pos).mean() + F.softplus(g_neg - threshold).mean()


def symba_loss(g_pos: torch.Tensor, g_neg: torch.Tensor, alpha: float) -> torch.Tensor:
    """Symmetric variant (Lee & Song 2023, SymBa): logistic loss on the pos-neg goodness gap."""
    return F.softplus(-alpha * (g_pos - g_neg)).mean()


def wrong_labels(y: torch.Tensor, n_classes: int) -> torch.Tensor:
    """A uniformly drawn incorrect label per sample (torch's global RNG, on ``y``'s device)."""
    shift = torch.randint(1, n_classes, y.shape, device="cpu").to(y.device)
    return (y + shift) % n_classes


def _wave_patterns(in_shape: Sequence[int], n_classes: int) -> torch.Tensor:
    """One plane wave per class (its own orientation and frequency), same in every channel.

    A wave is locally recognisable, so a small convolution sees the label at every position
    (spatially extended labels, Scodellaro et al. 2023). Returns (n_classes, c*h*w), values in [-1, 1].
    """
    c, h, w = in_shape if len(in_shape) == 3 else (1, 1, int(torch.tensor(in_shape).prod()))
    ii, jj = torch.meshgrid(
        torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij"
    )  # (h, w) each
    waves = []
    for k in range(n_classes):
        theta = torch.tensor(torch.pi * (k // 2) / ((n_classes + 1) // 2))
        freq = 0.18 if k % 2 == 0 else 0.33  # cycles per pixel
        phase = 2 * torch.pi * freq * (ii * torch.cos(theta) + jj * torch.sin(theta))  # (h, w)
        waves.append(torch.cos(phase).expand(c, h, w).reshape(-1))  # (h, w) -> (c*h*w,)
    return torch.stack(waves)  # (n_classes, c*h*w)


class LabelEmbedding(nn.Module):
    """Puts a (soft) label into an input image.

    ``onehot``: the first ``n_classes`` input values (flattened) are replaced by ``scale * label``
    (Hinton 2022's MNIST overlay). ``pattern``: a fixed label-coded image per class (a plane wave)
    (buffer ``patterns``) is added to the whole
    image, ``x + scale * sum_c label_c * P_c``, so every convolutional position sees the label.
    A neutral label is the uniform vector ``1 / n_classes``.
    """

    def __init__(self, in_shape: Sequence[int], n_classes: int, mode: str, scale: float):
        super().__init__()
        self.in_shape, self.n_classes, self.mode, self.scale = (
            tuple(in_shape),
            n_classes,
            mode,
            scale,
        )
        n_in = int(torch.tensor(self.in_shape).prod())
        if mode == "onehot" and n_in < n_classes:
            raise ValueError(f"label_embedding='onehot' needs >= {n_classes} input values")
        patterns = _wave_patterns(self.in_shape, n_classes) if mode == "pattern" else torch.zeros(0)
        self.register_buffer("patterns", patterns)  # (n_classes, c*h*w) or empty

    def forward(self, x: torch.Tensor, soft: torch.Tensor) -> torch.Tensor:
        """``x`` (n, *in_shape) with label distribution ``soft`` (n, n_classes) embedded."""
        flat = x.flatten(1)  # (n, c*h*w)
        soft = soft.to(flat.dtype)
        if self.mode == "onehot":
            flat = torch.cat([self.scale * soft, flat[:, self.n_classes :]], dim=1)  # (n, c*h*w)
        else:
            flat = flat + self.scale * soft @ self.patterns.to(flat.dtype)  # (n, c*h*w)
        return flat.view_as(x)  # (n, c*h*w) -> (n, c, h, w)

    def label(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``x`` with the hard labels ``y`` embedded."""
        return self(x, F.one_hot(y, self.n_classes))

    def neutral(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` with the uniform (uninformative) label embedded."""
        soft = torch.full((x.shape[0], self.n_classes), 1.0 / self.n_classes, device=x.device)
        return self(x, soft)


def readout_loss(readout: nn.Linear, features: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the linear readout on *detached* features: a delta rule on the top layer only."""
    return F.cross_entropy(readout(features.detach().flatten(1)), y)


def check_common(
    rule,
    *,
    lr: float,
    threshold: float,
    label_embedding: str,
    label_scale: float,
    predict_mode: str,
    modes: Sequence[str] = ("goodness", "softmax"),
) -> None:
    """Validate the hyper-parameters the forward-forward family shares."""
    rule._check_positive(lr=lr, label_scale=label_scale)
    rule._check(
        "threshold", threshold, isinstance(threshold, int | float) and threshold >= 0, ">= 0"
    )
    rule._check(
        "label_embedding", label_embedding, label_embedding in EMBEDDINGS, f"one of {EMBEDDINGS}"
    )
    rule._check("predict_mode", predict_mode, predict_mode in modes, f"one of {tuple(modes)}")


def class_goodness(h: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Goodness of each class's channel group (channel ``k`` belongs to class ``k % n_classes``).

    (n, C, ...) -> (n, n_classes): mean squared activity over the group's channels and positions
    (channel-wise competitive FF, Papachristodoulou et al. 2024).
    """
    g = (
        h.pow(2).flatten(2).mean(2) if h.dim() > 2 else h.pow(2)
    )  # (n, C, h, w) -> (n, C, h*w) -> (n, C)
    group = torch.arange(g.shape[1], device=g.device) % n_classes  # (C,)
    sums = g.new_zeros(g.shape[0], n_classes).index_add_(1, group, g)  # (n, n_classes)
    counts = torch.bincount(group, minlength=n_classes).to(g.dtype)  # (n_classes,)
    return sums / counts
