"""Local synaptic building blocks shared by the ``hebbian``, ``hebb3f`` and ``rstdp`` rules.

Everything here works on one block and on tensors that are detached from every other layer:
``outer`` is the Hebbian correlation sum_n post_n (x) pre_n for a dense or convolutional op (for a
conv, summed over positions, i.e. the weight-shaped correlation of each output map with its input
patches), ``soft_hebb_step`` is the SoftHebb plasticity of Journe et al. (2023, ICLR) /
Moraitis et al. (2022): a soft winner-take-all (softmax over the neurons, per position for convs)
gates an Oja-like update dw_k = eta_k * y_k * (x - u_k w_k), and ``SoftHebbBlocks`` runs it on every
hidden block of a net, each block reading its input relative to that input's running mean.
"""

from __future__ import annotations

import torch
from torch import nn


def outer(op: nn.Module, pre: torch.Tensor, post: torch.Tensor) -> torch.Tensor:
    """sum over examples (and positions) of post (x) pre, shaped like ``op.weight``.

    ``pre`` is what ``op`` reads (n, in) or (n, c, h, w); ``post`` is shaped like ``op(pre)``.
    """
    if isinstance(op, nn.Linear):
        return post.t() @ pre  # (out, n) @ (n, in) -> (out, in)
    if isinstance(op, nn.Conv2d):
        return torch.nn.grad.conv2d_weight(
            pre,
            op.weight.shape,
            post,
            stride=op.stride,
            padding=op.padding,
            dilation=op.dilation,
            groups=op.groups,
        )
    raise TypeError(f"local plasticity supports nn.Linear and nn.Conv2d, not {type(op).__name__}")


