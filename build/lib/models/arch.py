"""The layer stacks every learning rule shares, so rules differ only in credit assignment.

A network is a list of *blocks* (an affine ``op``, an activation, an optional pooling) followed by a
linear ``readout``. Rules reach into ``net.blocks[i].op`` for weights and call ``block(x)`` or
``block.op(x)`` for their own forward passes; ``forward_layers`` gives the activations that are
compared with the brain.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "leaky_relu": nn.LeakyReLU}


def _activation(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise ValueError(f"activation={name!r} is unknown; choose one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


class Block(nn.Module):
    """One layer: ``pool(act(op(flatten?(x))))``; ``name`` is the layer's id in outputs."""

    def __init__(
        self,
        name: str,
        op: nn.Module,
        act: nn.Module,
        pool: nn.Module | None = None,
        flatten: bool = False,
    ):
        super().__init__()
        self.name, self.op, self.act = name, op, act
        self.pool = pool if pool is not None else nn.Identity()
        self.flatten = flatten

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """The input as ``op`` sees it (flattened for a dense layer after a conv stack)."""
        return x.flatten(1) if self.flatten else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.act(self.op(self.prepare(x))))


class Net(nn.Module):
    """Blocks then a linear readout; ``layer_names`` lists blocks then ``"out"``."""

    def __init__(self, blocks: Sequence[Block], readout: nn.Linear, in_shape: Sequence[int]):
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.readout = readout
        self.in_shape = tuple(in_shape)
        self.n_classes = readout.out_features

    @property
    def layer_names(self) -> list[str]:
        return [b.name for b in self.blocks] + ["out"]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The last block's output, flattened: the readout's input."""
        for block in self.blocks:
            x = block(x)
        return x.flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.readout(self.features(x))

    def forward_layers(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every layer's activation (post-nonlinearity; ``out`` = logits), in order."""
        acts = {}
        for block in self.blocks:
            x = block(x)
            acts[block.name] = x
        acts["out"] = self.readout(x.flatten(1))
        return acts


def mlp(
    in_shape: Sequence[int],
    n_classes: int,
    *,
    hidden: Sequence[int] = (512, 256),
    activation: str = "relu",
) -> Net:
    """Fully connected stack: flatten, ``len(hidden)`` hidden layers ``fc1..``, readout."""
    if not hidden or any(int(h) < 1 for h in hidden):
        raise ValueError(f"hidden={list(hidden)!r} must be a non-empty list of positive widths")
    n_in = int(torch.tensor(in_shape).prod())
    blocks, width = [], n_in
    for i, h in enumerate(hidden):
        blocks.append(
            Block(f"fc{i + 1}", nn.Linear(width, int(h)), _activation(activation), flatten=(i == 0))
        )
        width = int(h)
    return Net(blocks, nn.Linear(width, n_classes), in_shape)


def cnn(
    in_shape: Sequence[int],
    n_classes: int,
    *,
    channels: Sequence[int] = (32, 64, 128),
    hidden: int = 256,
    kernel_size: int = 3,
    activation: str = "relu",
) -> Net:
    """Conv stack ``conv1..`` (k×k, same padding, 2×2 max-pool each), one dense ``fc1``, readout."""
    if not channels or any(int(c) < 1 for c in channels):
        raise ValueError(f"channels={list(channels)!r} must be a non-empty list of positive counts")
    if kernel_size % 2 != 1:
        raise ValueError(f"kernel_size={kernel_size} must be odd (same padding)")
    c, h, w = in_shape
    blocks = []
    for i, n_out in enumerate(channels):
        conv = nn.Conv2d(c, int(n_out), kernel_size, padding=kernel_size // 2)
        blocks.append(Block(f"conv{i + 1}", conv, _activation(activation), nn.MaxPool2d(2)))
        c, h, w = int(n_out), h // 2, w // 2
    if h < 1 or w < 1:
        raise ValueError(f"{len(channels)} pooling stages are too many for input {tuple(in_shape)}")
    blocks.append(Block("fc1", nn.Linear(c * h * w, hidden), _activation(activation), flatten=True))
    return Net(blocks, nn.Linear(hidden, n_classes), in_shape)


ARCHS = {"mlp": mlp, "cnn": cnn}


def build(arch: str, in_shape: Sequence[int], n_classes: int, **params) -> Net:
    """Build a shared architecture by name (``"mlp"`` or ``"cnn"``)."""
    if arch not in ARCHS:
        raise ValueError(f"arch={arch!r} is unknown; choose one of {sorted(ARCHS)}")
    return ARCHS[arch](in_shape, n_classes, **params)
