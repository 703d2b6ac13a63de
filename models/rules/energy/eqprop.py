"""Equilibrium propagation (EqProp) with symmetric nudging and a random nudge sign.

Every block's output is a state variable of the layered energy / primitive function ``Phi`` of
``models.rules.energy._ep_energy`` (a Hopfield-like energy; for conv layers the primitive function of
Laborieux et al.'s convergent RNN, max-pooling included); feedback uses the same weights as the
feed-forward drive (symmetric connections). The readout is the softmax/cross-entropy output of
Laborieux et al. (2021): ``L = CE(readout(s_N), y)``.

1. Free phase: from the bottom-up pass, the states relax ``t_free`` steps to ``s^0``.
2. Nudged phases: from ``s^0``, ``t_nudge`` steps under ``Phi - beta L`` and, with
   ``symmetric``, ``t_nudge`` steps under ``Phi + beta L``; the sign of ``beta`` is drawn at random
   per minibatch (``random_sign``).
3. Update: ``dtheta ∝ [dPhi^{b1}/dtheta(s^{b1}) - dPhi^{b2}/dtheta(s^{b2})] / (b1 - b2)`` with
   ``(b1, b2) = (beta, -beta)`` (or ``(beta, 0)`` one-sided): for each synapse the difference of the
   correlation of its pre- and post-synaptic states between the two phases, over ``2 beta``; the
   readout gets its local delta rule. Adam applies the estimate.

References: Scellier & Bengio (2017) Front Comput Neurosci 11:24; Laborieux, Ernoult, Scellier,
Bengio, Grollier & Querlioz (2021) Front Neurosci 15:633674.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from models.registry import register
from models.rules.base import Rule, RuleCard
from models.rules.energy import _ep_energy as ep

#: State nonlinearity of ReLU blocks (``_ep_energy.rho``): Laborieux et al.'s hard sigmoid or its
#: smooth version with the same centre and slope.
RELU_STATES = ("hard_sigmoid", "sigmoid")


@register
class EqProp(Rule):
    card = RuleCard(
        family="explicit local synergistic: energy-based",
        addresses=(
            "global feedback pathway",
            "non-local updates",
            "derivative transport",
        ),
        reference=(
            "Scellier & Bengio (2017) Front Comput Neurosci 11:24; Laborieux et al. (2021) "
            "Front Neurosci 15:633674 (symmetric nudging, random sign)"
        ),
        notes=(
            "States = block outputs, bounded to [-state_bound, state_bound]; ReLU blocks become "
            "Laborieux et al.'s hard sigmoid (relu_state=hard_sigmoid: the MLP's and the full "
            "CNN's) or its smooth version bound * sigmoid(4u / bound - 2) (relu_state=sigmoid: the "
            "grid CNN's). Against the equilibrium gradient (BPTT over 300 steps; "
            "benchmarks/ep_alignment.py), the grid CNN's estimate (smooth states, beta 2, 14 free "
            "steps) has mean cosine conv1-3/fc1 (6 held-out batches) 0.97/0.85/0.97/1.00 at init, "
            "0.83/0.84/0.91/0.97 after 2 400 examples and 0.92/0.95/0.96/0.98 after 4 800 (the "
            "grid's budget), >= 0.8 on every layer at all 5 points (single batches down to 0.63); "
            "with beta 1 and 6 free steps conv1/conv2 fell to 0.69 and 0.73, with hard states and "
            "2 free steps all four to 0.51-0.70. "
            "Relaxation starts from the bottom-up pass and "
            "runs a fixed number of synchronous fixed-point steps (t_free, t_nudge, t_eval), so "
            "the equilibrium is approximate at small budgets. Feedback is symmetric by "
            "construction (the energy's shared weights), which is the weight-transport "
            "assumption of EqProp itself, so weight transport is not addressed. Cross-entropy "
            "readout (Laborieux's softmax variant); "
            "Adam on the EP estimate. predict uses the free phase after t_eval steps. Needs "
            "two (three) phases per step, so it is trained on smaller subsets than backprop."
        ),
        layer_readouts={"settled": "the free-phase states after t_eval steps"},
    )

    def __init__(
        self,
        net,
        *,
        lr: float = 1e-3,
        beta: float = 0.5,
        t_free: int = 4,
        t_nudge: int = 4,
        t_eval: int = 4,
        state_bound: float = 1.0,
        symmetric: bool = True,
        random_sign: bool = True,
        weight_decay: float = 0.0,
        relu_state: str = "hard_sigmoid",
        layer_readout: str = "feedforward",
    ):
        super().__init__(net)
        self._set_layer_readout(layer_readout)
        self._check_positive(lr=lr, beta=beta, state_bound=state_bound)
        for name, v in (("t_free", t_free), ("t_nudge", t_nudge), ("t_eval", t_eval)):
            self._check(name, v, isinstance(v, int) and v >= 0, "an int >= 0")
        self._check("t_nudge", t_nudge, t_nudge >= 1, ">= 1")
        self._check("symmetric", symmetric, isinstance(symmetric, bool), "a bool")
        self._check("random_sign", random_sign, isinstance(random_sign, bool), "a bool")
        self._check("weight_decay", weight_decay, weight_decay >= 0, ">= 0")
        self._check("relu_state", relu_state, relu_state in RELU_STATES, f"one of {RELU_STATES}")
        self.relu_state, self.smooth = relu_state, relu_state == "sigmoid"
        self.lr, self.beta, self.weight_decay = lr, beta, weight_decay
        self.t_free, self.t_nudge, self.t_eval = t_free, t_nudge, t_eval
        self.state_bound, self.symmetric, self.random_sign = state_bound, symmetric, random_sign
        self.gains = [1.0] * len(net.blocks)
        self.optimizer = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)

    # --- phases ----------------------------------------------------------------------------
    def _nudge(self, y: torch.Tensor, beta: float):
        """``-beta * L`` (summed over the batch) as a function of the states."""

        def term(states):
            logits = self.net.readout(ep.readout_input(states[-1]))
            return -beta * F.cross_entropy(logits, y, reduction="sum")

        return term

    def free_phase(self, x: torch.Tensor, steps: int | None = None) -> ep.States:
        """Equilibrium of the free phase, relaxed from the bottom-up pass."""
        s = ep.feedforward_states(self.net, x, self.state_bound, self.smooth)
        return ep.relax(
            self.net,
            x,
            s,
            self.t_free if steps is None else steps,
            bound=self.state_bound,
            gains=self.gains,
            smooth=self.smooth,
        )

    def nudged_phase(
        self, x: torch.Tensor, y: torch.Tensor, start: ep.States, beta: float
    ) -> ep.States:
        """States after ``t_nudge`` steps under ``Phi - beta L`` from ``start``."""
        return ep.relax(
            self.net,
            x,
            start,
            self.t_nudge,
            bound=self.state_bound,
            gains=self.gains,
            nudge=self._nudge(y, beta),
            smooth=self.smooth,
        )

    def ep_gradient(self, x: torch.Tensor, y: torch.Tensor) -> tuple[list[torch.Tensor], ep.States]:
        """The EP estimate of ``dL/dtheta`` (batch mean), one tensor per net parameter."""
        free = self.free_phase(x)
        beta = self.beta
        if self.random_sign and int(torch.randint(0, 2, (1,))) == 1:
            beta = -beta
        s1 = self.nudged_phase(x, y, free, beta)
        g1 = ep.param_grads(self.net, x, s1, self.gains, self._nudge(y, beta))
        if self.symmetric:
            b2, s2 = -beta, self.nudged_phase(x, y, free, -beta)
        else:
            b2, s2 = 0.0, free
        g2 = ep.param_grads(self.net, x, s2, self.gains, self._nudge(y, b2))
        scale = -1.0 / ((beta - b2) * x.shape[0])
        return [scale * (a - b) for a, b in zip(g1, g2, strict=True)], free

    # --- the interface ---------------------------------------------------------------------
    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        grads, free = self.ep_gradient(x, y)
        self.optimizer.zero_grad(set_to_none=True)
        for p, g in zip(self.net.parameters(), grads, strict=True):
            p.grad = g
        self.optimizer.step()
        with torch.no_grad():
            logits = self.net.readout(ep.readout_input(free[-1]))
            loss = F.cross_entropy(logits, y)
        return {"loss": float(loss), "accuracy": float((logits.argmax(1) == y).float().mean())}

    def feedforward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """States of the bottom-up pass (bounded activations), the fixed point without feedback."""
        return ep.feedforward_states(self.net, x, self.state_bound, self.smooth)

    def readout_states(self, x: torch.Tensor, kind: str) -> list[torch.Tensor]:
        """``settled``: the free-phase states after ``t_eval`` steps."""
        return self.free_phase(x, self.t_eval)

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Readout of the free-phase top state after ``t_eval`` steps."""
        return self.net.readout(ep.readout_input(self.free_phase(x, self.t_eval)[-1]))
