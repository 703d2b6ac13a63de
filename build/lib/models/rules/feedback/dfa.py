"""Direct feedback alignment (DFA).

The output error ``e = softmax(z) - onehot(y)`` (the cross-entropy gradient at the logits) is broadcast
to every hidden block through that block's own fixed random matrix ``B_l``; the block receives
``B_l e`` as the error of its output ``h_l`` (for a conv block ``B_l`` maps ``e`` to the full
``(c, h, w)`` output map) and applies only its own activation derivative (and max-pool routing):
``delta_l = pool^T(B_l e) * f'(a_l)``, ``dW_l = delta_l x h_{l-1}^T``. The readout learns from ``e``
directly. Each block is run on a detached input, so no gradient crosses a block boundary.
Reference: Nokland (2016) NeurIPS 29, "Direct feedback alignment provides learning in deep neural
networks".
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from models.registry import register
from models.rules.base import RuleCard
from models.rules.feedback._feedback import FixedFeedbackRule


@register
class DirectFeedbackAlignment(FixedFeedbackRule):
    card = RuleCard(
        family="explicit global",
        addresses=(
            "weight transport",
            "global feedback pathway",
            "update locking",
            "non-local updates",
        ),
        reference="Nokland (2016) NeurIPS 29: Direct feedback alignment provides learning in deep neural networks",
        notes=(
            "Output error broadcast to each hidden block through a fixed random matrix B_l of shape "
            "(n_classes, *block_output_shape); injected at the block output (after pooling), so a conv "
            "block gets a full (c, h, w) error map and routes it through its own max-pool and f'. "
            "Blocks see detached inputs (no inter-layer gradient). Adam on the DFA pseudo-gradients. "
            "Conv layers learn more slowly with DFA than dense ones (Launay et al. 2019)."
        ),
    )

    def __init__(self, net, **options):
        """``options``: lr, weight_decay, feedback_scale, optimizer, momentum (``FixedFeedbackRule``)."""
        super().__init__(net, **options)
        n_cls = net.n_classes
        with torch.no_grad():
            dev = net.readout.weight.device
            h = torch.zeros(1, *net.in_shape, device=dev)
            for i, block in enumerate(net.blocks):
                h = block(h)  # (1, *block_output_shape)
                # Entries ~ U(-s, s) / sqrt(n_classes): each unit gets an O(|e|) error.
                b = (
                    (torch.rand(n_cls, *h.shape[1:], device=dev) * 2 - 1)
                    * self.feedback_scale
                    / math.sqrt(n_cls)
                )
                self.register_buffer(f"feedback{i}", b)

    def feedback(self, i: int) -> torch.Tensor:
        """Fixed feedback of block ``i``: shape (n_classes, *block_output_shape)."""
        return getattr(self, f"feedback{i}")

    def local_forward(self, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Block outputs and logits, each block (and the readout) run on a detached input."""
        outs = []
        h = x
        for block in self.net.blocks:
            h = block(h.detach())
            outs.append(h)
        return outs, self.net.readout(h.detach().flatten(1))  # (n, c*h*w) -> (n, n_classes)

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        self.opt.zero_grad(set_to_none=True)
        outs, logits = self.local_forward(x)
        loss = F.cross_entropy(logits, y)
        with torch.no_grad():
            e = torch.softmax(logits, 1) - F.one_hot(y, logits.shape[1]).to(logits.dtype)
            e = e / len(y)  # (n, n_classes): gradient of the mean cross-entropy at the logits
        # Surrogate whose gradient w.r.t. block l's output is B_l e (inputs are detached, so it stays local).
        total = loss
        for i, h in enumerate(outs):
            fb = self.feedback(i).flatten(1)  # (n_classes, *shape) -> (n_classes, D)
            err = (e @ fb).view_as(h)  # (n, D) -> (n, *shape)
            total = total + (h * err).sum()
        total.backward()
        self.opt.step()
        return {"loss": float(loss.detach())}
