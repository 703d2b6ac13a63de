"""SimCLR: end-to-end self-supervised backprop, the control for the local self-supervised rules.

What is updated, from which signals: two augmented views of each image (the same tensor-op
augmentations as ``gim`` and ``blockwise_ssl``) go through the whole network and one projection
head on the last block; the NT-Xent / InfoNCE loss (each view must identify its partner among the
``2n - 1`` other views, cosine similarity / temperature) is back-propagated through *every* block.
No labels reach the blocks; the labels reach only the linear readout, trained on the detached
last-block features (for accuracy only). Same architecture and augmentations as the local rules,
so local vs global self-supervision can be told apart in the brain scores.

Reference: Chen, Kornblith, Norouzi & Hinton (2020) "A simple framework for contrastive learning of
visual representations", ICML, PMLR 119:1597-1607.
"""

from __future__ import annotations

from models.registry import register
from models.rules.base import RuleCard
from models.rules.self_supervised._ssl import InfoNCERule


@register
class SimCLR(InfoNCERule):
    card = RuleCard(
        family="baseline",
        addresses=("labels at every layer",),
        reference=(
            "Chen, Kornblith, Norouzi & Hinton (2020) A simple framework for contrastive "
            "learning of visual representations, ICML, PMLR 119:1597"
        ),
        notes=(
            "Self-supervised backprop control: NT-Xent on a Linear-ReLU-Linear projector of the "
            "last (dense) block, gradient through all blocks. Augmentations are "
            "tensor ops (shift crop, flip for colour images, brightness, noise), far weaker "
            "than SimCLR's colour distortion and resized crops; no batch norm. Linear readout on "
            "detached, running-standardised features with labels, for accuracy only; Adam "
            "instead of LARS."
        ),
    )
    blockwise = False
