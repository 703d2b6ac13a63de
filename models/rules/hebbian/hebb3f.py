"""Three-factor Hebbian learning: pre x post eligibility gated by a global scalar reward.

Updated: hidden blocks by the unsupervised two-factor SoftHebb rule (their own detached input and
soft winner-take-all output; no label, reward or gradient reaches them); the decision layer (the
readout) by a three-factor rule. The network samples its own choice a ~ softmax(logits / tau) (an
exploring "action"); each readout synapse keeps the eligibility e_ij = (post_i - <post_i>) x pre_j
with post = onehot(a) and <post> = the choice probabilities; a global scalar reward r = 1 if the
choice was correct else 0, minus a running baseline, turns it into a weight change
dW = eta * mean_n (r_n - r_bar) e_n. Labels reach the synapses only through the scalar r_n.
References: Fremaux & Gerstner (2016) Front. Neural Circuits 9:85 (three-factor rules);
Legenstein, Chase, Schwartz & Maass (2010) J. Neurosci. 30:8400 (reward-modulated Hebbian);
Williams (1992) Mach. Learn. 8:229 (the REINFORCE form of the eligibility).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from models.registry import register
from models.rules.base import Rule, RuleCard
from models.rules.hebbian._hebb_local import SoftHebbBlocks, outer
from models.rules.hebbian._standardised_readout import StandardisedReadout


@register
class Hebb3F(SoftHebbBlocks, StandardisedReadout, Rule):
    card = RuleCard(
        family="explicit global",
        addresses=(
            "weight transport",
            "global feedback pathway",
            "non-local updates",
            "two-phase training",
            "derivative transport",
            "signed error transmission",
            "labels at every layer",
        ),
        reference="Fremaux & Gerstner (2016) Neuromodulated STDP, and theory of three-factor learning "
        "rules, Front. Neural Circuits 9:85; Legenstein et al. (2010) J. Neurosci. 30:8400",
        notes="Layer-wise combination: hidden blocks learn unsupervised with SoftHebb (two-factor, as the "
        "'hebbian' rule: inputs read relative to their running mean, bias -W m; its departures from "
        "Journe et al. 2023: no variance scaling of each layer's input, no anti-Hebbian update of "
        "the losers; the CNN's Hebbian term is zero-sum over each neuron's synapses, subtractive "
        "normalisation, as hebbian's); only the readout uses the three-factor rule, eligibility (onehot(choice) - "
        "choice probabilities) x pre, gated by a scalar reward (correct = 1 / wrong = 0) minus a "
        "running baseline. Readout input is standardised by label-free running statistics.",
    )

    def __init__(
        self,
        net,
        *,
        lr: float = 0.3,
        temperature: float = 0.3,
        readout_lr: float = 0.5,
        choice_temperature: float = 1.0,
        baseline_rate: float = 0.05,
        centre_inputs: bool = True,
        subtractive_norm: bool = False,
    ):
        super().__init__(net)
        self._check_positive(
            lr=lr,
            temperature=temperature,
            readout_lr=readout_lr,
            choice_temperature=choice_temperature,
        )
        self._check(
            "baseline_rate",
            baseline_rate,
            isinstance(baseline_rate, int | float) and 0 < baseline_rate <= 1,
            "in (0, 1]",
        )
        self.lr, self.temperature, self.readout_lr = lr, temperature, readout_lr
        self.choice_temperature, self.baseline_rate = choice_temperature, baseline_rate
        self.register_buffer("reward_baseline", torch.full((), 1.0 / net.n_classes))
        self.init_plasticity(centre_inputs, subtractive_norm)
        self.init_feature_stats(net.readout.in_features)

    @torch.no_grad()
    def act(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, dict]:
        """Label-free part: hidden plasticity, features, choice probabilities and sampled choices."""
        feats, stats = self.soft_hebb_blocks(
            x, lr=self.lr * self.lr_scale, temperature=self.temperature
        )
        self.track_features(feats)
        h = self.standardise(feats)
        probs = torch.softmax(self.net.readout(h) / self.choice_temperature, dim=1)  # (n, classes)
        choice = torch.multinomial(probs, 1).squeeze(1)  # (n,) from torch's global RNG
        return h, probs, choice, stats

    @torch.no_grad()
    def reinforce(
        self, h: torch.Tensor, probs: torch.Tensor, choice: torch.Tensor, reward: torch.Tensor
    ) -> None:
        """Three-factor update of the readout from eligibilities and a scalar reward per example."""
        post = (
            F.one_hot(choice, probs.shape[1]).to(h.dtype) - probs
        )  # (n, classes) eligibility post term
        mod = (reward - self.reward_baseline) / len(h)  # (n,) the neuromodulator per example
        ro = self.net.readout
        lr = self.readout_lr * self.lr_scale
        ro.weight.add_(outer(ro, h, post * mod[:, None]), alpha=lr)
        ro.bias.add_((post * mod[:, None]).sum(0), alpha=lr)
        self.reward_baseline.lerp_(reward.mean(), self.baseline_rate)

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        h, probs, choice, stats = self.act(x)
        reward = (choice == y).to(
            h.dtype
        )  # the only label-dependent quantity: one scalar per example
        self.reinforce(h, probs, choice, reward)
        return {"reward": float(reward.mean()), **stats}
