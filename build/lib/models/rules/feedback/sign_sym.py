"""Sign-symmetric feedback ("sign-concordant feedback", asymmetric backprop).

Every weight is updated like backprop (post-synaptic error x pre-synaptic input, with the local
activation derivative and max-pool routing), but the error is sent down through the feedback
matrix ``B_t = sign(W_t) * |R|``: it shares only the *sign* of the current forward weight ``W_t``
(tracked at every step), while its magnitudes ``|R|`` are fixed at initialisation (random,
"RndF", or one constant per layer, "uniform sign-concordant feedback"). The magnitude of ``W`` is
never transported. For conv layers the input-gradient convolution uses the kernel
``sign(W) * |R|``. Reference: Liao, Leibo & Poggio (2016) "How important is weight symmetry in
backpropagation?", AAAI-16, 1837-1844.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from models.registry import register
from models.rules.base import Rule, RuleCard
from models.rules.feedback.fa import fa_op


@register
class SignSymmetry(Rule):
    card = RuleCard(
        family="explicit global",
        addresses=("weight transport",),
        reference=(
            "Liao, Leibo & Poggio (2016) How important is weight symmetry in "
            "backpropagation? AAAI-16:1837"
        ),
        notes=(
            "Feedback B = sign(W) * |R| for every layer including the readout: the sign follows "
            "the current forward weight, the magnitudes |R| are fixed at init (magnitude="
            "'random': |U(-s, s)|/sqrt(fan_in), the paper's RndF; 'uniform': s/sqrt(fan_in) for "
            "all, its uniform sign-concordant feedback). Conv layers use sign(K)*|R| as the "
            "input-gradient kernel. The paper relies on batch normalisation and/or Batch "
            "Manhattan (sign of the batch gradient) updates; the shared net has no BN, so the "
            "optimiser is Adam (default) or Batch Manhattan ('manhattan')."
        ),
    )

    def __init__(
        self,
        net,
        *,
        lr: float = 1e-3,
        magnitude: str = "random",
        feedback_scale: float = 1.0,
        optimizer: str = "adam",
        weight_decay: float = 0.0,
    ):
        super().__init__(net)
        self._check_positive(lr=lr, feedback_scale=feedback_scale)
        self._check(
            "magnitude", magnitude, magnitude in ("random", "uniform"), "'random' or 'uniform'"
        )
        self._check(
            "optimizer", optimizer, optimizer in ("adam", "manhattan"), "'adam' or 'manhattan'"
        )
        self._check("weight_decay", weight_decay, weight_decay >= 0, ">= 0")
        self.lr, self.magnitude, self.feedback_scale = lr, magnitude, feedback_scale
        self.optimizer, self.weight_decay = optimizer, weight_decay
        self.ops = [b.op for b in net.blocks] + [net.readout]
        for i, op in enumerate(self.ops):
            w = op.weight
            bound = feedback_scale / math.sqrt(w[0].numel())  # like the forward init's scale
            mag = torch.rand_like(w) * bound if magnitude == "random" else torch.full_like(w, bound)
            self.register_buffer(f"magnitude{i}", mag)
        if optimizer == "adam":
            self.opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)
        else:  # Batch Manhattan: sign of the batch pseudo-gradient, applied by plain SGD
            self.opt = torch.optim.SGD(net.parameters(), lr=lr, weight_decay=weight_decay)

    def feedback(self, i: int) -> torch.Tensor:
        """Feedback of op ``i`` now: ``sign(W_i) * |R_i|`` (no gradient, never ``W_i`` itself)."""
        return torch.sign(self.ops[i].weight.detach()) * getattr(self, f"magnitude{i}")

    def forward_ss(self, x: torch.Tensor) -> torch.Tensor:
        """Logits whose autograd backward sends errors down through ``sign(W) * |R|``."""
        for i, block in enumerate(self.net.blocks):
            x = block.pool(block.act(fa_op(block.op, self.feedback(i), block.prepare(x))))
        return fa_op(self.net.readout, self.feedback(len(self.ops) - 1), x.flatten(1))

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        self.opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(self.forward_ss(x), y)
        loss.backward()
        if self.optimizer == "manhattan":
            for p in self.net.parameters():
                p.grad = torch.sign(p.grad)
        self.opt.step()
        return {"loss": float(loss.detach())}
