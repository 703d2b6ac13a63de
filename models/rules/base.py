"""The Rule interface every learning rule implements, and its card.

A rule owns a shared network (``models.arch.Net``) plus whatever extra state its credit assignment
needs (feedback matrices, synthetic-gradient modules, ...), all registered as sub-modules or
buffers so that ``state_dict`` round-trips it. Training loops, data and evaluation are shared
(``models.training``); a rule only says how one minibatch changes the weights.
"""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import ClassVar

import torch
from torch import nn

from models.arch import Net

#: Families of the credit-assignment taxonomy (Ororbia 2023 survey), plus the two reference points.
FAMILIES = (
    "baseline",  # backprop: the non-plausible reference
    "control",  # untrained network
    "implicit",  # e.g. Hebbian, STDP: no explicit error signal
    "explicit global",  # a global error/reward broadcast: FA/DFA, perturbation, three-factor
    "explicit local non-synergistic",  # local errors from local losses/synthetic gradients
    "explicit local synergistic: discrepancy reduction",  # target prop, predictive coding, LRA
    "explicit local synergistic: energy-based",  # equilibrium propagation, CHL
    "explicit local synergistic: forward-only",  # forward-forward, PEPITA, signal propagation
)

#: Problems of backprop a rule may address (its card lists the ones it does).
BACKPROP_PROBLEMS = (
    "weight transport",  # feedback uses the transposed forward weights
    "global feedback pathway",  # a separate, exact backward network
    "update locking",  # layers wait for the full forward/backward pass
    "non-local updates",  # an update depends on quantities far from the synapse
    "two-phase training",  # distinct forward and backward phases
    "derivative transport",  # feedback multiplies by activation derivatives
    "signed error transmission",  # neurons send signed error values
    "labels at every layer",  # supervision needed throughout
)


#: The one default meaning of ``Rule.layers()`` (see there).
FEEDFORWARD = "feedforward"
FEEDFORWARD_DOC = (
    "one bottom-up pass in eval mode, no label, no settling or time: every block's output as the "
    "rule's network computes it at evaluation; 'out' = the rule's class scores (predict)"
)


@dataclass(frozen=True)
class RuleCard:
    """What a rule is: taxonomy family, backprop problems it addresses, reference, caveats."""

    family: str
    addresses: tuple[str, ...] = ()
    reference: str | None = None
    notes: str | None = None
    extra: dict = field(default_factory=dict)
    #: Named alternatives to the feed-forward ``layers()`` this rule offers (its ``layer_readout``
    #: hyper-parameter), each with what it returns, e.g. ``{"settled": "free-phase states"}``.
    layer_readouts: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.family not in FAMILIES:
            raise ValueError(f"card family {self.family!r} is not one of {FAMILIES}")
        bad = [p for p in self.addresses if p not in BACKPROP_PROBLEMS]
        if bad:
            raise ValueError(
                f"card lists unknown backprop problems {bad}; known: {BACKPROP_PROBLEMS}"
            )
        if FEEDFORWARD in self.layer_readouts:
            raise ValueError(f"layer_readouts must not redefine the default {FEEDFORWARD!r}")

    def as_dict(self) -> dict:
        d = asdict(self)
        d["addresses"] = list(self.addresses)
        d["layer_readouts"] = [FEEDFORWARD, *self.layer_readouts]  # names; what each is: the card
        return d


