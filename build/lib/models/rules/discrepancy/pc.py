"""Predictive coding for classification (supervised, discriminative PC network).

Value nodes a_l (l = 1..L) sit at each block's affine output (before activation/pooling); the
prediction of layer l is ``mu_l = W_l r(a_{l-1})`` with ``r = pool(act(.))`` (r(a_0) = the image) and
the readout predicts the output ``mu_out = W_out r(a_L)``, which is clamped to the label. Inference
initialises the a_l by a forward pass, then runs ``n_inference`` gradient steps (rate
``inference_lr``, vectorised over the batch) on the energy
``F = sum_l 0.5 ||a_l - mu_l||^2 + output_weight * L_out(mu_out, y)``, i.e.
``da_l = -e_l + r'(a_l) ⊙ W_{l+1}^T e_{l+1}`` with ``e_l = a_l - mu_l``. With ``backtrack`` an
example keeps a step only if its own F falls (else its step size halves), so inference cannot
diverge. With ``curvature_steps`` the step of node a_l is ``inference_lr / c_l``, where
``c_l = 1 + g ||W_{l+1}||_2^2`` bounds the energy's curvature in a_l (|act'| <= 1, pooling
contracts; g = output_weight x 1/2 (ce) or 1 (mse) at the readout, else 1; ``||.||_2`` by one
warm-started power iteration per minibatch). The couplings between layers at most double the
curvature of the linearised energy, so relative steps <= 1/2 never overshoot and <= 1 still
descend, however large the weights grow. Then every weight takes the local, Hebbian-like step
``dW_l ∝ e_l r(a_{l-1})^T`` (post-synaptic error x pre-synaptic rate), the gradient of F on a
detached pre-synaptic input.
Reference: Whittington & Bogacz (2017) Neural Computation 29(5):1229-1262; Millidge, Tschantz &
Buckley (2022) Neural Computation 34(6):1329 (PC approximates backprop).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from models.registry import register
from models.rules.base import Rule, RuleCard
from models.rules.discrepancy._pc_local import block_io_shapes

LOSSES = ("ce", "mse")
# largest Hessian eigenvalue of the output energy in the logits
OUT_CURVATURE = {"ce": 0.5, "mse": 1.0}
POWER_WARMUP = 20  # power iterations at the first minibatch; one per minibatch after that


def _rows(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A per-example vector (n,) shaped to broadcast over ``like`` (n, ...)."""
    return v.view(-1, *[1] * (like.dim() - 1))


def _per_example(ok: torch.Tensor, new: torch.Tensor, old: torch.Tensor) -> torch.Tensor:
    """``new`` for the examples where ``ok`` (n,) holds, else ``old`` (n, ...)."""
    return torch.where(_rows(ok, old), new, old)


def _linear_part(affine, u: torch.Tensor) -> torch.Tensor:
    """``J u`` for the linear part J of ``affine`` (its bias dropped)."""
    return affine(u) - affine(torch.zeros_like(u))


def _power_iteration(affine, u: torch.Tensor) -> torch.Tensor:
    """One power iteration of ``J^T J``: the unit vector along ``J^T J u``; ``||J u||^2`` of a
    unit ``u`` (1, ...) so refined converges to ``||J||_2^2`` from below."""
    with torch.enable_grad():
        u = u.detach().requires_grad_(True)
        ju = _linear_part(affine, u)
        (jtju,) = torch.autograd.grad(ju, u, grad_outputs=ju.detach())
    return jtju / jtju.norm().clamp_min(1e-12)