def per_neuron(w: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """Scale each output neuron's weights (row / filter) by ``c`` (out,)."""
    return w * c.view(-1, *([1] * (w.dim() - 1)))  # (out,) -> (out, 1[, 1, 1])


def running_mean_rate(n_batches: int) -> float:
    """Update rate of a label-free running mean after ``n_batches`` batches: the cumulative mean of
    the first 10 batches, then an exponential moving average with rate 0.1."""
    return max(1.0 / float(n_batches), 0.1)


def _channels(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A per-feature (dense) or per-channel (conv) vector shaped to broadcast against ``like``."""
    return v.view(1, -1, *([1] * (like.dim() - 2)))


def drive_of(op: nn.Module, m: torch.Tensor) -> torch.Tensor:
    """W m: each neuron's drive (bias aside) from an input equal to ``m`` everywhere (out,)."""
    return op.weight.flatten(2).sum(2) @ m if isinstance(op, nn.Conv2d) else op.weight @ m


@torch.no_grad()
def soft_hebb_step(
    op: nn.Module,
    x: torch.Tensor,
    *,
    lr: float,
    temperature: float,
    anti_hebbian: bool = False,
    pre_mean: torch.Tensor | None = None,
    subtractive: bool = False,
) -> dict[str, float]:
    """Apply one SoftHebb update to ``op.weight`` from its own (detached) input ``x``.

    u = op(x) (bias included), y = softmax(z / temperature) over the neurons (channels at each
    position), z = u standardised over the neurons (so the temperature does not depend on the
    input's scale), dW_k = sum_n y_k (x_n - u_k w_k); the update is divided by its largest magnitude
    and scaled per neuron by eta_k = lr * sqrt(|1 - ||w_k|| |), which drives every weight vector
    to unit norm (Journe et al. 2023). With ``anti_hebbian`` every neuron but the winner (the
    largest u, per example and position) takes the opposite sign, y_k -> -y_k: SoftHebb's soft
    anti-Hebbian plasticity for the losers. With ``pre_mean`` m (the input's running mean, per
    feature or per input channel) the Hebbian term reads x - m (the covariance form, Sejnowski
    1977) and the bias is then set to -W m, so every neuron's drive is u = W (x - m): the centring
    half of SoftHebb's non-affine batch norm, kept in the net's own bias. Without it biases are not
    plastic. With ``subtractive`` each neuron's Hebbian term is made zero-sum over its synapses
    (subtractive normalisation, Miller & MacKay 1994): y_k (x_i - mean_j x_j), the mean over the
    neuron's own inputs (its receptive-field patch in a conv, zero padding included), so a
    weight vector's mean component only decays and the filters cannot all become the mean patch.
    Uses only x, m, u, y and W.
    """
    w = op.weight
    u = op(x)  # (n, out) or (n, out, h, w)
    z = (u - u.mean(1, keepdim=True)) / (u.std(1, keepdim=True) + 1e-6)  # over neurons: scale-free
    y = torch.softmax(z / temperature, dim=1)  # (n, out[, h, w]): soft WTA over neurons / channels
    if anti_hebbian:
        win = u.argmax(1, keepdim=True)  # (n, 1[, h, w]): the winner per example / position
        loser = torch.ones_like(y, dtype=torch.bool).scatter_(1, win, False)
        y = torch.where(loser, -y, y)
    pre = x if pre_mean is None else x - _channels(pre_mean, x)
    hebb = outer(op, pre, y)  # (out, ...) like w
    if subtractive:  # heterosynaptic: every synapse of neuron k gives up its share of the total
        hebb = hebb - hebb.mean(dim=tuple(range(1, hebb.dim())), keepdim=True)
    dims = [0] + list(range(2, u.dim()))
    yu = (y * u).sum(dim=dims)  # (out,)
    delta = hebb - per_neuron(w, yu)
    delta = delta / (delta.abs().amax() + 1e-30)
    radius = w.flatten(1).norm(dim=1)  # (out,)
    eta = lr * (radius - 1.0).abs().clamp_min(1e-10).sqrt()
    w.add_(per_neuron(delta, eta))
    if pre_mean is not None:
        op.bias.copy_(-drive_of(op, pre_mean))
    return {"winner_share": float(y.abs().amax(dim=1).mean())}


class SoftHebbBlocks(nn.Module):
    """Mixin for a ``Rule``: SoftHebb on every hidden block, layer by layer, each block learning
    from its own detached input. Each block's input mean (per feature, or per channel for a conv)
    is a label-free running buffer: the cumulative mean of the first 10 batches, then an
    exponential moving average with rate 0.1."""

    def init_plasticity(self, centre: bool, subtractive: bool) -> None:
        """Set the blocks' plasticity options, the rule's ``centre_inputs`` and
        ``subtractive_norm``, and register one running input mean per hidden block (read when
        ``centre``)."""
        self._check("centre_inputs", centre, isinstance(centre, bool), "a bool")
        self._check("subtractive_norm", subtractive, isinstance(subtractive, bool), "a bool")
        self.centre, self.subtractive = centre, subtractive
        for i, block in enumerate(self.net.blocks):
            n_in = block.op.weight.shape[1]  # in_features, or in_channels of a conv
            self.register_buffer(f"input_mean{i}", torch.zeros(n_in))
        self.register_buffer("hebb_batches", torch.zeros((), dtype=torch.long))

    def derived_parameters(self) -> set[str]:
        """With ``centre_inputs`` every block's bias is ``-W m`` (m: its input's running mean)."""
        if not self.centre:
            return set()
        return {f"net.blocks.{i}.op.bias" for i in range(len(self.net.blocks))}

    @torch.no_grad()
    def soft_hebb_blocks(
        self, x: torch.Tensor, *, lr: float, temperature: float, anti_hebbian: bool = False
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """One unsupervised pass: every block learns, then feeds the next; returns the last
        block's output flattened (n, features) and each block's mean winner share."""
        self.hebb_batches += 1
        rate = running_mean_rate(int(self.hebb_batches))
        stats: dict[str, float] = {}
        for i, block in enumerate(self.net.blocks):
            pre = block.prepare(x).detach()
            mean = None
            if self.centre:
                mean = getattr(self, f"input_mean{i}")
                dims = [0] + list(range(2, pre.dim()))
                mean.lerp_(pre.mean(dim=dims), rate)
            stats[f"{block.name}_winner"] = soft_hebb_step(
                block.op,
                pre,
                lr=lr,
                temperature=temperature,
                anti_hebbian=anti_hebbian,
                pre_mean=mean,
                subtractive=self.subtractive,
            )["winner_share"]
            x = block(pre)
        return x.flatten(1), stats
