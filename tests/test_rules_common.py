"""One test suite for every registered rule: a new rule needs no new test code here.

Budgets and accuracy thresholds come from the rule's ``config/rules/<id>.yaml`` (``smoke``).
"""

from __future__ import annotations

import io

import pytest
import torch

from models import registry
from models.rule_config import load_rule_config, resolve_hparams
from models.rules.base import BACKPROP_PROBLEMS, FAMILIES
from models.training import accuracy, build_rule, train

RULES = registry.available()
ARCHS = ["mlp", "cnn"]
SHAPE, N_CLASSES = (1, 28, 28), 10


def _build(rule_id: str, arch: str, seed: int = 0):
    cfg = load_rule_config(rule_id)
    return build_rule(
        rule_id, arch, SHAPE, N_CLASSES, hparams=resolve_hparams(cfg, arch, "mnist"), seed=seed
    )


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


@pytest.mark.parametrize("rule_id", RULES)
def test_rule_layers_cover_the_architecture(rule_id, mnist_small):
    rule = _build(rule_id, "cnn")
    acts = rule.layers(mnist_small["x_test"][:8])
    assert list(acts) == rule.net.layer_names
    assert all(v.shape[0] == 8 and torch.isfinite(v).all() for v in acts.values())


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("rule_id", RULES)
def test_rule_learns_on_real_mnist(rule_id, arch, mnist_small):
    """Trained with its smoke budget, a learning rule beats chance (10 %) clearly; the control does not."""
    cfg = load_rule_config(rule_id)
    rule = _build(rule_id, arch)
    smoke = cfg.get("smoke") or {}
    n = smoke.get("n_train", 3000)
    d = mnist_small
    res = train(
        rule,
        d["x_train"][:n],
        d["y_train"][:n],
        d["x_test"],
        d["y_test"],
        epochs=smoke.get("epochs", 1),
        batch_size=smoke.get("batch_size", 64),
        log_every=0,
    )
    if not rule.learns:
        assert res.test_accuracy < 0.2, f"{rule_id}: an untrained net should be near chance"
        return
    floor = (smoke.get("min_accuracy") or {}).get(arch, 0.5)
    assert floor >= 0.3, f"{rule_id}: a smoke floor below 30 % does not show clear learning"
    assert res.test_accuracy >= floor, (
        f"{rule_id}/{arch}: test accuracy {res.test_accuracy:.3f} < {floor}"
    )
    assert accuracy(rule, d["x_test"], d["y_test"]) == pytest.approx(res.test_accuracy)
