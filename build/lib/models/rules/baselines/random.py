"""Random initialisation (the control): the network keeps its initial weights.

No weight is ever changed, so every brain score of a trained rule is judged against the
architecture's own prior. Reference: e.g. Cichy et al. (2016) Sci Rep 6:27755 (untrained baselines).
"""

from __future__ import annotations

import torch

from models.registry import register
from models.rules.base import Rule, RuleCard


@register
class RandomInit(Rule):
    card = RuleCard(
        family="control",
        addresses=(),
        reference=None,
        notes="Untrained network; accuracy stays at chance.",
    )
    learns = False

    def __init__(self, net):
        super().__init__(net)

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        return {}
