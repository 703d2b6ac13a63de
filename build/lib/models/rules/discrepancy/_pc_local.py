"""Shared machinery of the discrepancy-reduction rules (dtp, lra, pc, ngc).

* ``BackwardMap``: a module that maps a block's *output* back to the shape of the block's *input*
  (dense: a linear map; conv: nearest-neighbour un-pooling then a same-padding convolution; the first
  dense block after a conv stack: a linear map reshaped to the conv volume). dtp uses it as a learned
  approximate inverse, lra as a fixed random error-feedback pathway, ngc as a top-down generative
  prediction.
* ``forward_record``: the detached activity of every block (and its pooled pre-activation).
* ``local_block_loss``: the sum over blocks of ``0.5 * ||block(h_{l-1}.detach()) - t_l||^2`` (per
  example, batch-averaged), whose gradient reaches each block's own weights only.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from models.arch import Block, Net


def block_io_shapes(net: Net) -> list[tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]]:
    """Per block: (input shape, op-output shape before pooling, block-output shape), without batch."""
    shapes = []
    with torch.no_grad():
        p = next(net.parameters())
        h = torch.zeros(1, *net.in_shape, device=p.device, dtype=p.dtype)  # (1, *in_shape)
        for block in net.blocks:
            a = block.op(block.prepare(h))
            out = block.pool(block.act(a))
            shapes.append((tuple(h.shape[1:]), tuple(a.shape[1:]), tuple(out.shape[1:])))
            h = out
    return shapes


class BackwardMap(nn.Module):
    """Maps a block's output (n, *out_shape) to its input's shape (n, *in_shape)."""

    def __init__(
        self,
        block: Block,
        in_shape: tuple[int, ...],
        pre_pool_shape: tuple[int, ...],
        out_shape: tuple[int, ...],
        bias: bool = True,
    ):
        super().__init__()
        self.in_shape, self.pre_pool_shape = tuple(in_shape), tuple(pre_pool_shape)
        if isinstance(block.op, nn.Conv2d):
            k = block.op.kernel_size[0]
            self.map = nn.Conv2d(out_shape[0], in_shape[0], k, padding=k // 2, bias=bias)
            self.kind = "conv"
        else:
            n_in = int(torch.tensor(in_shape).prod())
            self.map = nn.Linear(int(torch.tensor(out_shape).prod()), n_in, bias=bias)
            self.kind = "dense"

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        if self.kind == "conv":
            # (n, c_out, H/2, W/2) -> (n, c_out, H, W): undo the 2x2 max-pool by nearest up-sampling
            up = F.interpolate(h, size=self.pre_pool_shape[1:], mode="nearest")
            return self.map(up)  # (n, c_in, H, W)
        out = self.map(h.flatten(1))  # (n, prod(out_shape)) -> (n, prod(in_shape))
        return out.view(h.shape[0], *self.in_shape)  # (n, *in_shape), e.g. (n, c, h, w) after convs


def backward_maps(net: Net, skip_first: bool = False, bias: bool = True) -> nn.ModuleList:
    """One ``BackwardMap`` per block (the first one left out when ``skip_first``)."""
    maps = []
    for i, (block, (s_in, s_pre, s_out)) in enumerate(
        zip(net.blocks, block_io_shapes(net), strict=True)
    ):
        if skip_first and i == 0:
            continue
        maps.append(BackwardMap(block, s_in, s_pre, s_out, bias=bias))
    return nn.ModuleList(maps)


@torch.no_grad()
def forward_record(net: Net, x: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """``hs = [x, h_1, .., h_L]`` (block outputs) and ``us = [u_1, .., u_L]`` (pooled pre-activations).

    Max-pooling commutes with the (monotone) activations, so ``h_l = act(u_l)``.
    """
    hs, us = [x], []
    for block in net.blocks:
        u = block.pool(block.op(block.prepare(hs[-1])))
        us.append(u)
        hs.append(block.act(u))
    return hs, us


def sq_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``0.5 * ||pred - target||^2`` summed over units, averaged over the batch."""
    return 0.5 * (pred - target).pow(2).flatten(1).sum(1).mean()  # (n, ...) -> (n, d) -> scalar


def local_block_loss(
    net: Net, inputs: list[torch.Tensor], targets: list[torch.Tensor | None]
) -> torch.Tensor:
    """Sum of each block's own loss on a detached input; ``None`` targets are skipped."""
    total = None
    for block, h_in, t in zip(net.blocks, inputs, targets, strict=True):
        if t is None:
            continue
        loss = sq_loss(block(h_in.detach()), t.detach())
        total = loss if total is None else total + loss
    return total
