"""Predictive forward-forward (PFF): a recurrent FF representation circuit plus a generative circuit.

Updated: (1) the representation circuit (the shared blocks and their top-down pathways) exactly as
in recurrent forward-forward: settled with image at the bottom and label at the top, each block
trained by its own goodness loss on positive (true label) vs negative (wrong label) data, inputs
detached; (2) a generative circuit: at every layer a predictor maps that layer's settled
(normalised, detached) representation to a prediction of the layer below (the image for the first
block) and is trained by its local prediction error e = target - prediction (delta rule, squared
error); nothing but the layer's own state and the error of the layer below enters its update.
Reference: Ororbia & Mali (2023) "The predictive forward-forward algorithm", arXiv:2301.01452.
"""

from __future__ import annotations

import torch
from torch import nn

from models.registry import register
from models.rules.base import RuleCard
from models.rules.forward_only._ff_common import normalize
from models.rules.forward_only._ff_recurrent import Projection, RecurrentFFBase


@register
class PredictiveForwardForward(RecurrentFFBase):
    card = RuleCard(
        family="explicit local synergistic: forward-only",
        addresses=(
            "weight transport",
            "global feedback pathway",
            "update locking",
            "non-local updates",
            "two-phase training",
            "derivative transport",
            "signed error transmission",
        ),
        reference="Ororbia & Mali (2023) The predictive forward-forward algorithm, arXiv:2301.01452",
        notes="Representation circuit = rff (recurrent FF, top-down input, damped settling, goodness "
        "loss at the last iteration). Generative circuit: one predictor per layer (linear for "
        "dense targets; nearest upsampling + 3x3 conv for map targets) from the layer's settled "
        "positive-phase state to the layer below, trained by its local squared prediction error. "
        "Simplified w.r.t. the paper: no learnable lateral competition or noise injection, and "
        "the generative circuit does not settle its own latent states (it reads the "
        "representation circuit's states). Adam. layers() = representation circuit. The generative "
        "circuit never feeds back into the representation, so pff's blocks, top-down pathways "
        "and readout learn exactly as rff's (step for step equal given the same initial weights "
        "and negative labels; only the random stream differs): in the brain comparison pff and "
        "rff are one rule, pff adds a trained image reconstruction.",
        layer_readouts={"settled": "the states after settling under the neutral label"},
    )

    def __init__(
        self,
        net,
        *,
        lr: float = 1e-3,
        gen_lr: float = 1e-3,
        threshold: float = 0.5,
        iterations: int = 3,
        damping: float = 0.3,
        label_scale: float = 1.0,
        readout_lr: float = 1e-3,
        predict_mode: str = "softmax",
        weight_decay: float = 0.0,
        layer_readout: str = "feedforward",
    ):
        super().__init__(
            net,
            lr=lr,
            threshold=threshold,
            iterations=iterations,
            damping=damping,
            label_scale=label_scale,
            readout_lr=readout_lr,
            predict_mode=predict_mode,
            weight_decay=weight_decay,
        )
        self._set_layer_readout(layer_readout)
        self._check_positive(gen_lr=gen_lr)
        self.gen_lr = gen_lr
        below = [tuple(net.in_shape)] + [s[1] for s in self.shapes[:-1]]  # what each layer predicts
        if (
            len(below[0]) != 3 or len(self.shapes[0][1]) != 3
        ):  # dense first block: predict the flat image
            below[0] = (int(torch.tensor(net.in_shape).prod()),)
        self.generators = nn.ModuleList(
            Projection(state, target, spatial=True, kernel=3)
            for (_, state), target in zip(self.shapes, below, strict=True)
        )
        gen = list(self.generators.parameters())
        self.optimizer = self._optimizer()
        self.optimizer.param_groups[0]["params"] = [
            p for p in self.optimizer.param_groups[0]["params"] if all(p is not q for q in gen)
        ]
        self.optimizer.add_param_group({"params": gen, "lr": gen_lr})

    def local_losses(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """Goodness loss per block, readout loss (``"out"``), prediction error per layer (``"gen_<block>"``)."""
        losses, pos = self.ff_losses(x, y)
        targets = [
            x.flatten(1) if len(self.generators[0].dst) == 1 else x
        ]  # image: (n, D) or (n, c, h, w)
        targets += [normalize(s.detach()) for s in pos[:-1]]
        for block, gen, state, target in zip(
            self.net.blocks, self.generators, pos, targets, strict=True
        ):
            pred = gen(
                normalize(state.detach())
            )  # a layer predicts the layer below from its own state
            losses[f"gen_{block.name}"] = (
                0.5 * (target.detach() - pred).pow(2).flatten(1).sum(1).mean() / target[0].numel()
            )
        return losses

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """The generative circuit's prediction of the image from the settled first layer (neutral label)."""
        state = self.settle(x, self._neutral(x))[0]
        return self.generators[0](normalize(state)).view_as(
            x
        )  # (n, D) or (n, c, h, w) -> x's shape
