"""Shared machinery of the perturbation rules (``wp``, ``np``): forward-only loss probes.

A clean forward pass caches every op's (prepared) input and pre-activation; a probe then re-runs the
network from one op's pre-activation onwards with a perturbation added there and returns the
per-example cross-entropy (the global loss of each trial). Nothing here builds an autograd graph.
"""

from __future__ import annotations

from abc import abstractmethod

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.grad import conv2d_weight

from models.arch import Net
from models.rules.base import Rule


def ops(net: Net) -> list[nn.Module]:
    """The affine ops in order: each block's ``op`` then the readout."""
    return [b.op for b in net.blocks] + [net.readout]


@torch.no_grad()
def clean_pass(net: Net, x: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Inputs (as each op sees them) and pre-activations of every op; the last pre-activation = logits."""
    inputs, pre = [], []
    h = x
    for block in net.blocks:
        inp = block.prepare(h)
        a = block.op(inp)
        inputs.append(inp)
        pre.append(a)
        h = block.pool(block.act(a))
    inp = h.flatten(1)  # (n, c, h, w) -> (n, c*h*w)
    inputs.append(inp)
    pre.append(net.readout(inp))
    return inputs, pre


@torch.no_grad()
def loss_from(net: Net, layer: int, a: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-example cross-entropy when op ``layer``'s pre-activation is ``a`` (rows of ``a`` match ``y``)."""
    n_blocks = len(net.blocks)
    if layer < n_blocks:
        block = net.blocks[layer]
        h = block.pool(block.act(a))
        for block in net.blocks[layer + 1 :]:
            h = block(h)
        a = net.readout(h.flatten(1))  # (m, c*h*w) -> (m, n_classes)
    return F.cross_entropy(a, y, reduction="none")


def repeat(t: torch.Tensor, k: int) -> torch.Tensor:
    """``t`` stacked ``k`` times along the batch: (n, ...) -> (k*n, ...)."""
    return t.repeat(k, *([1] * (t.dim() - 1)))


@torch.no_grad()
def probe(
    net: Net,
    layer: int,
    a: torch.Tensor,
    delta: torch.Tensor,
    y: torch.Tensor,
    antithetic: bool,
    base: torch.Tensor | None,
) -> torch.Tensor:
    """Directional loss change per probe: ``(L(a+d) - L(a-d)) / 2`` or ``L(a+d) - L(a)``.

    ``a``/``y``/``base`` are already repeated to the probes' batch (k*n rows).
    """
    if antithetic:
        both = loss_from(net, layer, torch.cat([a + delta, a - delta]), torch.cat([y, y]))
        lp, lm = both.chunk(2)
        return (lp - lm) / 2
    return loss_from(net, layer, a + delta, y) - base


def local_weight_grad(
    op: nn.Module, inp: torch.Tensor, delta: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Weight and bias gradient from a post-synaptic error ``delta`` and pre-synaptic ``inp`` (batch-summed)."""
    if isinstance(op, nn.Linear):
        return delta.t() @ inp, delta.sum(0)  # (out, n) @ (n, in) -> (out, in)
    return conv2d_weight(inp, op.weight.shape, delta, op.stride, op.padding), delta.sum((0, 2, 3))


class PerturbationRule(Rule):
    """Common hyper-parameters, optimiser and step of the perturbation rules."""

    def __init__(
        self,
        net: Net,
        *,
        lr: float = 1e-3,
        sigma: float = 0.01,
        n_samples: int | list[int] = 4,
        antithetic: bool = True,
        weight_decay: float = 0.0,
        grad_clip: float = 0.0,
        dim_scaling: float = 0.0,
        readout_lr: float | None = None,
        conv_lr: float | None = None,
        conv_every: int = 1,
        conv_samples: int | None = None,
    ):
        super().__init__(net)
        self._check_positive(lr=lr, sigma=sigma)
        n_ops = len(ops(net))
        if isinstance(n_samples, int):
            draws = [n_samples] * n_ops
        else:
            draws = list(n_samples) if isinstance(n_samples, list | tuple) else []
        self._check(
            "n_samples",
            n_samples,
            len(draws) == n_ops and all(isinstance(k, int) and k >= 1 for k in draws),
            f"an int >= 1, or a list of {n_ops} such ints (one per layer: blocks, then readout)",
        )
        self._check(
            "conv_samples",
            conv_samples,
            conv_samples is None or (isinstance(conv_samples, int) and conv_samples >= 1),
            "null (= n_samples) or an int >= 1",
        )
        if conv_samples is not None:  # conv layers' own count (each probe: a deep forward pass)
            draws = [
                conv_samples if isinstance(op, nn.Conv2d) else k
                for op, k in zip(ops(net), draws, strict=True)
            ]
        self._check("antithetic", antithetic, isinstance(antithetic, bool), "true or false")
        self._check("weight_decay", weight_decay, weight_decay >= 0, ">= 0")
        self._check("grad_clip", grad_clip, grad_clip >= 0, ">= 0 (0 = off)")
        self._check("dim_scaling", dim_scaling, 0 <= dim_scaling <= 1, "in [0, 1]")
        for name, value in (("readout_lr", readout_lr), ("conv_lr", conv_lr)):
            self._check(
                name,
                value,
                value is None or (isinstance(value, int | float) and value >= 0),
                "null (= lr) or >= 0",
            )
        self._check(
            "conv_every",
            conv_every,
            isinstance(conv_every, int) and conv_every >= 0,
            "an int >= 0 (0 = conv layers are never probed)",
        )
        self.readout_lr = lr if readout_lr is None else readout_lr
        self.conv_lr = lr if conv_lr is None else conv_lr
        self.conv_every = conv_every
        self.register_buffer("n_steps", torch.zeros((), dtype=torch.long))  # resumable
        self.lr, self.sigma, self.n_samples, self.antithetic = lr, sigma, n_samples, antithetic
        self.draws = draws  # perturbation draws per example, per op (blocks, then readout)
        self.weight_decay, self.grad_clip, self.dim_scaling = weight_decay, grad_clip, dim_scaling
        # The estimator's noise grows with the number of perturbed variables D_l of a layer; its step
        # size is lr * (D_readout / D_l) ** dim_scaling (0 = one lr for all layers).
        dims = self.perturbed_dims()
        groups = [
            {
                "params": list(op.parameters()),
                "lr": self._base_lr(op) * (dims[-1] / d) ** dim_scaling,
            }
            for op, d in zip(ops(net), dims, strict=True)
        ]
        self.optimizer = torch.optim.Adam(groups, lr=lr, weight_decay=weight_decay)

    def _base_lr(self, op: nn.Module) -> float:
        if op is self.net.readout:
            return self.readout_lr
        return self.conv_lr if isinstance(op, nn.Conv2d) else self.lr

    def _probed(self, op: nn.Module) -> bool:
        """Whether op is probed at this step (conv layers only every ``conv_every``-th step)."""
        if not isinstance(op, nn.Conv2d):
            return True
        return self.conv_every > 0 and self.conv_lr > 0 and int(self.n_steps) % self.conv_every == 0

    @abstractmethod
    def perturbed_dims(self) -> list[int]:
        """Number of perturbed variables per trial of each op (blocks then readout)."""

    @abstractmethod
    def estimate(
        self,
        layer: int,
        inp: torch.Tensor,
        a: torch.Tensor,
        y: torch.Tensor,
        base: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Gradient estimate (weight, bias) of the mean loss for op ``layer``."""

    @torch.no_grad()
    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        inputs, pre = clean_pass(self.net, x)
        loss = F.cross_entropy(pre[-1], y, reduction="none")
        for layer, op in enumerate(ops(self.net)):
            if not self._probed(op):
                continue
            base = None if self.antithetic else repeat(loss, self.draws[layer])
            gw, gb = self.estimate(layer, inputs[layer], pre[layer], y, base)
            if self.grad_clip > 0:
                norm = torch.sqrt(gw.square().sum() + gb.square().sum())
                scale = torch.clamp(self.grad_clip / (norm + 1e-12), max=1.0)
                gw, gb = gw * scale, gb * scale
            op.weight.grad, op.bias.grad = gw, gb
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.n_steps += 1
        return {"loss": float(loss.mean())}
