"""sign_sym obeys its card: feedback = sign(W) * |R| with fixed |R|, never W^T; errors really
travel through it; with |R| = |W| it is backprop."""

import pytest
import torch
import torch.nn.functional as F

from models.training import build_rule
from tests.rules.scaffold import SHAPE
from tests.rules.scaffold import random_batch as _batch


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_feedback_is_sign_of_w_times_fixed_magnitudes(arch, mnist_small):
    x, y = mnist_small["x_train"][:128], mnist_small["y_train"][:128]
    rule = build_rule("sign_sym", arch, SHAPE, 10, seed=0)
    mags = [getattr(rule, f"magnitude{i}").clone() for i in range(len(rule.ops))]
    w0 = [op.weight.detach().clone() for op in rule.ops]
    for i in range(0, 128, 32):
        rule.train_step(x[i : i + 32], y[i : i + 32])
    for i, op in enumerate(rule.ops):
        w = op.weight.detach()
        assert not torch.equal(w, w0[i]), f"weight {i} did not learn"
        assert torch.equal(getattr(rule, f"magnitude{i}"), mags[i]), f"|R| {i} changed"
        fb = rule.feedback(i)
        assert torch.equal(fb, torch.sign(w) * mags[i])
        assert torch.equal(torch.sign(fb), torch.sign(w))
        assert not torch.allclose(fb.abs(), w.abs()), f"feedback {i} transports |W|"


def test_error_reaching_a_layer_goes_through_sign_feedback():
    """The error at fc2's output is e @ (sign(W_out)|R|), not e @ W_out."""
    x, y = _batch()
    rule = build_rule("sign_sym", "mlp", SHAPE, 10, seed=0)
    seen = {}
    h = rule.net.blocks[-1].act.register_full_backward_hook(
        lambda m, gi, go: seen.__setitem__("g", go[0])
    )
    logits = rule.forward_ss(x)
    F.cross_entropy(logits, y).backward()
    h.remove()
    e = (torch.softmax(logits.detach(), 1) - F.one_hot(y, 10)) / len(y)
    last = len(rule.ops) - 1
    assert torch.allclose(seen["g"], e @ rule.feedback(last), atol=1e-6)
    assert not torch.allclose(seen["g"], e @ rule.ops[last].weight.detach(), atol=1e-4)


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_with_magnitudes_equal_to_abs_w_it_is_backprop(arch):
    """Reference equality: |R| = |W| makes sign(W)|R| = W, i.e. exact backprop."""
    x, y = _batch()
    rule = build_rule("sign_sym", arch, SHAPE, 10, seed=0)
    ref = build_rule("bp", arch, SHAPE, 10, seed=0).net
    for i, op in enumerate(rule.ops):
        getattr(rule, f"magnitude{i}").copy_(op.weight.detach().abs())
    F.cross_entropy(ref(x), y).backward()
    F.cross_entropy(rule.forward_ss(x), y).backward()
    for (name, p), q in zip(rule.net.named_parameters(), ref.parameters(), strict=True):
        assert torch.allclose(p.grad, q.grad, rtol=1e-4, atol=1e-6), name
    # ... and the default (random |R|) hidden gradients differ from backprop's
    rule2 = build_rule("sign_sym", arch, SHAPE, 10, seed=0)
    F.cross_entropy(rule2.forward_ss(x), y).backward()
    g_first = rule2.net.blocks[0].op.weight.grad
    assert not torch.allclose(g_first, ref.blocks[0].op.weight.grad, rtol=1e-2, atol=1e-5)


def test_batch_manhattan_and_bad_hyperparameters(mnist_small):
    rule = build_rule("sign_sym", "mlp", SHAPE, 10, hparams={"optimizer": "manhattan", "lr": 1e-3})
    w0 = rule.net.blocks[0].op.weight.detach().clone()
    rule.train_step(mnist_small["x_train"][:32], mnist_small["y_train"][:32])
    step = (rule.net.blocks[0].op.weight.detach() - w0).abs()
    assert torch.allclose(step[step > 0], torch.full_like(step[step > 0], 1e-3), atol=1e-6)
    for hp in ({"magnitude": "gauss"}, {"lr": 0}, {"optimizer": "rmsprop"}):
        with pytest.raises(ValueError, match=next(iter(hp))):
            build_rule("sign_sym", "mlp", SHAPE, 10, hparams=hp)
