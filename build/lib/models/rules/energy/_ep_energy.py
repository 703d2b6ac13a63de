"""Energy machinery shared by the energy-based rules (``eqprop``, ``chl``).

The blocks' outputs are *state variables* ``s_1..s_N`` (optionally plus an output state
``s_out`` driven by the readout). Their coupling is the primitive function of Laborieux et al.
(2021, Front Neurosci 15:633674), a layered Hopfield energy that also covers conv layers::

    Phi(x, s) = sum_n g_n <s_n, pool(op_n(s_{n-1}))>      (s_0 = x)   [+ g_out <s_out, readout(s_N)>]

and the states relax by the fixed-point iteration ``s_n <- rho_n(dPhi/ds_n / g_n)``: the bottom-up
drive ``pool(op_n(s_{n-1}))`` plus top-down feedback through the *same* (transposed) weights,
scaled by ``g_{n+1}/g_n``. ``rho`` is the block's activation bounded to ``[-bound, bound]`` (for
ReLU: the hard sigmoid of Laborieux et al.). ``dPhi/ds`` and ``dPhi/dW`` are taken with autograd on
the scalar ``Phi`` only: each is local (neighbouring layers' states / a synapse's pre- and
post-synaptic states), no gradient flows through a relaxation trajectory.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from models.arch import Net

States = list[torch.Tensor]


def rho(act: torch.nn.Module, u: torch.Tensor, bound: float, smooth: bool = False) -> torch.Tensor:
    """The state nonlinearity: the block's activation, bounded to ``[-bound, bound]``.

    A ReLU block bounded this way is the hard sigmoid ``min(max(u, 0), bound)``; with ``smooth`` it
    is ``bound * sigmoid(4 u / bound - 2)`` instead, the smooth curve with the same value and slope
    (1) at the centre ``u = bound / 2``. Other activations are only clipped.
    """
    if smooth and isinstance(act, torch.nn.ReLU):
        return bound * torch.sigmoid(4.0 * u / bound - 2.0)
    return act(u).clamp(-bound, bound)


def readout_input(s_last: torch.Tensor) -> torch.Tensor:
    """The readout's view of the last block's state: (n, ...) -> (n, features)."""
    return s_last.flatten(1)  # (n, c, h, w) or (n, d) -> (n, features)


def feedforward_states(net: Net, x: torch.Tensor, bound: float, smooth: bool = False) -> States:
    """States of one bottom-up pass (the fixed point when all feedback is ignored)."""
    states, prev = [], x
    for block in net.blocks:
        prev = rho(block.act, block.pool(block.op(block.prepare(prev))), bound, smooth)
        states.append(prev)
    return states


def primitive(
    net: Net, x: torch.Tensor, states: Sequence[torch.Tensor], gains: Sequence[float]
) -> torch.Tensor:
    """``Phi`` summed over the batch. ``states`` has one entry per block, plus ``s_out`` if longer."""
    phi, prev = x.new_zeros(()), x
    for block, s, g in zip(net.blocks, states, gains, strict=False):
        phi = phi + g * (s * block.pool(block.op(block.prepare(prev)))).sum()
        prev = s
    if len(states) > len(net.blocks):
        phi = phi + gains[-1] * (states[-1] * net.readout(readout_input(prev))).sum()
    return phi


def relax(
    net: Net,
    x: torch.Tensor,
    states: Sequence[torch.Tensor],
    steps: int,
    *,
    bound: float,
    gains: Sequence[float],
    nudge: Callable[[States], torch.Tensor] | None = None,
    out_act: Callable[[torch.Tensor], torch.Tensor] | None = None,
    clamp_out: torch.Tensor | None = None,
    smooth: bool = False,
) -> States:
    """``steps`` synchronous fixed-point updates of every state under ``Phi`` (+ ``nudge``).

    ``nudge(states)`` is an extra scalar added to ``Phi`` (e.g. ``-beta * loss``); with an output
    state, ``out_act`` is its nonlinearity and ``clamp_out`` (if given) holds it fixed.
    ``smooth`` selects the state nonlinearity of ReLU blocks (:func:`rho`). Returns detached states.
    """
    x = x.detach()
    states = [s.detach() for s in states]
    has_out = len(states) > len(net.blocks)
    for _ in range(steps):
        with torch.enable_grad():
            free = [s.requires_grad_() for s in states]
            phi = primitive(net, x, free, gains)
            if nudge is not None:
                phi = phi + nudge(free)
            drives = torch.autograd.grad(phi, free)
        new = [
            rho(b.act, d / g, bound, smooth)
            for b, d, g in zip(net.blocks, drives, gains, strict=False)
        ]
        if has_out:
            new.append(clamp_out if clamp_out is not None else out_act(drives[-1] / gains[-1]))
        states = [s.detach() for s in new]
    return states


def param_grads(
    net: Net,
    x: torch.Tensor,
    states: Sequence[torch.Tensor],
    gains: Sequence[float],
    nudge: Callable[[States], torch.Tensor] | None = None,
) -> list[torch.Tensor]:
    """``d(Phi + nudge)/dtheta`` at fixed (detached) states: per synapse, a correlation of its
    pre- and post-synaptic states (plus the nudge's local delta term for the readout)."""
    params = list(net.parameters())
    states = [s.detach() for s in states]
    with torch.enable_grad():
        phi = primitive(net, x.detach(), states, gains)
        if nudge is not None:
            phi = phi + nudge(states)
        grads = torch.autograd.grad(phi, params, allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads, strict=True)]
