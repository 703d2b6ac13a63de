"""Helpers shared by the block-local rules: decoupled forward passes and one-optimiser local steps.

Not a rule (the leading underscore keeps the registry away). A *decoupled* forward pass feeds each
block a detached copy of the previous block's output, so autograd can never carry an error from a
block back into the blocks below it. ``LocalLossesStep`` (local_loss, hsic, local_signal) and
``NamedLossesStep`` (ff, rff, pff, sigprop) are the ``train_step`` of rules that sum such local
losses and take one optimiser step.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from models.arch import Net


@torch.no_grad()
def block_out_shapes(net: Net) -> list[tuple[int, ...]]:
    """Per-sample output shape of every block (one dummy forward on zeros; consumes no RNG)."""
    x = torch.zeros(1, *net.in_shape)  # (1, *in_shape)
    shapes = []
    for block in net.blocks:
        x = block(x)
        shapes.append(tuple(x.shape[1:]))
    return shapes


def decoupled_forward(
    net: Net, x: torch.Tensor, input_grad: bool = False
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Run the blocks with a detached input each; return (block inputs, block outputs).

    Every block input is a fresh leaf (``detach()``), so the graph of block ``i`` starts at its own
    input. With ``input_grad`` the inputs of blocks 2.. require grad, so ``.grad`` on them holds the
    error a block would send downwards (used by DNI to bootstrap its synthetic-gradient targets).
    """
    inputs, outputs = [], []
    h = x
    for i, block in enumerate(net.blocks):
        a = h.detach()
        if input_grad and i > 0:
            a.requires_grad_(True)
        h = block(a)
        inputs.append(a)
        outputs.append(h)
    return inputs, outputs


def one_hot(y: torch.Tensor, n_classes: int, like: torch.Tensor) -> torch.Tensor:
    """One-hot labels (n, n_classes) with the dtype/device of ``like``."""
    return F.one_hot(y.long(), n_classes).to(dtype=like.dtype, device=like.device)


class LocalLossesStep:
    """``train_step`` of rules whose blocks each descend their own loss on a detached input.

    The class provides ``local_losses(x, y)`` (one loss per block, the readout's last) and one
    ``optimizer`` over all parameters; the graphs are disjoint, so one backward of the sum is one
    backward per block and no gradient crosses a block boundary.
    """

    metric_prefix = "local"

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        self.optimizer.zero_grad(set_to_none=True)
        losses = self.local_losses(x, y)
        sum(losses).backward()
        self.optimizer.step()
        out = {
            f"{self.metric_prefix}_{i + 1}": float(v.detach()) for i, v in enumerate(losses[:-1])
        }
        out["loss"] = float(losses[-1].detach())
        return out


class NamedLossesStep:
    """``train_step`` of rules whose ``local_losses(x, y)`` returns ``{name: loss}`` on disjoint graphs.

    One backward of the sum is one backward per local loss; one ``optimizer`` takes the step and the
    metrics are ``loss_<name>`` (the forward-forward family and signal propagation).
    """

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        self.optimizer.zero_grad(set_to_none=True)
        losses = self.local_losses(x, y)
        sum(losses.values()).backward()
        self.optimizer.step()
        return {f"loss_{k}": float(v.detach()) for k, v in losses.items()}
