"""One test suite for every registered rule: a new rule needs no new test code here.

Budgets and accuracy thresholds come from the rule's ``config/rules/<id>.yaml`` (``smoke``).
"""

from __future__ import annotations

import inspect
import io

import pytest
import torch

from benchmarks.hidden_probe import (
    MAX_PROBE_ERROR_RATIO,
    N_CLASSES,
    SHAPE,
    probe_error_ratio,
    smoke_train,
)
from benchmarks.hidden_probe import build as _build
from models import registry
from models.rule_config import load_rule_config
from models.rules.base import BACKPROP_PROBLEMS, FAMILIES, FEEDFORWARD, Rule, RuleCard
from models.training import accuracy, build_rule

RULES = registry.available()
ARCHS = ["mlp", "cnn"]


@pytest.mark.parametrize("rule_id", RULES)
def test_rule_card_is_complete(rule_id):
    card = registry.get(rule_id).card
    assert card.family in FAMILIES
    assert set(card.addresses) <= set(BACKPROP_PROBLEMS)
    if card.family not in ("baseline", "control"):
        assert card.reference, f"{rule_id}: a learning rule's card needs its reference"
        assert card.addresses, f"{rule_id}: say which backprop problems the rule addresses"


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("rule_id", RULES)
def test_rule_is_deterministic_and_survives_save_load(rule_id, arch, mnist_small):
    x, y = mnist_small["x_train"][:64], mnist_small["y_train"][:64]
    a, b = _build(rule_id, arch, seed=3), _build(rule_id, arch, seed=3)
    torch.manual_seed(11)
    a.train_step(x, y)
    torch.manual_seed(11)
    b.train_step(x, y)
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb), (
            f"{rule_id}/{arch}: {name} differs between identical seeded runs"
        )
    buf = io.BytesIO()
    torch.save(a.state_dict(), buf)
    buf.seek(0)
    c = _build(rule_id, arch, seed=99)
    c.load_state_dict(torch.load(buf, weights_only=True))
    a.eval(), c.eval()
    assert torch.allclose(a.predict(x), c.predict(x))
    for name, act in a.layers(x).items():
        assert torch.allclose(act, c.layers(x)[name]), f"{rule_id}/{arch}: layer {name} after load"


def test_a_card_lists_layer_readouts_beside_the_one_default():
    with pytest.raises(ValueError, match="must not redefine the default 'feedforward'"):
        RuleCard(family="implicit", layer_readouts={"feedforward": "something else"})
    assert registry.get("chl").card.as_dict()["layer_readouts"] == ["feedforward", "settled"]
    assert registry.get("bp").card.as_dict()["layer_readouts"] == ["feedforward"]


@pytest.mark.parametrize("rule_id", RULES)
def test_rule_rejects_unknown_hyperparameter(rule_id):
    with pytest.raises(TypeError, match=rule_id):
        _build_with(rule_id, no_such_parameter=1)


def test_a_number_yaml_read_as_text_gets_a_hint():
    """PyYAML's safe_load reads ``lr: 3e-5`` (no dot) as a string (rule configs and ``--set`` use
    ``load_yaml``, which does not); a string that looks like a number gets a hint, not just '> 0'."""
    with pytest.raises(ValueError, match=r"lr='3e-5'.*string.*3\.0e-5"):
        _build_with("rstdp", lr="3e-5")
    with pytest.raises(ValueError, match=r"lr='fast' is invalid: must be > 0$"):
        _build_with("rstdp", lr="fast")


def _build_with(rule_id, **hparams):
    return build_rule(rule_id, "mlp", SHAPE, N_CLASSES, hparams=hparams)


