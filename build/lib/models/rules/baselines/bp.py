"""Backpropagation (the non-plausible baseline).

Every weight is updated from the exact gradient of the cross-entropy at the output, carried back
through the transposed forward weights (autograd). Reference: Rumelhart, Hinton & Williams (1986)
Nature 323:533-536.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from models.registry import register
from models.rules.base import Rule, RuleCard


@register
class Backprop(Rule):
    card = RuleCard(
        family="baseline",
        addresses=(),
        reference="Rumelhart, Hinton & Williams (1986) Nature 323:533",
        notes="End-to-end gradient of the cross-entropy; Adam optimiser.",
    )

    def __init__(self, net, *, lr: float = 1e-3, weight_decay: float = 0.0):
        super().__init__(net)
        self._check_positive(lr=lr)
        self._check("weight_decay", weight_decay, weight_decay >= 0, ">= 0")
        self.lr, self.weight_decay = lr, weight_decay
        self.optimizer = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        self.optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(self.net(x), y)
        loss.backward()
        self.optimizer.step()
        return {"loss": float(loss.detach())}
