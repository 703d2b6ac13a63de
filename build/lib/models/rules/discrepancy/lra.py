"""Local representation alignment, error-driven (LRA-E).

The output error ``e_out = softmax(z_out) - onehot(y)`` trains the readout (its own cross-entropy on
the detached last block) and is carried down by *fixed random* error-feedback maps E: the target of
block l is ``t_l = act(u_l - beta * E_{l+1}(e_{l+1}))`` (u_l: the block's pooled pre-activation), and
its local error is ``e_l = h_l - t_l``. Each block then reduces ``0.5 * ||block_l(h_{l-1}) - t_l||^2``
on a detached input, i.e. ``dW_l ∝ (e_l ⊙ act'(u_l)) h_{l-1}^T``: no gradient crosses a block.
References: Ororbia & Mali (2019) AAAI 33:4651-4658 "Biologically motivated algorithms for
propagating local target representations"; Ororbia, Mali, Kifer & Giles (2023) IEEE TNNLS
"Backpropagation-free deep learning with recursive local representation alignment" / conv LRA.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from models.registry import register
from models.rules.base import Rule, RuleCard
from models.rules.discrepancy._pc_local import backward_maps, forward_record, local_block_loss


@register
class LocalRepresentationAlignment(Rule):
    card = RuleCard(
        family="explicit local synergistic: discrepancy reduction",
        addresses=(
            "weight transport",
            "non-local updates",
            "derivative transport",
        ),
        reference="Ororbia & Mali (2019) AAAI 33:4651; Ororbia et al. (2023) conv LRA (arXiv:2303.09728)",
        notes=(
            "LRA-E with fixed random error feedback E (drawn once, never trained). Targets are formed "
            "in pre-activation space and squashed by the block's activation (max-pool commutes with "
            "the monotone activations, so conv targets live in the pooled map). Conv feedback maps "
            "are fixed random convolutions after nearest-neighbour un-pooling; the conv->dense "
            "feedback is a fixed linear map reshaped to the conv volume. One target pass per "
            "minibatch (K=1 as in the paper's fast variant); Adam on each local loss. Update "
            "locking is not addressed: targets are built layer by layer from the top, so a block's "
            "target waits for the forward pass and for every target above it."
        ),
    )

    def __init__(self, net, *, lr: float = 1e-3, beta: float = 0.1, feedback_scale: float = 1.0):
        super().__init__(net)
        self._check_positive(lr=lr, beta=beta, feedback_scale=feedback_scale)
        self.lr, self.beta, self.feedback_scale = lr, beta, feedback_scale
        # feedback[i - 1] carries block i's error to block i-1's output (i >= 1); fixed
        self.feedback = backward_maps(net, skip_first=True, bias=False)
        # the readout's error (n, n_classes) -> last block's output
        n_top = net.readout.in_features
        self.feedback_out = nn.Linear(net.n_classes, n_top, bias=False)
        with torch.no_grad():
            for p in list(self.feedback.parameters()) + list(self.feedback_out.parameters()):
                p.mul_(feedback_scale)
        for p in list(self.feedback.parameters()) + list(self.feedback_out.parameters()):
            p.requires_grad_(False)
        self.optimizer = torch.optim.Adam(net.parameters(), lr=lr)

    @torch.no_grad()
    def targets(
        self, hs: list[torch.Tensor], us: list[torch.Tensor], e_out: torch.Tensor
    ) -> list[torch.Tensor]:
        """Block targets, top-down: ``t_l = act(u_l - beta * E(e_{l+1}))``, ``e_l = h_l - t_l``."""
        blocks = self.net.blocks
        d = self.feedback_out(e_out).view_as(hs[-1])  # (n, n_classes) -> (n, *shape of h_L)
        ts = [None] * len(blocks)
        for i in range(len(blocks) - 1, -1, -1):
            ts[i] = blocks[i].act(us[i] - self.beta * d)
            if i > 0:
                d = self.feedback[i - 1](
                    hs[i + 1] - ts[i]
                )  # local error e_i -> block i's input shape
        return ts

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        self.optimizer.zero_grad(set_to_none=True)
        hs, us = forward_record(self.net, x)
        logits = self.net.readout(hs[-1].flatten(1))  # (n, ...) -> (n, d) -> (n, n_classes)
        loss = F.cross_entropy(logits, y)
        e_out = logits.detach().softmax(1) - F.one_hot(y, logits.shape[1]).to(logits.dtype)
        ts = self.targets(hs, us, e_out)
        local = local_block_loss(self.net, hs[:-1], ts)
        (loss + local).backward()
        self.optimizer.step()
        return {"loss": float(loss.detach()), "target_loss": float(local.detach())}
