"""Contrastive Hebbian learning (CHL) in a layered network with symmetric feedback.

The block outputs and an output layer ``s_out = clip(readout(s_N), 0, 1)`` are the states of the
layered energy of ``models.rules.energy._ep_energy``; layer ``k`` receives its bottom-up drive plus
``feedback_gain`` times the top-down feedback through the transposed forward weights (Xie & Seung
2003). Two phases per minibatch, both relaxed for a fixed number of synchronous steps:

* free: input clamped, everything else settles -> ``s^-``;
* clamped: the output is also clamped to the one-hot target -> ``s^+``.

Both phases start from the same bottom-up pass and run the same ``t_relax`` steps, so any drift
of a not-quite-settled network is common to both and cancels in the contrast (a clamped phase
continued from the free state would turn that drift into a runaway Hebbian term).

Update (Hebbian minus anti-Hebbian): ``dW_k = lr * gain^{k-L} [(s_k s_{k-1}^T)^+ - (s_k s_{k-1}^T)^-]``
(batch mean; biases ``s_k^+ - s_k^-``); for conv layers the correlation is summed over positions
(shared weights), with the max-pool routing of the energy. ``gain^{k-L}`` is Xie & Seung's
layer-wise rescaling (``gain = 1``: Movellan's plain CHL).

References: Movellan (1991) Connectionist Models; O'Reilly (1996) Neural Comput 8:895;
Xie & Seung (2003) Neural Comput 15:441.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from models.registry import register
from models.rules.base import Rule, RuleCard
from models.rules.energy import _ep_energy as ep


def _out_act(u: torch.Tensor) -> torch.Tensor:
    """Output units: hard sigmoid in [0, 1] (targets are one-hot)."""
    return u.clamp(0.0, 1.0)


@register
class CHL(Rule):
    card = RuleCard(
        family="explicit local synergistic: energy-based",
        addresses=(
            "global feedback pathway",
            "non-local updates",
            "derivative transport",
            "signed error transmission",
        ),
        reference=(
            "Movellan (1991) Connectionist Models Summer School; O'Reilly (1996) Neural "
            "Comput 8:895; Xie & Seung (2003) Neural Comput 15:441"
        ),
        notes=(
            "Feedback is the transposed forward weights scaled by feedback_gain (symmetric "
            "connections are CHL's own assumption, so weight transport is not addressed). "
            "Hidden states are the block activations bounded to [-state_bound, state_bound] "
            "(ReLU -> hard sigmoid); the output state is clip(readout, 0, 1), clamped to the "
            "one-hot label in the clamped phase. Both phases relax the same fixed number of steps "
            "(t_relax, in training and at evaluation) from the bottom-up pass, so equilibria are "
            "approximate. Conv layers use the "
            "convergent-RNN energy of Laborieux et al. (2021), max-pooling included. "
            "Xie & Seung's layer-wise update scale gain^{k-L} is effective only with optimizer "
            "'sgd': the default Adam divides each parameter's step by its gradient's running RMS, "
            "so a constant factor per layer cancels (feedback_gain then acts on the settling "
            "only). "
            "predict: readout pre-activation of the free phase (t_relax steps, as in training)."
        ),
        layer_readouts={"settled": "the free-phase block states after t_relax steps"},
    )

    def __init__(
        self,
        net,
        *,
        lr: float = 1e-3,
        feedback_gain: float = 0.2,
        t_relax: int = 4,
        state_bound: float = 1.0,
        optimizer: str = "adam",
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        layer_readout: str = "feedforward",
    ):
        super().__init__(net)
        self._set_layer_readout(layer_readout)
        self._check_positive(lr=lr, feedback_gain=feedback_gain, state_bound=state_bound)
        self._check("t_relax", t_relax, isinstance(t_relax, int) and t_relax >= 1, "an int >= 1")
        self._check("optimizer", optimizer, optimizer in ("sgd", "adam"), "'sgd' or 'adam'")
        self._check("momentum", momentum, 0 <= momentum < 1, "in [0, 1)")
        self._check("weight_decay", weight_decay, weight_decay >= 0, ">= 0")
        self.lr, self.feedback_gain, self.state_bound = lr, feedback_gain, state_bound
        self.t_relax = t_relax
        self.optimizer_name, self.momentum, self.weight_decay = optimizer, momentum, weight_decay
        n_out = len(net.blocks) + 1  # index L of the output layer (blocks are 1..N)
        #: energy weights gain^{k-L}: feedback into layer k is scaled by gain (Xie & Seung 2003)
        self.gains = [feedback_gain ** (k - n_out) for k in range(1, n_out + 1)]
        if optimizer == "sgd":
            self.optimizer = torch.optim.SGD(
                net.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay
            )
        else:
            self.optimizer = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)

    # --- phases ----------------------------------------------------------------------------
    def _start(self, x: torch.Tensor) -> ep.States:
        """The bottom-up pass: block states, then the output state."""
        s = ep.feedforward_states(self.net, x, self.state_bound)
        s.append(_out_act(self.net.readout(ep.readout_input(s[-1]))))
        return s

    def free_phase(self, x: torch.Tensor, steps: int | None = None) -> ep.States:
        """Free-phase states (blocks..., output) after ``t_relax`` (or ``steps``) steps."""
        return ep.relax(
            self.net,
            x,
            self._start(x),
            self.t_relax if steps is None else steps,
            bound=self.state_bound,
            gains=self.gains,
            out_act=_out_act,
        )

    def clamped_phase(self, x: torch.Tensor, y: torch.Tensor) -> ep.States:
        """States with the output clamped to the one-hot target, after ``t_relax`` steps."""
        target = F.one_hot(y, self.net.n_classes).to(x.dtype)
        s = [*self._start(x)[:-1], target]
        return ep.relax(
            self.net,
            x,
            s,
            self.t_relax,
            bound=self.state_bound,
            gains=self.gains,
            out_act=_out_act,
            clamp_out=target,
        )

    def chl_update(self, x: torch.Tensor, y: torch.Tensor) -> tuple[list[torch.Tensor], ep.States]:
        """Per parameter, ``gain^{k-L}`` x (clamped - free) correlation, batch mean (ascent dir.)."""
        free = self.free_phase(x)
        clamped = self.clamped_phase(x, y)
        g_plus = ep.param_grads(self.net, x, clamped, self.gains)
        g_minus = ep.param_grads(self.net, x, free, self.gains)
        n = x.shape[0]
        return [(a - b) / n for a, b in zip(g_plus, g_minus, strict=True)], free

    # --- the interface ---------------------------------------------------------------------
    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        delta, free = self.chl_update(x, y)
        self.optimizer.zero_grad(set_to_none=True)
        for p, d in zip(self.net.parameters(), delta, strict=True):
            p.grad = -d  # the optimiser descends, CHL ascends the contrast
        self.optimizer.step()
        target = F.one_hot(y, self.net.n_classes).to(x.dtype)
        with torch.no_grad():
            logits = self.net.readout(ep.readout_input(free[-2]))
        return {
            "mse": float(((free[-1] - target) ** 2).sum(1).mean()),
            "accuracy": float((logits.argmax(1) == y).float().mean()),
        }

    def feedforward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """States of the bottom-up pass that starts every relaxation (bounded activations)."""
        return ep.feedforward_states(self.net, x, self.state_bound)

    def readout_states(self, x: torch.Tensor, kind: str) -> list[torch.Tensor]:
        """``settled``: the free-phase block states (``t_relax`` steps, as in training)."""
        return self.free_phase(x)[: len(self.net.blocks)]

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Readout pre-activation of the free phase, settled ``t_relax`` steps as in training."""
        return self.net.readout(ep.readout_input(self.free_phase(x)[-2]))
