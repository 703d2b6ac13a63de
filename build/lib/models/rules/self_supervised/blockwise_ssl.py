"""Blockwise self-supervised learning: every block trained by its own Barlow Twins or VICReg loss.

What is updated, from which signals: two augmented views of each image (``models.rules.self_supervised._augment``)
pass through the blocks, each block on *detached* inputs; block ``k`` and its projection head
(global average pool for conv maps, Linear-ReLU-Linear) descend a redundancy-reduction loss between
the two views' embeddings: Barlow Twins ``sum_i (1 - C_ii)^2 + lambd sum_{i!=j} C_ij^2`` (``C``
the cross-correlation of the standardised embeddings) or VICReg (invariance + variance +
covariance). No label and no gradient crosses a block boundary; the labels reach only the linear
readout, trained on the detached last-block features (for accuracy only).

Reference: Siddiqui, Krueger, LeCun & Deny (2023) "Blockwise self-supervised learning at scale",
arXiv:2302.01647 (losses: Zbontar et al. 2021; Bardes, Ponce & LeCun 2022).
"""

from __future__ import annotations

import torch

from models.registry import register
from models.rules.base import RuleCard
from models.rules.self_supervised._ssl import SSLRule, barlow_twins, vicreg


@register
class BlockwiseSSL(SSLRule):
    card = RuleCard(
        family="explicit local non-synergistic",
        addresses=(
            "global feedback pathway",
            "update locking",
            "non-local updates",
            "labels at every layer",
        ),
        reference=(
            "Siddiqui, Krueger, LeCun & Deny (2023) Blockwise self-supervised learning at "
            "scale, arXiv:2302.01647"
        ),
        notes=(
            "Each block (its own projector; conv maps globally average-pooled) minimises Barlow "
            "Twins (default) or VICReg between two augmented views on detached inputs; the "
            "paper trains ResNet-50 stages with a small amount of inter-block noise/"
            "gradient-free coupling on ImageNet, here one loss per block of the shared nets. "
            "Augmentations are tensor ops (shift crop, flip for colour images, brightness, "
            "noise), far weaker than the paper's. Linear readout on detached, running-"
            "standardised features with labels, for accuracy only; Adam."
        ),
    )
    blockwise = True

    def __init__(self, net, *, loss: str = "barlow", lambd: float = 0.01, **ssl_options):
        """``ssl_options``: the keyword arguments of ``SSLRule`` (optimiser, projector, views)."""
        self._check("loss", loss, loss in ("barlow", "vicreg"), "'barlow' or 'vicreg'")
        self._check("lambd", lambd, isinstance(lambd, int | float) and lambd > 0, "> 0")
        super().__init__(net, **ssl_options)
        self.loss, self.lambd = loss, lambd

    def view_loss(self, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        if self.loss == "barlow":
            return barlow_twins(z1, z2, self.lambd)
        return vicreg(z1, z2)
