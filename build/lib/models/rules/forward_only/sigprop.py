"""Signal propagation (SigProp): the target is sent through the same forward path as the input.

Updated: each block's weights (and, at the first block, the target embedding), from a local loss at
that block only. Every class label is projected by a learned embedding to the input's shape and
passed forward through the same blocks as the input images, side by side. At each block, an image's
representation is compared with the representations of the class targets (cosine similarity /
temperature as logits, cross-entropy with the true class): it is pulled towards its own class's
target signal and away from the others'. Inputs of each block (image stream and target stream) are
detached, so no gradient crosses a block boundary and there is no backward pass. The readout is
the output layer, trained by the cross-entropy on the detached, RMS-normalised top block (the last layer's own
local loss). Reference: Kohan, Rietman & Siegelmann (2023) "Signal propagation: the framework for
learning and inference in a forward pass", IEEE TNNLS, doi:10.1109/TNNLS.2022.3230914.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from models.registry import register
from models.rules._local_util import NamedLossesStep
from models.rules.base import Rule, RuleCard
from models.rules.forward_only._ff_common import normalize, readout_loss


@register
class SignalPropagation(NamedLossesStep, Rule):
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
        reference="Kohan, Rietman & Siegelmann (2023) Signal propagation: the framework for learning "
        "and inference in a forward pass, IEEE TNNLS, doi:10.1109/TNNLS.2022.3230914",
        notes="Targets = learned linear embedding of the one-hot label to the input shape (fixed "
        "random with learn_embedding=false), forwarded through the same blocks as the input. "
        "Local loss per block: cross-entropy over classes of cos(h_x, h_t[c]) / temperature "
        "(the class-target comparison of the paper's 'target-as-prototype' loss); inputs of "
        "every block detached. Readout = output layer trained by its own cross-entropy on "
        "the detached, RMS-normalised top block (the cosine loss leaves the activity scale free); prediction and layers() are the plain forward pass. Works "
        "unchanged on MLP and CNN. Adam.",
    )

    def __init__(
        self,
        net,
        *,
        lr: float = 1e-3,
        readout_lr: float = 1e-3,
        temperature: float = 0.1,
        learn_embedding: bool = True,
        weight_decay: float = 0.0,
    ):
        super().__init__(net)
        self._check_positive(lr=lr, readout_lr=readout_lr, temperature=temperature)
        self._check(
            "learn_embedding", learn_embedding, isinstance(learn_embedding, bool), "true or false"
        )
        self._check("weight_decay", weight_decay, weight_decay >= 0, ">= 0")
        self.lr, self.readout_lr, self.temperature = lr, readout_lr, temperature
        self.learn_embedding, self.weight_decay = learn_embedding, weight_decay
        n_in = int(torch.tensor(net.in_shape).prod())
        self.embed = nn.Linear(net.n_classes, n_in, bias=False)  # one target image per class
        nn.init.normal_(self.embed.weight, std=1.0)
        self.embed.weight.requires_grad_(learn_embedding)
        readout = list(net.readout.parameters())
        local = [
            p for p in self.parameters() if p.requires_grad and all(p is not q for q in readout)
        ]
        self.optimizer = torch.optim.Adam(
            [{"params": local}, {"params": readout, "lr": readout_lr}],
            lr=lr,
            weight_decay=weight_decay,
        )

    def targets(self) -> torch.Tensor:
        """The class target signals in the input's shape: (n_classes, *in_shape)."""
        return self.embed.weight.t().reshape(
            self.net.n_classes, *self.net.in_shape
        )  # (C, D) -> (C, c, h, w)

    def local_losses(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """One loss per block (its image stream vs its target stream) and ``"out"`` for the readout."""
        h_x, h_t = x, self.targets().to(x.dtype)
        losses = {}
        for i, block in enumerate(self.net.blocks):
            if i > 0:  # each block only sees detached inputs: no gradient crosses a block boundary
                h_x, h_t = h_x.detach(), h_t.detach()
            h_x, h_t = block(h_x), block(h_t)
            sim = (
                F.normalize(h_x.flatten(1), dim=1) @ F.normalize(h_t.flatten(1), dim=1).t()
            )  # (n, C)
            losses[block.name] = F.cross_entropy(sim / self.temperature, y)
        losses["out"] = readout_loss(self.net.readout, normalize(h_x), y)
        return losses

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.readout(normalize(self.net.features(x)))