class Rule(nn.Module, metaclass=ABCMeta):
    """Base class. Subclasses set ``card`` and implement ``train_step``.

    Hyper-parameters are keyword-only ``__init__`` arguments stored under the same names; check
    them with ``self._check`` so a bad value fails with the parameter's name and allowed range.

    ``layers()`` is defined here once for every rule (rules do not override it): by default the
    feed-forward activations (``feedforward``); a rule whose card lists ``layer_readouts`` accepts
    a ``layer_readout`` hyper-parameter naming one of them and implements it in ``readout_states``.

    A rate a rule applies by hand (an in-place update outside a torch optimiser) is multiplied by
    ``self.lr_scale``: the training loop's learning-rate schedule sets it together with every
    optimiser's rates (``models.training.scale_learning_rates``), so all of a rule's rates follow
    one schedule.
    """

    card: ClassVar[RuleCard]
    #: True when the rule changes the network (False only for the untrained control).
    learns: ClassVar[bool] = True

    def __init__(self, net: Net):
        super().__init__()
        self.net = net
        self.layer_readout = FEEDFORWARD
        #: the schedule's multiplier of the rates applied by hand (1 = as configured)
        self.lr_scale = 1.0

    def _set_layer_readout(self, layer_readout: str) -> None:
        """Validate and store the ``layer_readout`` hyper-parameter against the card's options."""
        allowed = (FEEDFORWARD, *self.card.layer_readouts)
        self._check("layer_readout", layer_readout, layer_readout in allowed, f"one of {allowed}")
        self.layer_readout = layer_readout

    # --- the interface -------------------------------------------------------------------
    @abstractmethod
    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        """One minibatch of learning; returns scalar metrics (loss, energy, goodness, ...)."""

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Class scores (n, n_classes); the argmax is the prediction."""
        return self.net(x)

    def feedforward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every block's output in one bottom-up pass (the default: the shared net's blocks).

        A rule whose neurons compute differently at evaluation overrides this (e.g. length-
        normalised block inputs in forward-forward, bounded states in energy-based rules); it
        never reads a label, settles, or runs in time."""
        outs = []
        for block in self.net.blocks:
            x = block(x)
            outs.append(x)
        return outs

    def readout_states(self, x: torch.Tensor, kind: str) -> list[torch.Tensor]:
        """Every block's state under the card's named ``layer_readout`` ``kind`` (rules that list
        ``layer_readouts`` on their card implement this)."""
        raise ValueError(f"{type(self).__name__} offers no layer_readout {kind!r}")

    @torch.no_grad()
    def layers(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Ordered layer activations compared with the brain, keyed by ``net.layer_names``.

        Computed in eval mode whatever the rule's mode (which is restored), per image (no batch
        statistics, no label): the blocks' ``feedforward`` outputs, or the states of the card's
        named ``layer_readout``; ``out`` is the rule's class scores (``predict``)."""
        was_training = self.training
        self.eval()
        try:
            if self.layer_readout == FEEDFORWARD:
                states = self.feedforward(x)
            else:
                states = self.readout_states(x, self.layer_readout)
            acts = dict(zip([b.name for b in self.net.blocks], states, strict=True))
            acts["out"] = self.predict(x)
        finally:
            self.train(was_training)
        return acts

    def end_epoch(self, epoch: int) -> None:
        """Hook called after each epoch (schedules, normalisation); default does nothing."""

    def derived_parameters(self) -> set[str]:
        """Names (as in ``named_parameters``) of the parameters the rule sets from label-free
        running statistics instead of learning them at a rate, so that ``lr_scale`` and the
        optimisers' rates do not stop them (e.g. biases that centre a block's input); none here."""
        return set()

    # --- helpers -------------------------------------------------------------------------
    @staticmethod
    def _check(name: str, value, ok: bool, allowed: str) -> None:
        if not ok:
            hint = ""
            if isinstance(value, str):
                try:
                    float(value)
                    hint = (
                        f" (it is the string {value!r}: YAML 1.1 readers such as PyYAML's"
                        " safe_load read an exponent without a dot, like 3e-5, as text;"
                        " pass a number, or write 3.0e-5)"
                    )
                except ValueError:
                    pass
            raise ValueError(
                f"hyper-parameter {name}={value!r} is invalid: must be {allowed}{hint}"
            )

    def _check_positive(self, **values) -> None:
        for name, value in values.items():
            self._check(name, value, isinstance(value, int | float) and value > 0, "> 0")
