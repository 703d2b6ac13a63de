"""Feedback alignment (FA).

Every weight (hidden blocks and readout) is updated from the product of its own pre-synaptic input
and the error arriving at its post-synaptic units, as in backprop, but the error is sent down to the
layer below through a fixed random feedback matrix ``B`` (same shape as the forward weight ``W``)
instead of ``W^T``: ``delta_in = delta_out @ B``. For a conv layer the input-gradient convolution uses
a fixed random kernel ``B`` in place of the forward kernel. Activation derivatives and max-pool
routing are applied locally, as in the original rule. Reference: Lillicrap, Cownden, Tweed &
Akerman (2016) Nat Commun 7:13276.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.grad import conv2d_input, conv2d_weight

from models.registry import register
from models.rules.base import RuleCard
from models.rules.feedback._feedback import FixedFeedbackRule


class _FALinear(torch.autograd.Function):
    """``x @ W^T + b`` whose backward sends the error down through ``B`` instead of ``W``."""

    @staticmethod
    def forward(ctx, x, weight, bias, feedback):
        ctx.save_for_backward(x, feedback)
        return F.linear(x, weight, bias)

    @staticmethod
    def backward(ctx, grad_out):
        x, feedback = ctx.saved_tensors
        grad_x = grad_out @ feedback  # (n, out) @ (out, in) -> (n, in)
        grad_w = grad_out.t() @ x  # local: post-synaptic error x pre-synaptic activity
        return grad_x, grad_w, grad_out.sum(0), None


class _FAConv2d(torch.autograd.Function):
    """``conv2d(x, W) + b`` whose input gradient is the transposed convolution with kernel ``B``."""

    @staticmethod
    def forward(ctx, x, weight, bias, feedback, stride, padding):
        ctx.save_for_backward(x, feedback)
        ctx.conf = (weight.shape, stride, padding)
        return F.conv2d(x, weight, bias, stride, padding)

    @staticmethod
    def backward(ctx, grad_out):
        x, feedback = ctx.saved_tensors
        w_shape, stride, padding = ctx.conf
        grad_x = conv2d_input(x.shape, feedback, grad_out, stride, padding)
        grad_w = conv2d_weight(x, w_shape, grad_out, stride, padding)
        return grad_x, grad_w, grad_out.sum((0, 2, 3)), None, None, None


def fa_op(op: nn.Module, feedback: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Apply the forward op ``op`` to ``x`` with feedback weights ``feedback`` in the backward pass."""
    if isinstance(op, nn.Linear):
        return _FALinear.apply(x, op.weight, op.bias, feedback)
    if isinstance(op, nn.Conv2d):
        return _FAConv2d.apply(x, op.weight, op.bias, feedback, op.stride, op.padding)
    raise TypeError(f"feedback alignment supports Linear and Conv2d ops, not {type(op).__name__}")


@register
class FeedbackAlignment(FixedFeedbackRule):
    card = RuleCard(
        family="explicit global",
        addresses=("weight transport",),
        reference="Lillicrap, Cownden, Tweed & Akerman (2016) Nat Commun 7:13276",
        notes=(
            "Fixed random feedback B (same shape as W) replaces W^T in the backward pass of every "
            "layer, including the readout; conv layers use a fixed random kernel in the "
            "input-gradient convolution (the conv extension of Nokland 2016 / Bartunov et al. 2018). "
            "Still a layer-by-layer backward pass with activation derivatives; Adam on the FA "
            "pseudo-gradient. Works with any activation."
        ),
    )

    def __init__(self, net, **options):
        """``options``: lr, weight_decay, feedback_scale, optimizer, momentum (``FixedFeedbackRule``)."""
        super().__init__(net, **options)
        self.ops = [b.op for b in net.blocks] + [net.readout]
        for i, op in enumerate(self.ops):
            w = op.weight
            # Same distribution as the default (Kaiming-uniform) init of W, drawn independently.
            bound = self.feedback_scale / math.sqrt(w[0].numel())
            self.register_buffer(f"feedback{i}", (torch.rand_like(w) * 2 - 1) * bound)

    def feedback(self, i: int) -> torch.Tensor:
        """The fixed feedback matrix/kernel of op ``i`` (blocks in order, then the readout)."""
        return getattr(self, f"feedback{i}")

    def forward_fa(self, x: torch.Tensor) -> torch.Tensor:
        """Logits whose autograd backward is the feedback-alignment backward pass."""
        for i, block in enumerate(self.net.blocks):
            x = block.pool(block.act(fa_op(block.op, self.feedback(i), block.prepare(x))))
        return fa_op(self.net.readout, self.feedback(len(self.ops) - 1), x.flatten(1))  # (n, feat)

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        self.opt.zero_grad(set_to_none=True)
        logits = self.forward_fa(x)
        loss = F.cross_entropy(logits, y)
        loss.backward()
        self.opt.step()
        return {"loss": float(loss.detach())}
