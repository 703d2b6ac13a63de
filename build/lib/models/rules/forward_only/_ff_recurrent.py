"""Recurrent forward-forward machinery shared by rff and pff (not a rule: leading underscore).

The blocks of the shared net are the bottom-up weights; ``TopDown`` modules carry the (normalised)
state of the layer above at the previous iteration into a block's pre-activation, the label sits
above the top block. States are updated synchronously and damped over a fixed number of
iterations; each block learns from its own goodness at the last iteration, its inputs detached.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from models.rules._local_util import NamedLossesStep
from models.rules.base import Rule
from models.rules.forward_only._ff_common import (
    ff_loss,
    goodness,
    normalize,
    readout_loss,
    wrong_labels,
)


def block_shapes(net) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """(op-output shape, block-output shape) of every block, without the batch dimension."""
    shapes, h = [], torch.zeros(1, *net.in_shape)
    with torch.no_grad():
        for block in net.blocks:
            pre = block.op(block.prepare(h))
            h = block.pool(block.act(pre))
            shapes.append((tuple(pre.shape[1:]), tuple(h.shape[1:])))
    return shapes


class Projection(nn.Module):
    """Maps a state of shape ``src`` to one of shape ``dst`` (a top-down or generative pathway).

    dense -> dense: linear; dense -> map: linear to channels broadcast over positions (``spatial``
    False) or to the whole map; map -> map: nearest upsampling to ``dst`` then a k x k convolution.
    """

    def __init__(
        self, src: tuple[int, ...], dst: tuple[int, ...], *, spatial: bool, kernel: int = 1
    ):
        super().__init__()
        self.src, self.dst, self.spatial = src, dst, spatial
        n_src, n_dst = int(torch.tensor(src).prod()), int(torch.tensor(dst).prod())
        if len(dst) == 3 and len(src) == 3:
            self.op = nn.Conv2d(src[0], dst[0], kernel, padding=kernel // 2)
        elif len(dst) == 3 and not spatial:
            self.op = nn.Linear(n_src, dst[0])
        else:
            self.op = nn.Linear(n_src, n_dst)

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        if len(self.dst) == 3 and len(self.src) == 3:
            s = F.interpolate(
                s, size=self.dst[1:], mode="nearest"
            )  # (n, C', h', w') -> (n, C', h, w)
            return self.op(s)  # (n, C, h, w)
        out = self.op(s.flatten(1))  # (n, D_src) -> (n, D_out)
        if len(self.dst) == 3 and not self.spatial:
            return out[:, :, None, None]  # (n, C) -> (n, C, 1, 1): broadcast over positions
        return out.view(-1, *self.dst)  # (n, prod(dst)) -> (n, *dst)


class RecurrentFFBase(NamedLossesStep, Rule):
    """Recurrent FF over the shared blocks: image at the bottom, label at the top (Hinton 2022, sec. 4)."""

    def __init__(
        self,
        net,
        *,
        lr: float,
        threshold: float,
        iterations: int,
        damping: float,
        label_scale: float,
        readout_lr: float,
        predict_mode: str,
        weight_decay: float,
    ):
        super().__init__(net)
        self._check_positive(lr=lr, label_scale=label_scale, readout_lr=readout_lr)
        self._check(
            "threshold", threshold, isinstance(threshold, int | float) and threshold >= 0, ">= 0"
        )
        self._check(
            "iterations", iterations, isinstance(iterations, int) and iterations >= 1, "an int >= 1"
        )
        self._check(
            "damping", damping, isinstance(damping, int | float) and 0 <= damping < 1, "in [0, 1)"
        )
        self._check(
            "predict_mode",
            predict_mode,
            predict_mode in ("goodness", "softmax"),
            "'goodness' or 'softmax'",
        )
        self._check("weight_decay", weight_decay, weight_decay >= 0, ">= 0")
        self.lr, self.threshold, self.iterations, self.damping = lr, threshold, iterations, damping
        self.label_scale, self.readout_lr, self.predict_mode = label_scale, readout_lr, predict_mode
        self.weight_decay = weight_decay
        self.shapes = block_shapes(net)
        above = [s[1] for s in self.shapes[1:]] + [
            (net.n_classes,)
        ]  # state (or label) above each block
        self.top_down = nn.ModuleList(
            Projection(src, pre, spatial=False)
            for src, (pre, _) in zip(above, self.shapes, strict=True)
        )

    def _optimizer(self) -> torch.optim.Optimizer:
        readout = list(self.net.readout.parameters())
        local = [p for p in self.parameters() if all(p is not q for q in readout)]
        return torch.optim.Adam(
            [{"params": local}, {"params": readout, "lr": self.readout_lr}],
            lr=self.lr,
            weight_decay=self.weight_decay,
        )

    def _update(self, i: int, below: torch.Tensor, above: torch.Tensor) -> torch.Tensor:
        """New state of block ``i`` from the normalised layer below and the layer above."""
        block = self.net.blocks[i]
        pre = block.op(block.prepare(below)) + self.top_down[i](above)
        return block.pool(block.act(pre))

    def settle(
        self, x: torch.Tensor, label: torch.Tensor, grad_last: bool = False
    ) -> list[torch.Tensor]:
        """States after a bottom-up sweep and ``iterations`` damped synchronous updates.

        ``label`` (n, n_classes) is clamped above the top block. With ``grad_last`` the last
        update is differentiable w.r.t. each block's own weights only (its inputs are detached).
        """
        label = self.label_scale * label.to(x.dtype)
        with torch.no_grad():
            states, h = [], normalize(x)
            for block in self.net.blocks:  # initial bottom-up sweep, no top-down input yet
                h = block(h)
                states.append(h)
                h = normalize(h)
            for t in range(self.iterations):
                last = t == self.iterations - 1
                with torch.set_grad_enabled(grad_last and last):
                    below = [normalize(x)] + [normalize(s.detach()) for s in states[:-1]]
                    above = [normalize(s.detach()) for s in states[1:]] + [label]
                    states = [
                        self.damping * s.detach() + (1 - self.damping) * self._update(i, b, a)
                        for i, (s, b, a) in enumerate(zip(states, below, above, strict=True))
                    ]
        return states

    def _onehot(self, y: torch.Tensor) -> torch.Tensor:
        return F.one_hot(y, self.net.n_classes)

    def _neutral(self, x: torch.Tensor) -> torch.Tensor:
        return torch.full(
            (x.shape[0], self.net.n_classes), 1.0 / self.net.n_classes, device=x.device
        )

    def ff_losses(
        self, x: torch.Tensor, y: torch.Tensor
    ) -> tuple[dict[str, torch.Tensor], list[torch.Tensor]]:
        """Goodness loss of each block (key = block name, owned by the block and its top-down
        pathway), the readout's loss (``"out"``), and the settled positive states."""
        pos = self.settle(x, self._onehot(y), grad_last=True)
        neg = self.settle(x, self._onehot(wrong_labels(y, self.net.n_classes)), grad_last=True)
        losses = {
            b.name: ff_loss(goodness(p), goodness(q), self.threshold)
            for b, p, q in zip(self.net.blocks, pos, neg, strict=True)
        }
        if self.predict_mode == "softmax":
            top = self.settle(x, self._neutral(x))[-1]
            losses["out"] = readout_loss(self.net.readout, normalize(top), y)
        return losses, pos

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        if self.predict_mode == "softmax":
            return self.net.readout(normalize(self.settle(x, self._neutral(x))[-1]).flatten(1))
        scores = []
        for c in range(self.net.n_classes):
            y = torch.full((x.shape[0],), c, dtype=torch.long, device=x.device)
            scores.append(sum(goodness(s) for s in self.settle(x, self._onehot(y))))  # (n,)
        return torch.stack(scores, dim=1)  # n_classes x (n,) -> (n, n_classes)

    def feedforward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The bottom-up sweep that starts every settling (length-normalised block inputs, no
        top-down input)."""
        outs, h = [], normalize(x)
        for block in self.net.blocks:
            outs.append(block(h))
            h = normalize(outs[-1])
        return outs

    def readout_states(self, x: torch.Tensor, kind: str) -> list[torch.Tensor]:
        """``settled``: the states after settling under the neutral label."""
        return self.settle(x, self._neutral(x))
