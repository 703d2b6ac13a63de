"""Node perturbation (NP).

Each layer in turn receives Gaussian noise ``xi`` on its pre-activations (``n_samples`` independent
draws per example, a fresh draw for every trial); the resulting change of the global loss of that
trial, ``dL = (L(a + xi) - L(a - xi)) / 2`` (antithetic) or ``L(a + xi) - L(a)``, is broadcast as a
scalar reward signal. Each synapse then combines it with purely local quantities: its node's noise
and its own pre-synaptic activity, ``dW = -(dL / sigma^2) xi x^T`` (a three-factor rule; its mean is
the gradient for small ``sigma``). Only forward passes are used: no backward pass, no feedback weights,
no activation derivatives. References: Williams (1992) Mach Learn 8:229 (REINFORCE); Cauwenberghs
(1993) NeurIPS; Fiete & Seung (2006) PRL 97:048104; Dalm et al. (2023) "Effective learning with node
perturbation in deep neural networks".
"""

from __future__ import annotations

import torch

from models.registry import register
from models.rules.base import RuleCard
from models.rules.perturbation._fb_perturb import (
    PerturbationRule,
    clean_pass,
    local_weight_grad,
    ops,
    probe,
    repeat,
)


@register
class NodePerturbation(PerturbationRule):
    card = RuleCard(
        family="explicit global",
        addresses=(
            "weight transport",
            "global feedback pathway",
            "two-phase training",
            "derivative transport",
            "signed error transmission",
            "labels at every layer",
        ),
        reference="Fiete & Seung (2006) Phys Rev Lett 97:048104; Williams (1992) Mach Learn 8:229",
        notes=(
            "Per-example Gaussian noise on one layer's pre-activations at a time (layer-wise probes, "
            "all layers every step, cached prefix), antithetic loss differences, n_samples draws per "
            "example; the scalar per-trial loss change times the local noise and pre-synaptic activity "
            "gives each weight update (Adam). Conv layers: noise on every (c, h, w) pre-activation, "
            "the update is the local conv weight correlation. Forward passes only; much slower to learn "
            "than gradient rules on large layers (estimator variance grows with layer width). "
            "Step sizes: Adam with lr for hidden layers and a larger readout_lr for the low-noise "
            "readout. CNN (config): every layer is probed every step, conv layers with conv_samples=8 "
            "draws per example (each conv probe is a forward pass through the layers above), the "
            "dense layers with 32; at init the conv estimates' cosines with the gradient are 0.17, "
            "0.10, 0.15 (conv1-3, CIFAR-10, batch 32; per-batch SD 0.07-0.18), fc1's 0.91."
        ),
    )

    def perturbed_dims(self) -> list[int]:
        with torch.no_grad():
            w = self.net.readout.weight
            _, pre = clean_pass(
                self.net, torch.zeros(1, *self.net.in_shape, device=w.device, dtype=w.dtype)
            )
        return [a[0].numel() for a in pre]  # pre-activation units per example

    @torch.no_grad()
    def estimate(self, layer, inp, a, y, base):
        k, n = self.draws[layer], len(y)
        a_k = repeat(a, k)  # (n, ...) -> (k*n, ...)
        xi = torch.randn_like(a_k) * self.sigma  # (k*n, ...)
        dl = probe(self.net, layer, a_k, xi, repeat(y, k), self.antithetic, base)  # (k*n,)
        # Node error estimate per example: mean over draws of dL * xi / sigma^2.
        coef = (dl / self.sigma**2).view(-1, *([1] * (a.dim() - 1)))  # (k*n,) -> (k*n, 1, ...)
        delta = (coef * xi).view(k, n, *a.shape[1:]).mean(
            0
        ) / n  # (k*n, ...) -> (k, n, ...) -> (n, ...)
        return local_weight_grad(ops(self.net)[layer], inp, delta)
