"""Recurrent forward-forward (RFF): layers settle with bottom-up and top-down input, then learn locally.

Updated: each block's bottom-up weights and its top-down pathway from the layer above, from that
block's own forward-forward goodness loss. The image is clamped at the bottom and the label (true
for positive data, a random wrong label for negative data) above the top block; all layers are
updated synchronously for a fixed number of iterations from the length-normalised states of the
layers below and above at the previous iteration, damped (new = damping * old + (1 - damping) *
update). The goodness loss is applied at the last iteration with every input detached, so no
gradient crosses a layer. Prediction: a linear softmax readout on the settled top layer under a
neutral label (one settling), or the label whose settling gives the most goodness.
Reference: Hinton (2022) "The forward-forward algorithm: some preliminary investigations",
arXiv:2212.13345, section 4 (a recurrent network with top-down effects, MNIST as a video).
"""

from __future__ import annotations

import torch

from models.registry import register
from models.rules.base import RuleCard
from models.rules.forward_only._ff_recurrent import RecurrentFFBase


@register
class RecurrentForwardForward(RecurrentFFBase):
    card = RuleCard(
        family="explicit local synergistic: forward-only",
        addresses=(
            "weight transport",
            "global feedback pathway",
            "update locking",
            "non-local updates",
            "two-phase training",
            "derivative transport",
            "signed error transmission",
        ),
        reference="Hinton (2022) The forward-forward algorithm: some preliminary investigations, "
        "arXiv:2212.13345, sec. 4 (recurrent FF with top-down input)",
        notes="Top-down pathways: linear (dense), or 1x1 conv + nearest upsampling (conv maps); "
        "dense -> conv top-down input is a per-channel bias. Label (one-hot x label_scale) "
        "clamped above the top block. Initial bottom-up sweep, then `iterations` synchronous "
        "damped updates; goodness (mean square) loss at the last iteration only (Hinton "
        "averages iterations 3-5 over 8 iterations; cheaper here). Adam. predict_mode "
        "'softmax' (default: one neutral-label settling, linear readout trained on the "
        "detached top state) or 'goodness' (one settling per label).",
        layer_readouts={"settled": "the states after settling under the neutral label"},
    )

    def __init__(
        self,
        net,
        *,
        lr: float = 1e-3,
        threshold: float = 0.5,
        iterations: int = 3,
        damping: float = 0.3,
        label_scale: float = 1.0,
        readout_lr: float = 1e-3,
        predict_mode: str = "softmax",
        weight_decay: float = 0.0,
        layer_readout: str = "feedforward",
    ):
        super().__init__(
            net,
            lr=lr,
            threshold=threshold,
            iterations=iterations,
            damping=damping,
            label_scale=label_scale,
            readout_lr=readout_lr,
            predict_mode=predict_mode,
            weight_decay=weight_decay,
        )
        self._set_layer_readout(layer_readout)
        self.optimizer = self._optimizer()

    def local_losses(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """One goodness loss per block and the readout's loss (``"out"``)."""
        return self.ff_losses(x, y)[0]
