"""Forward-forward (FF): every layer learns from its own goodness, with no backward pass between layers.

Updated: each block's weights, from its own logistic loss on goodness (mean squared activity) minus
a threshold: high for *positive* data (the image with its true label embedded), low for *negative*
data (the same image with a wrong label). A block's input is the detached, length-normalised
output of the block below, so no gradient ever crosses a block boundary. The label is embedded as
a one-hot overlay on the first input values (MLP) or as a label-coded pattern added to the whole
image (CNN: every convolutional position sees it). Prediction (``predict_mode="goodness"``) runs
the net once per candidate label and picks the label with the largest accumulated goodness; with
``"softmax"`` it is Hinton's one-pass alternative: a linear softmax readout, trained by a delta
rule on the detached top-layer activity under a neutral label.
Reference: Hinton (2022) "The forward-forward algorithm: some preliminary investigations",
arXiv:2212.13345.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from models.registry import register
from models.rules._local_util import NamedLossesStep
from models.rules.base import Rule, RuleCard
from models.rules.forward_only._ff_common import (
    LabelEmbedding,
    check_common,
    class_goodness,
    ff_loss,
    goodness,
    normalize,
    readout_loss,
    symba_loss,
    wrong_labels,
)


@register
class ForwardForward(NamedLossesStep, Rule):
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
        reference="Hinton (2022) The forward-forward algorithm: some preliminary investigations, "
        "arXiv:2212.13345",
        notes="Per-block logistic goodness loss on positive (true label) vs negative (random wrong "
        "label) data, Adam; inputs of each block detached and RMS-normalised. Label: one-hot "
        "overlay on the first input values (MLP) or a class-coded plane wave added to "
        "the image (label_embedding=pattern, spatially extended labels as in Scodellaro et al. 2023 Sci Rep). Goodness = mean of squares of "
        "the block output (after pooling). predict_mode 'goodness' (one pass per label, the "
        "paper's main method) or 'softmax' (one pass, neutral label, linear readout trained "
        "on the detached top block). layers() are taken under the neutral label; 'out' is the "
        "per-label goodness (goodness mode) or the readout's logits (softmax mode). CNN "
        "default variant='channel' (channel-wise competitive FF, Papachristodoulou et al. 2024 "
        "AAAI): label-in-input FF did not learn conv features on our budget (goodness losses "
        "stayed at chance, neutral-label features collapsed), so each block's channels are "
        "split into class groups (channel k -> class k mod 10); the class-group goodnesses "
        "are the logits of a local cross-entropy (own group positive, others negative); "
        "prediction = class-group goodness summed over blocks (one pass, no readout).",
    )

    def __init__(
        self,
        net,
        *,
        variant: str = "label",
        lr: float = 1e-3,
        threshold: float = 0.5,
        loss: str = "threshold",
        alpha: float = 4.0,
        label_embedding: str = "onehot",
        label_scale: float = 3.0,
        predict_mode: str = "goodness",
        readout_lr: float = 1e-3,
        weight_decay: float = 0.0,
    ):
        super().__init__(net)
        check_common(
            self,
            lr=lr,
            threshold=threshold,
            label_embedding=label_embedding,
            label_scale=label_scale,
            predict_mode=predict_mode,
        )
        self._check("variant", variant, variant in ("label", "channel"), "'label' or 'channel'")
        widths = [getattr(b.op, "out_features", None) or b.op.out_channels for b in net.blocks]
        self._check(
            "variant",
            variant,
            variant == "label" or min(widths) >= net.n_classes,
            f"'label' when a block has fewer than {net.n_classes} units/channels",
        )
        self._check("loss", loss, loss in ("threshold", "symba"), "'threshold' or 'symba'")
        self._check_positive(alpha=alpha, readout_lr=readout_lr)
        self._check("weight_decay", weight_decay, weight_decay >= 0, ">= 0")
        self.variant, self.lr, self.threshold, self.loss, self.alpha = (
            variant,
            lr,
            threshold,
            loss,
            alpha,
        )
        self.label_embedding, self.label_scale, self.predict_mode = (
            label_embedding,
            label_scale,
            predict_mode,
        )
        self.readout_lr, self.weight_decay = readout_lr, weight_decay
        self.embed = LabelEmbedding(net.in_shape, net.n_classes, label_embedding, label_scale)
        readout = list(net.readout.parameters())
        local = [p for p in self.parameters() if all(p is not q for q in readout)]
        self.optimizer = torch.optim.Adam(
            [{"params": local}, {"params": readout, "lr": readout_lr}],
            lr=lr,
            weight_decay=weight_decay,
        )

    # --- the local losses ----------------------------------------------------------------
    def local_losses(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """One loss per block (key = block name) and for the readout (``"out"``, softmax mode).

        Each loss depends only on its own block's (or the readout's) parameters.
        """
        if self.variant == "channel":
            return self._channel_losses(x, y)
        h_pos = self.embed.label(x, y)
        h_neg = self.embed.label(x, wrong_labels(y, self.net.n_classes))
        losses = {}
        for block in self.net.blocks:
            # only the direction of the lower layer's (detached) activity is passed on
            h_pos, h_neg = normalize(h_pos.detach()), normalize(h_neg.detach())
            h_pos, h_neg = block(h_pos), block(h_neg)
            g_pos, g_neg = goodness(h_pos), goodness(h_neg)  # (n,) each
            losses[block.name] = (
                ff_loss(g_pos, g_neg, self.threshold)
                if self.loss == "threshold"
                else symba_loss(g_pos, g_neg, self.alpha)
            )
        if self.predict_mode == "softmax":
            losses["out"] = readout_loss(self.net.readout, normalize(self._neutral_top(x)), y)
        return losses

    def _channel_losses(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """Channel-wise competitive variant: each block's class-group goodnesses are the logits of
        a local cross-entropy (positive = own class's group, negatives = the other groups)."""
        losses, h = {}, x
        for block in self.net.blocks:
            h = block(
                normalize(h.detach())
            )  # detached, normalised input: no gradient crosses blocks
            logits = self.alpha * class_goodness(h, self.net.n_classes)  # (n, n_classes)
            losses[block.name] = F.cross_entropy(logits, y)
        return losses

    # --- inference -----------------------------------------------------------------------
    def _forward(self, x_embedded: torch.Tensor) -> list[torch.Tensor]:
        """Every block's output (not normalised) for an already label-embedded input."""
        outs, h = [], x_embedded
        for block in self.net.blocks:
            h = block(normalize(h))
            outs.append(h)
        return outs

    def _neutral_top(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self._forward(self.embed.neutral(x))[-1]

    @torch.no_grad()
    def goodness_scores(self, x: torch.Tensor) -> torch.Tensor:
        """Accumulated goodness (summed over blocks) of every candidate label: (n, n_classes)."""
        scores = []
        for c in range(self.net.n_classes):
            y = torch.full((x.shape[0],), c, dtype=torch.long, device=x.device)
            scores.append(sum(goodness(h) for h in self._forward(self.embed.label(x, y))))  # (n,)
        return torch.stack(scores, dim=1)  # n_classes x (n,) -> (n, n_classes)

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        if self.variant == "channel":  # one pass: class-group goodness summed over blocks
            return sum(class_goodness(h, self.net.n_classes) for h in self._forward(x))
        if self.predict_mode == "goodness":
            return self.goodness_scores(x)
        return self.net.readout(normalize(self._neutral_top(x)).flatten(1))

    def feedforward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Block outputs of FF's bottom-up pass (length-normalised block inputs) on the image with
        the neutral label embedded (the channel variant embeds no label)."""
        return self._forward(x if self.variant == "channel" else self.embed.neutral(x))