@register
class PredictiveCoding(Rule):
    card = RuleCard(
        family="explicit local synergistic: discrepancy reduction",
        addresses=("non-local updates", "global feedback pathway", "update locking"),
        reference="Whittington & Bogacz (2017) Neural Computation 29:1229-1262",
        notes=(
            "Value nodes at pre-activations, forward-pass initialisation, output clamped through a "
            "cross-entropy ('ce', default) or squared ('mse') output energy, fixed number of "
            "inference steps; weight updates e_l x r(a_{l-1})^T (Adam on these local gradients). "
            "Conv layers are the same PC network with convolutional predictions (the update is the "
            "correlation of the layer's error map with the pre-synaptic rate map); error feedback "
            "passes r'(a_l) and the pooling routing through W^T, so weight transport and derivative "
            "transport remain. layers()/predict() use the feed-forward pass (the inference "
            "initialisation). With backtrack (the default config), an example keeps an inference "
            "step only if its energy falls, else its step size halves: same cost, no divergence. "
            "With curvature_steps each value node's step is divided by 1 + ||W_{l+1}||_2^2, the "
            "bound on its energy's curvature (per-layer time constants that follow the synaptic "
            "gain), so the truncated inference keeps approximating the gradient as weights grow."
        ),
    )

    def __init__(
        self,
        net,
        *,
        lr: float = 1e-3,
        n_inference: int = 8,
        inference_lr: float = 0.2,
        output_loss: str = "ce",
        output_weight: float = 1.0,
        backtrack: bool = False,
        weight_decay: float = 0.0,
        curvature_steps: bool = False,
    ):
        super().__init__(net)
        self._check_positive(lr=lr, inference_lr=inference_lr, output_weight=output_weight)
        self._check("weight_decay", weight_decay, weight_decay >= 0, ">= 0")
        self._check(
            "n_inference",
            n_inference,
            isinstance(n_inference, int) and n_inference >= 0,
            "an int >= 0",
        )
        self._check("output_loss", output_loss, output_loss in LOSSES, f"one of {LOSSES}")
        self._check("backtrack", backtrack, isinstance(backtrack, bool), "a bool")
        self._check("curvature_steps", curvature_steps, isinstance(curvature_steps, bool), "a bool")
        self.backtrack, self.curvature_steps = backtrack, curvature_steps
        if curvature_steps:  # warm-started power-iteration vectors of W_2 .. W_L, W_out (buffers)
            gen = torch.Generator().manual_seed(0)
            for i, (_, _, out_shape) in enumerate(block_io_shapes(net)):
                u = torch.randn(1, *out_shape, generator=gen)
                self.register_buffer(f"_power_{i}", u / u.norm())
            self.register_buffer("_power_warm", torch.tensor(False))
        self.lr, self.n_inference, self.inference_lr = lr, n_inference, inference_lr
        self.output_loss, self.output_weight = output_loss, output_weight
        # Decoupled decay (AdamW): the inferred errors shrink ~inference_lr-fold per layer below the
        # output, so an L2 term added to these gradients would swamp the lower layers' updates.
        self.weight_decay = weight_decay
        self.optimizer = torch.optim.Adam(
            net.parameters(), lr=lr, weight_decay=weight_decay, decoupled_weight_decay=True
        )

    # --- the network's pieces ----------------------------------------------------------
    def rate(self, i: int, a: torch.Tensor) -> torch.Tensor:
        """Pre-synaptic rate of block ``i``'s value node: pool(act(a))."""
        block = self.net.blocks[i]
        return block.pool(block.act(a))

    def predictions(self, x: torch.Tensor, values: list[torch.Tensor], detach_pre: bool = False):
        """``[mu_1, .., mu_L]`` and ``mu_out`` from the value nodes (pre-synaptic side detached on request)."""
        pre, mus = x, []
        for i, block in enumerate(self.net.blocks):
            mus.append(block.op(block.prepare(pre.detach() if detach_pre else pre)))
            pre = self.rate(i, values[i])
        pre = pre.detach() if detach_pre else pre
        return mus, self.net.readout(pre.flatten(1))  # (n, ...) -> (n, d) -> (n, n_classes)

    def out_energy(self, mu_out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Output energy of every example (n,): the clamped output's prediction error."""
        if self.output_loss == "ce":
            return F.cross_entropy(mu_out, y, reduction="none")
        onehot = F.one_hot(y, mu_out.shape[1]).to(mu_out.dtype)
        return 0.5 * (onehot - mu_out).pow(2).sum(1)

    def energy(self, x, values, y, detach_pre: bool = False) -> torch.Tensor:
        """F summed over the batch."""
        return self.energies(x, values, y, detach_pre).sum()

    def energies(self, x, values, y, detach_pre: bool = False) -> torch.Tensor:
        """F of every example (n,)."""
        mus, mu_out = self.predictions(x, values, detach_pre)
        e = sum(0.5 * (a - mu).pow(2).flatten(1).sum(1) for a, mu in zip(values, mus, strict=True))
        return e + self.output_weight * self.out_energy(mu_out, y)

    def _affine_above(self, i: int):
        """The map from node ``i``'s rate to the next prediction: W_{i+2} (block i+1) or W_out."""
        if i + 1 < len(self.net.blocks):
            block = self.net.blocks[i + 1]
            return lambda r: block.op(block.prepare(r))
        return lambda r: self.net.readout(r.flatten(1))

    def _power_states(self):
        """Per value node: its power-iteration vector (a buffer) and the affine map it probes."""
        return [
            (getattr(self, f"_power_{i}"), self._affine_above(i))
            for i in range(len(self.net.blocks))
        ]

    @torch.no_grad()
    def refine_power(self) -> None:
        """Advance the power iterations of ``||W_{l+1}||_2`` (``POWER_WARMUP`` at first, then one)."""
        if not self.curvature_steps:
            return
        n_iter = 1 if self._power_warm else POWER_WARMUP
        for buf, affine in self._power_states():
            u = buf
            for _ in range(n_iter):
                u = _power_iteration(affine, u)
            buf.copy_(u)
        self._power_warm.fill_(True)

    @torch.no_grad()
    def step_scales(self, refine: bool = False) -> list[float]:
        """Each value node's step relative to ``inference_lr``: ``1 / c_l`` with ``curvature_steps``
        (``refine`` advances the power iterations first), else 1."""
        if not self.curvature_steps:
            return [1.0] * len(self.net.blocks)
        if refine:
            self.refine_power()
        states = self._power_states()
        gains = [1.0] * (len(states) - 1) + [self.output_weight * OUT_CURVATURE[self.output_loss]]
        return [
            1.0 / (1.0 + gain * float(_linear_part(affine, u).pow(2).sum()))
            for (u, affine), gain in zip(states, gains, strict=True)
        ]

    # --- inference and learning --------------------------------------------------------
    @torch.no_grad()
    def init_values(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Forward pass: each value node starts at its prediction (zero hidden errors)."""
        values, h = [], x
        for block in self.net.blocks:
            a = block.op(block.prepare(h))
            values.append(a)
            h = block.pool(block.act(a))
        return values

    def infer(
        self, x: torch.Tensor, y: torch.Tensor, n_steps: int | None = None
    ) -> list[torch.Tensor]:
        """Relaxed value nodes after ``n_steps`` (default ``n_inference``) gradient steps on F."""
        n_steps = self.n_inference if n_steps is None else n_steps
        values = self.init_values(x)
        scales = self.step_scales()  # one per value node
        if self.backtrack:
            return self._infer_backtracking(x, y, values, n_steps, scales)
        for _ in range(n_steps):
            _, grads = self._energy_and_grads(x, y, values)
            values = [
                a - self.inference_lr * s * g for a, g, s in zip(values, grads, scales, strict=True)
            ]
        return values

    def _energy_and_grads(self, x, y, values):
        """F of every example (n,) and dF/da for every value node, all detached."""
        with torch.enable_grad():
            values = [a.detach().requires_grad_(True) for a in values]
            f = self.energies(x, values, y)  # (n,)
            grads = torch.autograd.grad(f.sum(), values)
        return f.detach(), [g.detach() for g in grads]

    def _infer_backtracking(self, x, y, values, n_steps: int, scales) -> list[torch.Tensor]:
        """Gradient steps on F that each example takes only if its own energy falls; a rejected
        step halves that example's step size. ``n_steps + 1`` energy-and-gradient evaluations (plain
        inference: ``n_steps``), and F can never grow, so inference cannot diverge as weights grow."""
        step = torch.full((len(x),), self.inference_lr, device=x.device, dtype=x.dtype)
        f, grads = self._energy_and_grads(x, y, values)
        for _ in range(n_steps):
            cand = [
                a - _rows(step, a) * s * g for a, g, s in zip(values, grads, scales, strict=True)
            ]
            f_new, g_new = self._energy_and_grads(x, y, cand)
            ok = f_new <= f  # (n,)
            values = [_per_example(ok, c, a) for c, a in zip(cand, values, strict=True)]
            grads = [_per_example(ok, gn, g) for gn, g in zip(g_new, grads, strict=True)]
            f, step = torch.where(ok, f_new, f), torch.where(ok, step, step / 2)
        return values

    def weight_grads(
        self, x: torch.Tensor, y: torch.Tensor, values: list[torch.Tensor]
    ) -> torch.Tensor:
        """Accumulate dF/dW (batch mean) with every pre-synaptic rate detached; returns F / n."""
        loss = self.energy(x, values, y, detach_pre=True) / x.shape[0]
        loss.backward()
        return loss.detach()

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        self.optimizer.zero_grad(set_to_none=True)
        self.refine_power()  # track ||W||_2 as the weights change (curvature_steps only)
        values = self.infer(x, y)
        energy = self.weight_grads(x, y, values)
        self.optimizer.step()
        return {"energy": float(energy)}
