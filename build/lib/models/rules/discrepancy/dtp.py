"""Difference target propagation (DTP).

Each block l gets a *target* t_l for its output h_l and moves its own weights to reduce
``0.5 * ||block_l(h_{l-1}) - t_l||^2`` on a detached input, so no gradient crosses a block boundary.
The top hidden target is a small step down the cross-entropy gradient w.r.t. h_L (through the readout
only): ``t_L = h_L - beta * dCE/dh_L``; lower targets use the learned approximate inverses g_l with
the difference correction ``t_{l-1} = h_{l-1} + g_l(t_l) - g_l(h_l)``. Each inverse g_l is trained on
a noise-corrupted reconstruction loss ``||g_l(f_l(h_{l-1} + eps)) - (h_{l-1} + eps)||^2`` (f_l frozen
there). The readout learns from its own cross-entropy on the detached h_L.
Reference: Lee, Zhang, Fischer & Bengio (2015) ECML-PKDD, "Difference Target Propagation".
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from models.registry import register
from models.rules.base import Rule, RuleCard
from models.rules.discrepancy._pc_local import (
    backward_maps,
    forward_record,
    local_block_loss,
    sq_loss,
)


@register
class DifferenceTargetProp(Rule):
    card = RuleCard(
        family="explicit local synergistic: discrepancy reduction",
        addresses=("non-local updates", "derivative transport"),
        reference="Lee, Zhang, Fischer & Bengio (2015) ECML-PKDD, LNCS 9284:498-515",
        notes=(
            "Targets via learned inverses with the difference correction; every block trained on its "
            "own squared target loss (detached input), inverses on noisy reconstruction. Inverses are "
            "linear (g(h) = V h + c) rather than tanh so they can produce ReLU-range activity; conv "
            "blocks are inverted by nearest-neighbour un-pooling followed by a same-padding "
            "convolution (c_out -> c_in), the conv->dense block by a linear map reshaped to the conv "
            "volume. The top target uses the gradient of the cross-entropy through the readout only, "
            "i.e. through the readout's transposed weights W_out^T, so weight transport is not "
            "addressed (the inverses replace W^T only below the top hidden layer). Adam on every local loss; optional L2 decay of the forward weights "
            "(the paper-scale config) bounds the growth of activity that otherwise outruns the "
            "inverses. Two-phase (forward, then target) and signed targets remain."
        ),
    )

    def __init__(
        self,
        net,
        *,
        lr: float = 1e-3,
        lr_inverse: float = 1e-3,
        beta: float = 0.5,
        noise: float = 0.3,
        weight_decay: float = 0.0,
    ):
        super().__init__(net)
        self._check_positive(lr=lr, lr_inverse=lr_inverse, beta=beta)
        self._check("noise", noise, isinstance(noise, int | float) and noise >= 0, ">= 0")
        self._check("weight_decay", weight_decay, weight_decay >= 0, ">= 0")
        self.lr, self.lr_inverse, self.beta, self.noise = lr, lr_inverse, beta, noise
        self.weight_decay = weight_decay
        # inverses[i - 1] inverts blocks[i] (i >= 1): block output shape -> block input shape
        self.inverses = backward_maps(net, skip_first=True)
        self.optimizer = torch.optim.Adam(
            [
                {"params": list(net.parameters()), "lr": lr, "weight_decay": weight_decay},
                {"params": list(self.inverses.parameters()), "lr": lr_inverse},
            ]
        )

    @torch.no_grad()
    def targets(self, hs: list[torch.Tensor], top: torch.Tensor) -> list[torch.Tensor]:
        """Targets of every block's output, from the top target down (difference correction)."""
        ts = [None] * len(self.net.blocks)
        ts[-1] = top
        for i in range(len(self.net.blocks) - 1, 0, -1):
            g = self.inverses[i - 1]
            ts[i - 1] = hs[i] + g(ts[i]) - g(hs[i + 1])
        return ts

    def top_target(self, h_top: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``h_L - beta * dCE/dh_L`` per example (through the readout only) and the mean CE loss.

        The gradient is of each example's own loss (summed, not batch-averaged), so the target step
        does not shrink with the batch size.
        """
        h = h_top.detach().requires_grad_(True)
        loss = F.cross_entropy(self.net.readout(h.flatten(1)), y, reduction="sum")  # (n, d)
        (grad,) = torch.autograd.grad(loss, h)
        return (h - self.beta * grad).detach(), loss.detach() / len(y)

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        self.optimizer.zero_grad(set_to_none=True)
        hs, _ = forward_record(self.net, x)
        top, ce = self.top_target(hs[-1], y)
        ts = self.targets(hs, top)
        # readout: its own cross-entropy on the detached last block
        loss = F.cross_entropy(self.net.readout(hs[-1].flatten(1)), y)  # (n, ...) -> (n, d)
        fwd = local_block_loss(self.net, hs[:-1], ts)
        # inverses: noisy reconstruction, forward block frozen (computed without a graph)
        rec = None
        for i in range(1, len(self.net.blocks)):
            noisy = hs[i] + self.noise * torch.randn_like(hs[i])
            with torch.no_grad():
                fx = self.net.blocks[i](noisy)
            r = sq_loss(self.inverses[i - 1](fx), noisy)
            rec = r if rec is None else rec + r
        total = loss + fwd + (rec if rec is not None else 0.0)
        total.backward()
        self.optimizer.step()
        out = {"loss": float(ce), "target_loss": float(fwd.detach())}
        if rec is not None:
            out["reconstruction"] = float(rec.detach())
        return out