def _check_layers_contract(rule, x: torch.Tensor, where: str) -> dict[str, torch.Tensor]:
    """``rule.layers(x)`` follows the one definition: the arch's names and shapes, finite, the
    same whatever the rule's mode (which it leaves as it was), and per image (no batch effect)."""
    rule.train()
    acts = rule.layers(x)
    assert rule.training, f"{where}: layers() left the rule in eval mode"
    rule.eval()
    assert list(acts) == rule.net.layer_names, f"{where}: {list(acts)}"
    with torch.no_grad():
        shapes = {k: v.shape for k, v in rule.net.forward_layers(x).items()}
    shapes["out"] = (len(x), rule.net.n_classes)
    for name, act in acts.items():
        assert act.shape == shapes[name], f"{where}: {name} {tuple(act.shape)} != {shapes[name]}"
        assert act.dtype.is_floating_point and torch.isfinite(act).all(), f"{where}: {name}"
    for name, act in rule.layers(x).items():
        assert torch.equal(act, acts[name]), f"{where}: {name} differs between train and eval mode"
    if rule.layer_readout == FEEDFORWARD:
        with torch.no_grad():
            ff = rule.feedforward(x)
        for block, act in zip(rule.net.blocks, ff, strict=True):
            assert torch.equal(act, acts[block.name]), f"{where}: {block.name} is not feedforward"
    other = torch.cat([x[:1], x.flip(0)[:-1] * 0.5 + 0.1])  # same first image, other companions
    for name, act in rule.layers(other).items():
        assert torch.allclose(act[0], acts[name][0], rtol=1e-4, atol=1e-5), (
            f"{where}: image 0's {name} depends on the other images of the batch"
        )
    return acts


class _BatchNormedBP(registry.get("bp")):
    """A deliberately broken rule: its feed-forward pass standardises with batch statistics."""

    def feedforward(self, x):
        return [(h - h.mean(0)) / (h.std(0) + 1e-5) for h in super().feedforward(x)]


def test_the_layers_contract_catches_a_batch_dependent_rule(mnist_small):
    rule = _BatchNormedBP(_build("bp", "mlp").net)
    with pytest.raises(AssertionError, match="depends on the other images"):
        _check_layers_contract(rule, mnist_small["x_test"][:6], "bp with batch statistics")


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("rule_id", RULES)
def test_rule_layers_follow_the_one_definition(rule_id, arch, mnist_small):
    """One ``layers()`` for all rules (``Rule.layers``, never overridden, no label argument):
    feed-forward activations in eval mode under the arch's layer names; each named alternative
    on the card (``layer_readout``) obeys the same contract, and an unknown name is refused."""
    cls = registry.get(rule_id)
    assert cls.layers is Rule.layers, f"{rule_id} overrides layers(); override feedforward()"
    assert list(inspect.signature(cls.layers).parameters) == ["self", "x"]
    x, y = mnist_small["x_train"][:32], mnist_small["y_train"][:32]
    rule = _build(rule_id, arch)
    torch.manual_seed(0)
    rule.train_step(x, y)  # running statistics and weights away from their initial values
    ff = _check_layers_contract(rule, x[:6], f"{rule_id}/{arch}")
    for kind in cls.card.layer_readouts:
        alt = _build(rule_id, arch, layer_readout=kind)
        alt.load_state_dict(rule.state_dict())
        acts = _check_layers_contract(alt, x[:6], f"{rule_id}/{arch} layer_readout={kind}")
        assert torch.equal(acts["out"], ff["out"]), f"{rule_id}: {kind} changed the prediction"
    if cls.card.layer_readouts:
        with pytest.raises(ValueError, match="layer_readout='no_such'"):
            _build(rule_id, arch, layer_readout="no_such")


