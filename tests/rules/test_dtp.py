"""DTP obeys its card: block-local losses only, targets follow the difference formula, inverses learn
from reconstruction only."""

import pytest
import torch
import torch.nn.functional as F

from models.training import build_rule
from tests.rules.scaffold import SHAPE, step_with_block_guard
from tests.rules.scaffold import random_batch as _batch


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_dtp_grads_are_block_local_with_difference_targets(arch):
    x, y = _batch()
    rule = build_rule("dtp", arch, SHAPE, 10, seed=0)
    twin = build_rule("dtp", arch, SHAPE, 10, seed=0)
    step_with_block_guard(rule, x, y)

    # the expected local gradients, recomputed independently on the (identical, untrained) twin
    net, beta = twin.net, twin.beta
    hs = [x]
    with torch.no_grad():
        for block in net.blocks:
            hs.append(block(hs[-1]))
    top = hs[-1].clone().requires_grad_(True)
    # each example's own cross-entropy gradient (not scaled by 1 / batch size)
    ce = F.cross_entropy(net.readout(top.flatten(1)), y, reduction="sum")
    (g_top,) = torch.autograd.grad(ce, top)
    ts = [None] * len(net.blocks)
    ts[-1] = (hs[-1] - beta * g_top).detach()
    with torch.no_grad():
        for i in range(len(net.blocks) - 1, 0, -1):  # t_{l-1} = h_{l-1} + g_l(t_l) - g_l(h_l)
            g = twin.inverses[i - 1]
            ts[i - 1] = hs[i] + g(ts[i]) - g(hs[i + 1])
    for i, (block, rblock) in enumerate(zip(net.blocks, rule.net.blocks, strict=True)):
        loss = 0.5 * (block(hs[i]) - ts[i]).pow(2).flatten(1).sum(1).mean()
        expected = torch.autograd.grad(loss, list(block.parameters()))
        for e, p in zip(expected, rblock.parameters(), strict=True):
            assert torch.allclose(p.grad, e, rtol=1e-4, atol=1e-7), (
                f"{arch}: block {i} is not local"
            )
    ro = torch.autograd.grad(
        F.cross_entropy(net.readout(hs[-1].flatten(1)), y), list(net.readout.parameters())
    )
    for e, p in zip(ro, rule.net.readout.parameters(), strict=True):
        assert torch.allclose(p.grad, e, rtol=1e-4, atol=1e-7)
    # the inverses learn (from their reconstruction loss)
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in rule.inverses.parameters())


def test_dtp_lower_updates_are_not_backprop():
    """With untrained inverses, hidden updates are far from the backprop gradient (no hidden BP path)."""
    x, y = _batch()
    rule = build_rule("dtp", "mlp", SHAPE, 10, seed=0)
    ref = build_rule("bp", "mlp", SHAPE, 10, seed=0).net
    rule.train_step(x, y)
    F.cross_entropy(ref(x), y).backward()
    w, r = rule.net.blocks[0].op.weight.grad, ref.blocks[0].op.weight.grad
    assert abs(float(F.cosine_similarity(w.flatten(), r.flatten(), 0))) < 0.9


def test_dtp_learns_a_better_inverse(mnist_small):
    """With the forward weights (almost) frozen, the noisy reconstruction error of the inverses falls."""
    x = mnist_small["x_train"][:512]
    y = mnist_small["y_train"][:512]
    rule = build_rule("dtp", "mlp", SHAPE, 10, hparams={"lr": 1e-12}, seed=0)
    first = rule.train_step(x[:64], y[:64])["reconstruction"]
    for _ in range(3):
        for i in range(0, 512, 64):
            last = rule.train_step(x[i : i + 64], y[i : i + 64])["reconstruction"]
    assert last < first


def test_dtp_weight_decay_reaches_forward_weights_only():
    """``weight_decay`` is L2 on the forward weights (it bounds their growth at paper scale); the
    inverses stay undecayed."""
    rule = build_rule("dtp", "mlp", SHAPE, 10, hparams={"weight_decay": 1e-5}, seed=0)
    fwd, inv = rule.optimizer.param_groups
    assert {id(p) for p in fwd["params"]} == {id(p) for p in rule.net.parameters()}
    assert {id(p) for p in inv["params"]} == {id(p) for p in rule.inverses.parameters()}
    assert fwd["weight_decay"] == 1e-5 and inv["weight_decay"] == 0
    with pytest.raises(ValueError, match="weight_decay"):
        build_rule("dtp", "mlp", SHAPE, 10, hparams={"weight_decay": -1.0}, seed=0)
