"""local_signal obeys its card: fixed random classifiers, detached block inputs, and a block's
update independent of everything above it."""

import pytest
import torch
import torch.nn.functional as F

from models.training import build_rule
from tests.rules.test_local_loss import _update_of_block_after_perturbing_above

SHAPE = (1, 28, 28)


def _batch(mnist_small, n=32):
    return mnist_small["x_train"][:n], mnist_small["y_train"][:n]


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_detached_inputs_and_fixed_classifiers(arch, mnist_small):
    rule = build_rule("local_signal", arch, SHAPE, 10, seed=0)
    n_blocks = len(rule.net.blocks)
    fixed = [rule.classifier(k).clone() for k in range(n_blocks)]
    assert all(not c.requires_grad for c in fixed)
    assert not any(p is rule.classifier(0) for p in rule.parameters())
    seen = []
    hooks = [
        m.register_forward_pre_hook(lambda mod, a: seen.append(a[0].grad_fn is None))
        for m in [*rule.net.blocks, rule.net.readout]
    ]
    w0 = [b.op.weight.detach().clone() for b in rule.net.blocks]
    for _ in range(3):
        rule.train_step(*_batch(mnist_small))
    for h in hooks:
        h.remove()
    assert len(seen) == 3 * (n_blocks + 1) and all(seen)
    for k in range(n_blocks):
        assert torch.equal(rule.classifier(k), fixed[k]), f"classifier {k} changed"
        assert not torch.equal(rule.net.blocks[k].op.weight.detach(), w0[k])


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_block_update_does_not_depend_on_layers_above(arch, mnist_small):
    x, y = _batch(mnist_small)
    for k in range(len(build_rule("local_signal", arch, SHAPE, 10).net.blocks) - 1):
        pa, pb = _update_of_block_after_perturbing_above("local_signal", arch, k, x, y)
        for name in pa:
            assert torch.equal(pa[name], pb[name]), f"{name} depends on the layers above"


def test_local_error_is_fixed_classifier_transpose_times_output_error(mnist_small):
    """dL_k/dh_k = (softmax(M_k h_k) - onehot) M_k / n: the error comes from the fixed M_k only."""
    x, y = _batch(mnist_small, 16)
    rule = build_rule("local_signal", "mlp", SHAPE, 10, seed=0)
    h = rule.net.blocks[0](x).detach().requires_grad_(True)
    m = rule.classifier(0)
    loss = F.cross_entropy(h @ m.t(), y)
    (g,) = torch.autograd.grad(loss, h)
    e = (torch.softmax((h @ m.t()).detach(), 1) - F.one_hot(y, 10)) / len(y)
    assert torch.allclose(g, e @ m, atol=1e-6)
    assert torch.allclose(rule.local_losses(x, y)[0], loss)


def test_bad_hyperparameters_are_rejected():
    for hp in ({"loss": "hinge"}, {"lr": -1}, {"classifier_scale": 0}):
        with pytest.raises(ValueError, match=next(iter(hp))):
            build_rule("local_signal", "mlp", SHAPE, 10, hparams=hp)
