"""Decoupled neural interfaces: every block learns from a synthetic gradient (DNI / cDNI).

What is updated, from which signals:
* block ``k`` (weights of ``net.blocks[k].op``) descends ``<h_k, g_k>`` where ``g_k = M_k(h_k, y)``
  is the synthetic gradient predicted by its own synthetic-gradient module from the block's output
  (and, for cDNI, the label). The block's input is detached, so no error from the blocks above or
  the loss reaches it: it is updated as soon as its forward pass is done (no update locking).
* the readout is the output layer: it gets the true gradient of the cross-entropy (on a detached
  input).
* ``M_k`` regresses (squared error) the gradient arriving at ``h_k`` from the next stage: for the
  last block the true gradient ``dL/dh_K`` from the readout, otherwise the bootstrapped synthetic
  gradient ``J_{k+1}^T g_{k+1}`` that block ``k+1`` sends down through its own Jacobian.
Synthetic gradients are modelled per example (the batch-mean gradient times the batch size).

Reference: Jaderberg et al. (2017) "Decoupled Neural Interfaces using Synthetic Gradients", ICML
(PMLR 70:1627-1635); Czarnecki et al. (2017) ICML for the analysis.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from models.registry import register
from models.rules._local_util import block_out_shapes, decoupled_forward, one_hot
from models.rules.base import Rule, RuleCard


class SyntheticGradient(nn.Module):
    """``M(h, y)``: a map from a block's output (and label) to a predicted dL/dh of the same shape.

    Dense outputs (n, d): linear (``hidden=0``) or one-hidden-layer ReLU MLP on ``[h, onehot(y)]``.
    Conv outputs (n, c, h, w): 3x3 convs (same padding); the label enters the first layer as a
    learned per-class map (width, h, w), i.e. the model stays linear in ``[h, onehot(y)]``.
    The last layer starts at zero, so training begins with zero synthetic gradients (as published).
    """

    def __init__(self, shape: tuple[int, ...], n_classes: int, hidden: int, conditioned: bool):
        super().__init__()
        self.conv, self.n_classes, self.conditioned = len(shape) == 3, n_classes, conditioned
        c = shape[0]
        width = hidden if hidden > 0 else c
        self.label_shape = (width, *shape[1:])  # (width,) or (width, h, w)
        if self.conv:
            self.first = nn.Conv2d(c, width, 3, padding=1)
            self.second = nn.Conv2d(hidden, c, 3, padding=1) if hidden > 0 else None
        else:
            self.first = nn.Linear(c, width)
            self.second = nn.Linear(hidden, c) if hidden > 0 else None
        n_label = width * (shape[1] * shape[2] if self.conv else 1)
        self.label = nn.Linear(n_classes, n_label, bias=False) if conditioned else None
        last = self.second if self.second is not None else self.first
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        if self.label is not None and self.second is None:
            nn.init.zeros_(self.label.weight)

    def forward(self, h: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        z = self.first(h)
        if self.label is not None:
            lab = self.label(one_hot(y, self.n_classes, h))  # (n, width[*h*w])
            z = z + lab.view(-1, *self.label_shape)  # (n, width[, h, w])
        if self.second is not None:
            z = self.second(torch.relu(z))
        return z


@register
class DNI(Rule):
    card = RuleCard(
        family="explicit local non-synergistic",
        addresses=("update locking", "global feedback pathway", "non-local updates"),
        reference="Jaderberg et al. (2017) Decoupled Neural Interfaces using Synthetic Gradients, "
        "ICML, PMLR 70:1627",
        notes="Every block (conv or dense) has its own synthetic-gradient module (cDNI: conditioned "
        "on the label by default); blocks update from it alone, SG modules regress the "
        "bootstrapped gradient from the block above (true gradient at the last block). The "
        "readout is trained on the true cross-entropy gradient. All modules are updated in "
        "the same step (the synchronous simulation of DNI). SG modules are linear in [h, y] by "
        "default (a 3x3 conv plus a per-class map for conv blocks); sg_hidden>0 adds a ReLU "
        "hidden layer. Adam for the network (lr) and the SG modules (sg_lr). Learns slowly "
        "at first: blocks only move once their SG modules have learned (zero init).",
    )

    def __init__(
        self,
        net,
        *,
        lr: float = 5e-4,
        sg_lr: float = 3e-3,
        conditioned: bool = True,
        sg_hidden: int = 0,
        weight_decay: float = 0.0,
    ):
        super().__init__(net)
        self._check_positive(lr=lr, sg_lr=sg_lr)
        self._check("conditioned", conditioned, isinstance(conditioned, bool), "a bool")
        self._check(
            "sg_hidden", sg_hidden, isinstance(sg_hidden, int) and sg_hidden >= 0, "an int >= 0"
        )
        self._check("weight_decay", weight_decay, weight_decay >= 0, ">= 0")
        self.lr, self.sg_lr, self.conditioned = lr, sg_lr, conditioned
        self.sg_hidden, self.weight_decay = sg_hidden, weight_decay
        self.synth = nn.ModuleList(
            SyntheticGradient(s, net.n_classes, sg_hidden, conditioned)
            for s in block_out_shapes(net)
        )
        self.optimizer = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)
        self.sg_optimizer = torch.optim.Adam(self.synth.parameters(), lr=sg_lr)

    def synthetic_gradients(
        self, outputs: list[torch.Tensor], y: torch.Tensor
    ) -> list[torch.Tensor]:
        """Per-example synthetic gradients ``M_k(h_k, y)`` for every block output (graph into M)."""
        return [m(h.detach(), y) for m, h in zip(self.synth, outputs, strict=True)]

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        self.optimizer.zero_grad(set_to_none=True)
        self.sg_optimizer.zero_grad(set_to_none=True)
        n = x.shape[0]
        inputs, outputs = decoupled_forward(self.net, x, input_grad=True)
        feats = outputs[-1].detach().flatten(1).requires_grad_(True)  # (n, d_last)
        loss = F.cross_entropy(self.net.readout(feats), y)
        synth = self.synthetic_gradients(outputs, y)
        # Blocks: descend <h_k, g_k / n> (batch-mean of per-example synthetic gradients); readout:
        # the true loss. Inputs are detached leaves, so each term only reaches its own block.
        surrogate = (
            loss + sum((h * g.detach()).sum() for h, g in zip(outputs, synth, strict=True)) / n
        )
        surrogate.backward()
        # Targets: what the next stage sends down (per example, hence * n).
        targets = [a.grad * n for a in inputs[1:]]
        targets.append(feats.grad.view_as(outputs[-1]) * n)  # (n, *shape of last block)
        sg_loss = (
            sum(((g - t.detach()) ** 2).sum() for g, t in zip(synth, targets, strict=True)) / n
        )
        sg_loss.backward()
        self.optimizer.step()
        self.sg_optimizer.step()
        return {"loss": float(loss.detach()), "sg_loss": float(sg_loss.detach())}
