"""Local error signals ("predsim"): every block is trained by its own supervised local loss.

What is updated, from which signals: block ``k`` and its two auxiliary heads descend
``(1 - beta) * CE(W_k pool(h_k), y) + beta * ||S(s_k(h_k)) - S(onehot(y))||^2 / n^2`` where ``h_k`` is
the block's output computed from a *detached* input, ``W_k`` a local linear classifier on the
(average-pooled, at most ``dim_in_decoder`` features) output, ``S`` the cosine-similarity matrix of
mean-centred vectors across the minibatch, and ``s_k`` the identity for dense blocks or, for conv
blocks, a learned 3x3 conv followed by the per-channel standard deviation over space. The readout
is trained with the cross-entropy on the detached last block output. No gradient crosses a block
boundary; the label reaches each block only through its own local loss.

Reference: Nøkland & Eidnes (2019) "Training Neural Networks with Local Error Signals", ICML
(PMLR 97:4839-4850).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from models.registry import register
from models.rules._local_util import LocalLossesStep, block_out_shapes, decoupled_forward, one_hot
from models.rules.base import Rule, RuleCard


def similarity_matrix(x: torch.Tensor) -> torch.Tensor:
    """Cosine similarity (n, n) of the mean-centred rows of ``x``; conv maps use channel stds."""
    if x.dim() == 4 and x.shape[2] * x.shape[3] > 1:
        x = x.flatten(2).std(dim=2)  # (n, c, h*w) -> (n, c)
    x = x.flatten(1)  # (n, features)
    xc = x - x.mean(dim=1, keepdim=True)
    xn = xc / (xc.norm(dim=1, keepdim=True) + 1e-8)
    return (xn @ xn.t()).clamp(-1, 1)


def _pooled_size(shape: tuple[int, ...], max_features: int) -> tuple[int, int] | None:
    """Spatial size after the average pooling that brings a conv map to <= max_features."""
    if len(shape) != 3:
        return None
    c, h, w = shape
    k = 1
    while c * math.ceil(h / k) * math.ceil(w / k) > max_features and k < max(h, w):
        k *= 2
    return math.ceil(h / k), math.ceil(w / k)


class LocalHeads(nn.Module):
    """The two auxiliary heads of one block: local classifier and similarity-space map."""

    def __init__(self, shape: tuple[int, ...], n_classes: int, max_features: int):
        super().__init__()
        self.pool_to = _pooled_size(shape, max_features)
        n_feat = shape[0] * self.pool_to[0] * self.pool_to[1] if self.pool_to else shape[0]
        self.classifier = nn.Linear(n_feat, n_classes)
        self.sim = nn.Conv2d(shape[0], shape[0], 3, padding=1) if len(shape) == 3 else nn.Identity()

    def logits(self, h: torch.Tensor) -> torch.Tensor:
        if self.pool_to is not None:
            h = F.adaptive_avg_pool2d(h, self.pool_to)  # (n, c, ph, pw)
        return self.classifier(h.flatten(1))  # (n, features) -> (n, n_classes)

    def similarity(self, h: torch.Tensor) -> torch.Tensor:
        return similarity_matrix(self.sim(h))


@register
class LocalLoss(LocalLossesStep, Rule):
    card = RuleCard(
        family="explicit local non-synergistic",
        addresses=("update locking", "global feedback pathway", "non-local updates"),
        reference="Nøkland & Eidnes (2019) Training Neural Networks with Local Error Signals, "
        "ICML, PMLR 97:4839",
        notes="predsim: each block minimises (1-beta)*local-classifier CE + beta*similarity "
        "matching on a detached input; autograd only inside a block and its own heads. "
        "Conv blocks: classifier on the average-pooled map (<= dim_in_decoder features), "
        "similarity on a 3x3 conv + spatial std (as published). Needs labels at every "
        "layer. No batch-norm/dropout (the shared net has none). The local heads use exact "
        "gradients (the paper's feedback-alignment 'bio' variant is not implemented). Adam.",
    )

    def __init__(
        self,
        net,
        *,
        lr: float = 2e-3,
        beta: float = 0.5,
        dim_in_decoder: int = 2048,
        weight_decay: float = 0.0,
    ):
        super().__init__(net)
        self._check_positive(lr=lr)
        self._check("beta", beta, isinstance(beta, int | float) and 0 <= beta <= 1, "in [0, 1]")
        self._check(
            "dim_in_decoder",
            dim_in_decoder,
            isinstance(dim_in_decoder, int) and dim_in_decoder >= 1,
            "an int >= 1",
        )
        self._check("weight_decay", weight_decay, weight_decay >= 0, ">= 0")
        self.lr, self.beta, self.dim_in_decoder, self.weight_decay = (
            lr,
            beta,
            dim_in_decoder,
            weight_decay,
        )
        self.heads = nn.ModuleList(
            LocalHeads(s, net.n_classes, dim_in_decoder) for s in block_out_shapes(net)
        )
        self.optimizer = torch.optim.Adam(self.parameters(), lr=lr, weight_decay=weight_decay)

    def local_losses(self, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
        """One loss per block (on a detached input), then the readout's cross-entropy."""
        _, outputs = decoupled_forward(self.net, x)
        target_sim = similarity_matrix(one_hot(y, self.net.n_classes, x))  # (n, n)
        losses = []
        for head, h in zip(self.heads, outputs, strict=True):
            loss = x.new_zeros(())
            if self.beta < 1:
                loss = loss + (1 - self.beta) * F.cross_entropy(head.logits(h), y)
            if self.beta > 0:
                loss = loss + self.beta * F.mse_loss(head.similarity(h), target_sim)
            losses.append(loss)
        feats = outputs[-1].detach().flatten(1)  # (n, d_last)
        losses.append(F.cross_entropy(self.net.readout(feats), y))
        return losses
