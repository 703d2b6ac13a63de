"""Direct feedback alignment obeys its card: fixed feedback, no gradient crosses a block boundary,
and each hidden update is exactly (B_l e) * f'(a_l) times the block's input."""

import torch
import torch.nn.functional as F

from models.training import build_rule
from tests.rules.scaffold import SHAPE
from tests.rules.scaffold import random_batch as _batch


def test_feedback_fixed_and_shaped_like_block_outputs():
    x, y = _batch(32)
    for arch in ("mlp", "cnn"):
        rule = build_rule("dfa", arch, SHAPE, 10, seed=0)
        before = [rule.feedback(i).clone() for i in range(len(rule.net.blocks))]
        outs, _ = rule.local_forward(x)
        for _ in range(3):
            rule.train_step(x, y)
        for i, h in enumerate(outs):
            assert rule.feedback(i).shape == (10, *h.shape[1:]), (
                f"{arch}: B_{i} not (n_classes, c, h, w)"
            )
            assert torch.equal(rule.feedback(i), before[i]), f"{arch}: B_{i} changed"


def test_no_gradient_crosses_a_block_boundary():
    """Every block and the readout receive a detached input, and the loss at the logits gives no
    gradient to the hidden blocks (their only teaching signal is B_l e)."""
    x, y = _batch()
    for arch in ("mlp", "cnn"):
        rule = build_rule("dfa", arch, SHAPE, 10, seed=0)
        seen = []
        hooks = [
            m.register_forward_pre_hook(lambda m, inp, seen=seen: seen.append(inp[0].requires_grad))
            for m in (*rule.net.blocks, rule.net.readout)
        ]
        rule.train_step(x, y)
        for h in hooks:
            h.remove()
        assert seen and not any(seen), (
            f"{arch}: a block got an input attached to another layer's graph"
        )
        # Zero feedback -> hidden blocks get exactly zero gradient.
        for i in range(len(rule.net.blocks)):
            rule.feedback(i).zero_()
        rule.opt.zero_grad()
        outs, logits = rule.local_forward(x)
        loss = F.cross_entropy(logits, y)
        loss.backward()
        assert all(p.grad is None for p in rule.net.blocks.parameters())


def test_hidden_update_is_the_dfa_formula():
    """With SGD (no momentum), fc1's step is -lr * ((B_1 e) * f'(a_1))^T x, whatever W_2 and W_out are."""
    x, y = _batch()
    lr = 0.1
    rule = build_rule(
        "dfa", "mlp", SHAPE, 10, hparams={"optimizer": "sgd", "lr": lr, "momentum": 0.0}, seed=0
    )
    fc1 = rule.net.blocks[0].op
    w0 = fc1.weight.detach().clone()
    with torch.no_grad():
        inp = x.flatten(1)  # (n, 784)
        a1 = fc1(inp)  # (n, 512)
        logits = rule.net(x)
        e = (torch.softmax(logits, 1) - F.one_hot(y, 10)) / len(y)
        delta = (e @ rule.feedback(0)) * (a1 > 0)  # ReLU derivative
        expected = w0 - lr * delta.t() @ inp
    rule.train_step(x, y)
    assert torch.allclose(fc1.weight.detach(), expected, atol=1e-6)


def test_hidden_update_ignores_downstream_weights():
    """No weight transport: with W_out = 0 (so e does not depend on fc2), fc1's update is the same
    whatever fc2's weights are (under backprop it would be zero)."""
    x, y = _batch()
    hp = {"optimizer": "sgd", "momentum": 0.0}
    a = build_rule("dfa", "mlp", SHAPE, 10, hparams=hp, seed=0)
    b = build_rule("dfa", "mlp", SHAPE, 10, hparams=hp, seed=0)
    w0 = a.net.blocks[0].op.weight.detach().clone()
    with torch.no_grad():
        a.net.readout.weight.zero_()
        b.net.readout.weight.zero_()
        b.net.blocks[1].op.weight.normal_()
    a.train_step(x, y)
    b.train_step(x, y)
    assert not torch.equal(a.net.blocks[0].op.weight, w0)
    assert torch.allclose(a.net.blocks[0].op.weight, b.net.blocks[0].op.weight)
