"""recirc obeys its card: dW = (post^+ - post^-) x pre^- from two settling phases; local
activity differences only (no derivative, no transmitted error), and not CHL's contrast."""

import pytest
import torch
import torch.nn.functional as F

from models.training import build_rule

SHAPE = (1, 28, 28)


def _batch(mnist_small, n=16):
    return mnist_small["x_train"][:n], mnist_small["y_train"][:n]


def test_update_is_the_generec_outer_product(mnist_small):
    x, y = _batch(mnist_small)
    rule = build_rule("recirc", "mlp", SHAPE, 10, seed=0)
    delta, _ = rule.generec_update(x, y)
    minus, plus = rule.free_phase(x), rule.clamped_phase(x, y)
    pres = [x.flatten(1), *minus[:-1]]  # pre-synaptic minus-phase activity of each layer
    ops = [b.op for b in rule.net.blocks] + [rule.net.readout]
    ids = [id(p) for p in rule.net.parameters()]
    n = len(x)
    for k, op in enumerate(ops):
        d = plus[k] - minus[k]  # post-synaptic activity difference, (n, out)
        g = rule.gains[k]
        i = ids.index(id(op.weight))
        assert torch.allclose(delta[i], g * d.t() @ pres[k] / n, atol=1e-6), f"weight {k}"
        assert torch.allclose(delta[ids.index(id(op.bias))], g * d.sum(0) / n, atol=1e-6)


def test_plus_phase_clamps_the_outcome_and_differs_from_chl(mnist_small):
    x, y = _batch(mnist_small)
    rule = build_rule("recirc", "mlp", SHAPE, 10, seed=0)
    chl = build_rule("chl", "mlp", SHAPE, 10, seed=0)
    plus = rule.clamped_phase(x, y)
    assert torch.equal(plus[-1], F.one_hot(y, 10).float())
    d_rec, _ = rule.generec_update(x, y)
    d_chl, _ = chl.chl_update(x, y)
    assert not torch.allclose(d_rec[0], d_chl[0], atol=1e-6)


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_training_step_follows_the_update(arch, mnist_small):
    x, y = _batch(mnist_small, 8)
    rule = build_rule("recirc", arch, SHAPE, 10, seed=0, hparams={"optimizer": "sgd", "lr": 0.05})
    delta, _ = rule.generec_update(x, y)
    before = [p.detach().clone() for p in rule.net.parameters()]
    rule.train_step(x, y)
    for p, b, d in zip(rule.net.parameters(), before, delta, strict=True):
        assert torch.allclose(p.detach() - b, 0.05 * d, atol=1e-6)
    assert any(d.abs().sum() > 0 for d in delta[:2]), "the first layer does not learn"


def test_minus_phase_error_falls_with_training(mnist_small):
    x, y = mnist_small["x_train"][:256], mnist_small["y_train"][:256]
    rule = build_rule("recirc", "mlp", SHAPE, 10, seed=0)
    first = rule.train_step(x[:64], y[:64])["mse"]
    for _ in range(3):
        for i in range(0, 256, 16):
            rule.train_step(x[i : i + 16], y[i : i + 16])
    assert rule.train_step(x[:64], y[:64])["mse"] < first


def test_bad_hyperparameters_are_rejected():
    for hp in ({"t_relax": 0}, {"feedback_gain": 0}, {"lr": -1}):
        with pytest.raises(ValueError, match=next(iter(hp))):
            build_rule("recirc", "mlp", SHAPE, 10, hparams=hp)
