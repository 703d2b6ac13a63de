"""hsic obeys its card: each block descends nHSIC(X, Z) - beta nHSIC(Y, Z) on a detached input;
the HSIC estimator equals its textbook formula; no block's update depends on the layers above."""

import pytest
import torch

from models.rules.local.hsic import gaussian_kernel, hsic, nhsic
from models.training import build_rule
from tests.rules.test_local_loss import _update_of_block_after_perturbing_above

SHAPE = (1, 28, 28)


def _batch(mnist_small, n=32):
    return mnist_small["x_train"][:n], mnist_small["y_train"][:n]


def test_hsic_matches_the_trace_formula_and_detects_dependence():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(40, 5, generator=g)
    m = 40
    h = torch.eye(m) - torch.ones(m, m) / m
    k, l_dep = gaussian_kernel(a, 1.0), gaussian_kernel(a[:, :2] * 3 + 1, 1.0)
    l_ind = gaussian_kernel(torch.randn(40, 5, generator=g), 1.0)
    ref = torch.trace(k @ h @ l_dep @ h) / (m - 1) ** 2
    assert torch.allclose(hsic(k, l_dep), ref, atol=1e-6)
    assert nhsic(k, k) == pytest.approx(1.0, abs=1e-5)
    assert nhsic(k, l_dep) > 2 * nhsic(k, l_ind)
    # the kernel is invariant to the scale of its input (median-distance width)
    assert torch.allclose(gaussian_kernel(a * 7, 1.0), k, atol=1e-5)


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_detached_inputs_and_losses_reach_only_their_block(arch, mnist_small):
    rule = build_rule("hsic", arch, SHAPE, 10, seed=0)
    seen = []
    hooks = [
        m.register_forward_pre_hook(lambda mod, a: seen.append(a[0].grad_fn is None))
        for m in [*rule.net.blocks, rule.net.readout]
    ]
    losses = rule.local_losses(*_batch(mnist_small))
    for hk in hooks:
        hk.remove()
    assert all(seen) and len(seen) == len(rule.net.blocks) + 1
    owners = [list(b.parameters()) for b in rule.net.blocks] + [list(rule.net.readout.parameters())]
    for i, loss in enumerate(losses):
        for k, params in enumerate(owners):
            grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
            reached = any(g is not None and g.abs().sum() > 0 for g in grads)
            assert reached == (i == k), f"loss {i} reaches block {k}: {reached}"


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_block_update_does_not_depend_on_layers_above(arch, mnist_small):
    x, y = _batch(mnist_small)
    for k in range(len(build_rule("hsic", arch, SHAPE, 10).net.blocks) - 1):
        pa, pb = _update_of_block_after_perturbing_above("hsic", arch, k, x, y)
        for name in pa:
            assert torch.equal(pa[name], pb[name]), f"{name} depends on the layers above"


def test_training_raises_label_dependence(mnist_small):
    x, y = mnist_small["x_train"][:640], mnist_small["y_train"][:640]
    rule = build_rule("hsic", "mlp", SHAPE, 10, seed=0)
    ky = gaussian_kernel(torch.nn.functional.one_hot(y[:256], 10).float(), 1.0)

    def dep():
        with torch.no_grad():
            return float(
                nhsic(ky, gaussian_kernel(rule.net.blocks[-1](rule.net.blocks[0](x[:256])), 1.0))
            )

    before = dep()
    for i in range(0, 640, 64):
        rule.train_step(x[i : i + 64], y[i : i + 64])
    assert dep() > before + 0.05


def test_bad_hyperparameters_are_rejected():
    for hp in ({"beta": 0}, {"sigma": -1.0}, {"readout_lr": 0}):
        with pytest.raises(ValueError, match=next(iter(hp))):
            build_rule("hsic", "mlp", SHAPE, 10, hparams=hp)
