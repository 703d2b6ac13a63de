"""Greedy InfoMax / local contrastive learning: every block trained by its own InfoNCE loss.

What is updated, from which signals: two augmented views of each image pass through the blocks,
each block on *detached* inputs (gradient-isolated, Löwe et al. 2019); block ``k`` and its own
projection head (global average pool for conv maps, Linear-ReLU-Linear) descend the InfoNCE /
NT-Xent loss between the views' embeddings: each view must identify the other view of the same
image among the ``2n - 1`` candidates of the batch (LoCo's per-stage SimCLR objective, Xiong et al.
2020). No label and no gradient crosses a block boundary; the labels reach only the linear
readout, trained on the detached last-block features (for accuracy only).

References: Löwe, O'Connor & Veeling (2019) "Putting an end to end-to-end: gradient-isolated
learning of representations", NeurIPS 32; Xiong, Ren & Urtasun (2020) "LoCo: local contrastive
representation learning", NeurIPS 33.
"""

from __future__ import annotations

from models.registry import register
from models.rules.base import RuleCard
from models.rules.self_supervised._ssl import InfoNCERule


@register
class GreedyInfoMax(InfoNCERule):
    card = RuleCard(
        family="explicit local non-synergistic",
        addresses=(
            "global feedback pathway",
            "update locking",
            "non-local updates",
            "labels at every layer",
        ),
        reference=(
            "Löwe, O'Connor & Veeling (2019) Putting an end to end-to-end: gradient-isolated "
            "learning of representations, NeurIPS 32; Xiong, Ren & Urtasun (2020) LoCo: "
            "local contrastive representation learning, NeurIPS 33"
        ),
        notes=(
            "Per-block InfoNCE between two augmented views (the LoCo/SimCLR form) instead of GIM's "
            "CPC objective over image patches (the shared nets see whole 28x28/32x32 images, "
            "too small for patch grids); no overlapping stages (LoCo's extension). Detached "
            "block inputs, one projector per block (conv maps average-pooled). Tensor-op "
            "augmentations (shift crop, flip for colour images, brightness, noise). Linear "
            "readout on detached, running-standardised features with labels, for accuracy only; "
            "Adam."
        ),
    )
    blockwise = True