#: (rule, arch) whose hidden layers do not yet pass the probe at the smoke budget, with why.
#: Figures: probe accuracy trained vs untrained (2 000 test images), measured at the smoke budget;
#: every seed and layer: ``python -m benchmarks.hidden_probe``
#: (``benchmarks/results/hidden_probe.csv``).
HIDDEN_LEARNING_XFAIL: dict[tuple[str, str], str] = {
    ("ngc", "cnn"): (
        "0.900 vs 0.893 (ratio 0.94; seeds 1 / 2: 0.94 / 1.03). At this budget reconstruction "
        "learning itself loses to random features: fc1 trained by exact backprop to reconstruct the "
        "untrained net's conv3 through ngc's own norm-bounded generator (the ceiling of ngc's "
        "top-layer objective) reads 1.10 / 1.14 / 1.23 after these 2 000 images (1.02-7.8 at every "
        "Adam lr from 1e-4 to 1e-2), and passes only from 9 000 (0.75 / 0.92 / 0.78; 9 000 x 3 "
        "epochs 0.52 / 0.78 / 0.56). At those budgets ngc's amortised convs make conv3 less "
        "decodable (ratio 1.7-3.4) and fc1 follows (9 000 x 3: 0.89 / 2.06 / 1.36), at every conv "
        "encoder lr tried down to 3e-6. Some 20 variants of the circuit (latent form, priors, "
        "inference, learning rates, un-pooling, the label as the top latent's cause) do not change "
        "this (benchmarks/results/reconstruction_ceiling.csv; accuracy_log.md, passes 11-14)"
    ),
}


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("rule_id", RULES)
def test_rule_learns_on_real_mnist(rule_id, arch, mnist_small):
    """At its smoke budget a learning rule's hidden layers learn: a linear probe on its last hidden
    layer beats the same probe on the untrained net (``MAX_PROBE_ERROR_RATIO``); its own prediction
    beats chance clearly (``smoke.min_accuracy``). The control stays at chance and does not move."""
    d = mnist_small
    rule, untrained = _build(rule_id, arch), _build(rule_id, arch)
    res = smoke_train(rule, rule_id, arch, d)
    if not rule.learns:
        assert res.test_accuracy < 0.2, f"{rule_id}: an untrained net should be near chance"
        assert all(torch.equal(a, b) for a, b in zip(rule.state_dict().values(),
                   untrained.state_dict().values(), strict=True))  # fmt: skip
        return
    floor = (load_rule_config(rule_id).get("smoke", {}).get("min_accuracy") or {}).get(arch, 0.5)
    assert floor >= 0.3, f"{rule_id}: a smoke floor below 30 % does not show clear learning"
    assert res.test_accuracy >= floor, (
        f"{rule_id}/{arch}: test accuracy {res.test_accuracy:.3f} < {floor}"
    )
    assert accuracy(rule, d["x_test"], d["y_test"]) == pytest.approx(res.test_accuracy)
    acc, acc0, ratio = probe_error_ratio(rule, untrained, d)
    learned = ratio <= MAX_PROBE_ERROR_RATIO
    why = HIDDEN_LEARNING_XFAIL.get((rule_id, arch))
    if why is not None and not learned:  # listed (some sit near the margin): pass if they clear it
        pytest.xfail(f"probe {acc:.3f} vs untrained {acc0:.3f} (error ratio {ratio:.2f}): {why}")
    assert learned, (
        f"{rule_id}/{arch}: probe on the last hidden layer {acc:.3f} vs {acc0:.3f} untrained "
        f"(error ratio {ratio:.2f} > {MAX_PROBE_ERROR_RATIO}): its hidden layers did not learn"
    )


def test_probe_fails_a_rule_whose_hidden_layers_are_frozen(mnist_small):
    """Backprop with its blocks frozen (only the readout learns) reaches a fair accuracy, but the
    probe criterion of ``test_rule_learns_on_real_mnist`` rejects it."""
    rule, untrained = _build("bp", "mlp"), _build("bp", "mlp")
    for p in rule.net.blocks.parameters():
        p.requires_grad_(False)
    res = smoke_train(rule, "bp", "mlp", mnist_small)
    assert res.test_accuracy > 0.4  # the readout alone learns (57 % here)
    acc, acc0, ratio = probe_error_ratio(rule, untrained, mnist_small)
    assert ratio > MAX_PROBE_ERROR_RATIO, (acc, acc0, ratio)
