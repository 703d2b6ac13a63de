"""Recirculation / GeneRec: learning from minus (expectation) vs plus (outcome) phase activities.

A layered network with bidirectional connections settles twice per minibatch (the relaxation of
``models.rules.energy._ep_energy``, shared with ``chl``): in the *minus* phase only the input is clamped
(the network's expectation ``s^-``); in the *plus* phase the output is also clamped to the one-hot
outcome (``s^+``). Both phases start from the bottom-up pass and relax ``t_relax`` synchronous steps;
hidden layer ``k`` receives its bottom-up drive plus ``feedback_gain`` times the top-down input
from layer ``k+1``. Every synapse then changes by GeneRec's rule (O'Reilly 1996, eq. 10)

    dW_k = lr * gain^{k-L} * (s_k^+ - s_k^-) (s_{k-1}^-)^T        (biases: s_k^+ - s_k^-)

the product of the pre-synaptic minus-phase activity and the post-synaptic *activity difference*
between phases: no error is transmitted, no derivative is computed, both factors are local. For
conv layers the product is summed over positions (shared kernels) and a pooled unit's difference
goes to the position that won its max-pool. The readout learns by the same rule (delta rule).

References: Hinton & McClelland (1988) "Learning representations by recirculation", NIPS;
O'Reilly (1996) "Biologically plausible error-driven learning using local activation differences:
the generalized recirculation algorithm", Neural Comput 8:895-938.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from models.registry import register
from models.rules.base import RuleCard
from models.rules.energy import _ep_energy as ep
from models.rules.energy.chl import CHL


@register
class Recirculation(CHL):
    card = RuleCard(
        family="explicit local synergistic: energy-based",
        addresses=(
            "global feedback pathway",
            "non-local updates",
            "derivative transport",
            "signed error transmission",
        ),
        reference=(
            "Hinton & McClelland (1988) Learning representations by recirculation, NIPS; "
            "O'Reilly (1996) Neural Comput 8:895 (GeneRec)"
        ),
        notes=(
            "Basic GeneRec: dW = (post^+ - post^-) x pre^- after a minus (input clamped) and a "
            "plus (input and output clamped) settling phase; the feedback uses the transposed "
            "forward weights scaled by feedback_gain (GeneRec assumes symmetric connections, so "
            "weight transport is not addressed). Settling is a fixed number of synchronous "
            "steps (t_relax, in training and at evaluation) from the bottom-up pass, as in chl; "
            "states are bounded activations (ReLU -> hard sigmoid), output clip(readout, 0, 1). "
            "Conv layers: layered energy of Laborieux et al. (2021) with max-pool routing. "
            "Layer-wise update scale gain^{k-L} as in Xie & Seung (2003), effective only with "
            "optimizer 'sgd': the default Adam divides each parameter's step by its gradient's "
            "running RMS, so a constant factor per layer cancels (feedback_gain then acts on the "
            "settling only). The symmetric and "
            "midpoint GeneRec variants (the latter equals CHL) are not included."
        ),
    )

    def generec_update(
        self, x: torch.Tensor, y: torch.Tensor
    ) -> tuple[list[torch.Tensor], ep.States]:
        """Per parameter, ``gain^{k-L}`` x (plus - minus post-synaptic) x minus pre-synaptic,
        batch mean (ascent direction); also returns the minus-phase states."""
        minus = self.free_phase(x)
        plus = self.clamped_phase(x, y)
        diff = [(p - m).detach() for p, m in zip(plus, minus, strict=True)]
        params = list(self.net.parameters())
        with torch.enable_grad():
            # s = <diff_k, pool(op_k(pre_k^-))>: its gradient in W_k is diff_k x pre_k^- (no f')
            s, pre = x.new_zeros(()), x.detach()
            for block, d, g, m in zip(self.net.blocks, diff, self.gains, minus, strict=False):
                s = s + g * (d * block.pool(block.op(block.prepare(pre)))).sum()
                pre = m.detach()
            s = s + self.gains[-1] * (diff[-1] * self.net.readout(ep.readout_input(pre))).sum()
            grads = torch.autograd.grad(s, params, allow_unused=True)
        n = x.shape[0]
        return [
            torch.zeros_like(p) if g is None else g / n for p, g in zip(params, grads, strict=True)
        ], minus

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        delta, minus = self.generec_update(x, y)
        self.optimizer.zero_grad(set_to_none=True)
        for p, d in zip(self.net.parameters(), delta, strict=True):
            p.grad = -d  # the optimiser descends; GeneRec's step is +delta
        self.optimizer.step()
        target = F.one_hot(y, self.net.n_classes).to(x.dtype)
        return {"mse": float(((minus[-1] - target) ** 2).sum(1).mean())}
