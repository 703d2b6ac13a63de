"""Local signalers with fixed random classifiers ("learning using local errors").

What is updated, from which signals: block ``k`` runs on a *detached* input and descends its own
loss ``CE(M_k flatten(h_k), y)``, where ``M_k`` is a *fixed* random classifier (a buffer drawn once
at init, never trained) from the block's flattened output to the classes. The error reaching a
unit of block ``k`` is therefore ``M_k^T (softmax - onehot)``: a fixed, broad random tuning of each
neuron to the categories, applied with the unit's own activation derivative. The readout is
trained with the cross-entropy on the detached last block output (it is the top layer's own
classifier). No gradient crosses a block boundary.

Reference: Mostafa, Ramesh & Cauwenberghs (2018) "Deep supervised learning using local errors",
Front. Neurosci. 12:608.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from models.registry import register
from models.rules._local_util import LocalLossesStep, block_out_shapes, decoupled_forward, one_hot
from models.rules.base import Rule, RuleCard


@register
class LocalSignal(LocalLossesStep, Rule):
    card = RuleCard(
        family="explicit local non-synergistic",
        addresses=(
            "global feedback pathway",
            "update locking",
            "non-local updates",
        ),
        reference=(
            "Mostafa, Ramesh & Cauwenberghs (2018) Deep supervised learning using local "
            "errors, Front. Neurosci. 12:608"
        ),
        notes=(
            "Each block's output (after pooling; conv maps flattened) feeds a fixed random "
            "linear classifier M_k ~ U(-s, s)/sqrt(fan_in) (a buffer, never trained); the block "
            "descends CE (loss: ce) or squared error to the one-hot label (loss: mse) of that "
            "classifier on a detached input. Needs labels at every layer. The error reaching the "
            "block is M_k^T (softmax - onehot): the exact transpose of its fixed classifier, so "
            "weight transport is not addressed (it is moved into each layer's local circuit). The readout is a "
            "trained linear classifier on the detached last block. No dropout/BN (shared net); "
            "Adam."
        ),
    )

    def __init__(
        self,
        net,
        *,
        lr: float = 1e-3,
        loss: str = "ce",
        classifier_scale: float = 1.0,
        weight_decay: float = 0.0,
    ):
        super().__init__(net)
        self._check_positive(lr=lr, classifier_scale=classifier_scale)
        self._check("loss", loss, loss in ("ce", "mse"), "'ce' or 'mse'")
        self._check("weight_decay", weight_decay, weight_decay >= 0, ">= 0")
        self.lr, self.loss, self.classifier_scale = lr, loss, classifier_scale
        self.weight_decay = weight_decay
        for k, shape in enumerate(block_out_shapes(net)):
            n_in = math.prod(shape)
            bound = classifier_scale / math.sqrt(n_in)
            m = (torch.rand(net.n_classes, n_in) * 2 - 1) * bound  # (n_classes, features)
            self.register_buffer(f"classifier{k}", m.to(net.readout.weight.device))
        self.optimizer = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)

    def classifier(self, k: int) -> torch.Tensor:
        """Fixed random classifier of block ``k``: (n_classes, flattened block output)."""
        return getattr(self, f"classifier{k}")

    def _loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.loss == "ce":
            return F.cross_entropy(logits, y)
        return 0.5 * (logits - one_hot(y, logits.shape[1], logits)).pow(2).sum(1).mean()

    def local_losses(self, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
        """One loss per block (detached input, fixed classifier), then the readout's CE."""
        _, outputs = decoupled_forward(self.net, x)
        losses = [
            self._loss(h.flatten(1) @ self.classifier(k).t(), y)  # (n, D) -> (n, classes)
            for k, h in enumerate(outputs)
        ]
        losses.append(F.cross_entropy(self.net.readout(outputs[-1].detach().flatten(1)), y))
        return losses
