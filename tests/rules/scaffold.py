"""Shared scaffolding of the rule tests: seeded random batches and a guard on block inputs."""

from __future__ import annotations

import torch

SHAPE = (1, 28, 28)


def random_batch(n: int = 16, seed: int = 0, shape: tuple[int, ...] = SHAPE):
    """``n`` standard-normal images of ``shape`` and random labels of 10 classes, from ``seed``."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, *shape, generator=g), torch.randint(0, 10, (n,), generator=g)


def guard_block_inputs(net) -> tuple[list[bool], list]:
    """Record, for every block or readout call made with autograd on, whether its input is free of
    another graph (True) or still attached to one (False); returns the record and the hook handles."""
    calls: list[bool] = []

    def hook(mod, args):
        if torch.is_grad_enabled():
            calls.append(args[0].grad_fn is None)

    return calls, [m.register_forward_pre_hook(hook) for m in [*net.blocks, net.readout]]


def step_with_block_guard(
    rule, x: torch.Tensor, y: torch.Tensor, n_calls: int | None = None
) -> None:
    """One ``train_step`` in which every block and the readout must run on a graph-free input
    (and, given ``n_calls``, exactly that many block/readout calls are made with autograd on)."""
    calls, handles = guard_block_inputs(rule.net)
    try:
        rule.train_step(x, y)
    finally:
        for h in handles:
            h.remove()
    assert calls and all(calls), "a block ran on an input still attached to another block's graph"
    if n_calls is not None:
        assert len(calls) == n_calls, f"{len(calls)} block/readout calls, expected {n_calls}"
