"""Weight perturbation (WP).

Each layer in turn has its weights jittered, with a fresh perturbation for every trial (example) and
``n_samples`` draws per example: a rank-1 weight perturbation ``eps = sigma * u v^T`` (``u`` over output
units, ``v`` over a unit's input synapses, i.e. over ``in x k x k`` for a conv kernel) plus ``sigma * w``
on the biases. The change of that trial's global loss, ``dL = (L(W + eps) - L(W - eps)) / 2``
(antithetic) or ``L(W + eps) - L(W)``, is broadcast as a scalar and every synapse correlates it with
its own perturbation: ``dW = -(dL / sigma^2) eps`` (unbiased for the gradient as ``sigma -> 0``). Only
forward passes are used. References: Jabri & Flower (1992) IEEE TNN 3:154; Cauwenberghs (1993) NeurIPS;
Zuge, Klos & Memmesheimer (2023) J Neurosci 43:2 ("Weight versus node perturbation learning in
temporally extended tasks").
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from models.registry import register
from models.rules.base import RuleCard
from models.rules.perturbation._fb_perturb import PerturbationRule, ops, probe, repeat


@register
class WeightPerturbation(PerturbationRule):
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
        reference="Jabri & Flower (1992) IEEE Trans Neural Netw 3:154; Cauwenberghs (1993) NeurIPS 5",
        notes=(
            "Per-example rank-1 Gaussian weight perturbations (sigma u v^T, plus bias noise), one layer "
            "at a time (layer-wise probes, all layers every step, cached prefix), antithetic loss "
            "differences, n_samples draws per example; update = scalar loss change x own perturbation "
            "(Adam). The rank-1 structure makes per-trial weight noise affordable (the perturbed layer "
            "costs one extra projection); the estimate stays unbiased. Forward passes only. Learns "
            "more slowly than node perturbation: variance grows with the number of weights (the "
            "MLP's last hidden layer beats the untrained net's on a linear probe after 9 000 MNIST "
            "images x 6 epochs, error ratio 0.78, not after 3 000 x 1, 0.96). "
            "Step sizes: Adam with lr for hidden layers and a larger readout_lr for the low-noise "
            "readout. CNN (config): every layer is probed every step, conv layers with conv_samples=8 "
            "draws per example (each conv probe is a forward pass through the layers above); at init "
            "the conv estimates' cosines with the gradient are 0.29, 0.15, 0.08 (conv1-3, CIFAR-10, "
            "batch 32), fc1's 0.07 at 32 draws. "
            "Full budget (CPU): MNIST MLP 91.4 %, above the 89.6 % of a logistic regression on the "
            "untrained net's last hidden layer; CIFAR-10 CNN 45.4 %, no better than that bound's "
            "46.0 % there, so on the CNN only the readout's learning was measurable (that run did not "
            "probe the convs)."
        ),
    )

    def perturbed_dims(self) -> list[int]:
        return [op.weight.numel() + op.bias.numel() for op in ops(self.net)]  # synapses per layer

    @torch.no_grad()
    def estimate(self, layer, inp, a, y, base):
        k, n = self.draws[layer], len(y)
        op = ops(self.net)[layer]
        inp_k, a_k = repeat(inp, k), repeat(a, k)  # (n, ...) -> (k*n, ...)
        m = k * n
        u = torch.randn(m, op.weight.shape[0], device=a.device, dtype=a.dtype)  # (m, out)
        v = torch.randn(
            m, *op.weight.shape[1:], device=a.device, dtype=a.dtype
        )  # (m, in[, kh, kw])
        w = torch.randn_like(u)  # (m, out): bias perturbation
        if isinstance(op, nn.Linear):
            s = (inp_k * v).sum(1, keepdim=True)  # (m, in) . (m, in) -> (m, 1): v . x per trial
            delta = self.sigma * (u * s + w)  # (m, out): pre-activation change caused by eps
        else:
            c, h, wd = inp_k.shape[1:]
            # Per-trial single-channel conv with that trial's v: grouped conv over the batch.
            s = F.conv2d(inp_k.reshape(1, m * c, h, wd), v, None, op.stride, op.padding, groups=m)
            s = s.reshape(m, 1, *s.shape[2:])  # (1, m, H, W) -> (m, 1, H, W)
            delta = self.sigma * (u[:, :, None, None] * s + w[:, :, None, None])  # (m, out, H, W)
        dl = probe(self.net, layer, a_k, delta, repeat(y, k), self.antithetic, base)  # (m,)
        coef = dl / (self.sigma * m)  # dL/sigma^2 * sigma (eps = sigma u v^T), averaged over trials
        gw = (u * coef[:, None]).t() @ v.flatten(1)  # (out, m) @ (m, in*kh*kw) -> (out, in*kh*kw)
        gb = (w * coef[:, None]).sum(0)  # (out,)
        return gw.view_as(op.weight), gb  # (out, in*kh*kw) -> weight shape
