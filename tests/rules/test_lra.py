"""LRA obeys its card: block-local losses toward targets built from fixed random error feedback,
feedback never trained and not the transposed forward weights."""

import pytest
import torch
import torch.nn.functional as F

from models.training import build_rule
from tests.rules.scaffold import SHAPE, step_with_block_guard
from tests.rules.scaffold import random_batch as _batch


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_lra_grads_are_local_and_follow_feedback_targets(arch):
    x, y = _batch()
    rule = build_rule("lra", arch, SHAPE, 10, seed=0)
    twin = build_rule("lra", arch, SHAPE, 10, seed=0)
    step_with_block_guard(rule, x, y)

    net, beta = twin.net, twin.beta
    hs, us = [x], []
    with torch.no_grad():
        for block in net.blocks:
            u = block.pool(block.op(block.prepare(hs[-1])))
            us.append(u)
            hs.append(block.act(u))
        logits = net.readout(hs[-1].flatten(1))  # (n, d) -> (n, 10)
        e = logits.softmax(1) - F.one_hot(y, 10).float()  # output error
        d = (e @ twin.feedback_out.weight.T).view_as(hs[-1])  # E_out e, to the last block's shape
        ts = [None] * len(net.blocks)
        for i in range(len(net.blocks) - 1, -1, -1):
            ts[i] = net.blocks[i].act(us[i] - beta * d)  # t_l = act(u_l - beta * E e_{l+1})
            if i > 0:
                d = twin.feedback[i - 1](hs[i + 1] - ts[i])
    for i, (block, rblock) in enumerate(zip(net.blocks, rule.net.blocks, strict=True)):
        loss = 0.5 * (block(hs[i]) - ts[i]).pow(2).flatten(1).sum(1).mean()
        expected = torch.autograd.grad(loss, list(block.parameters()))
        for g, p in zip(expected, rblock.parameters(), strict=True):
            assert torch.allclose(p.grad, g, rtol=1e-4, atol=1e-8), (
                f"{arch}: block {i} is not local"
            )
    w_out = rule.net.readout.weight.grad
    assert torch.allclose(w_out, e.T @ hs[-1].flatten(1) / len(x), atol=1e-6)  # e_out x h_L^T


def test_lra_feedback_is_fixed_and_not_the_transpose(mnist_small):
    x, y = mnist_small["x_train"][:128], mnist_small["y_train"][:128]
    for arch in ("mlp", "cnn"):
        rule = build_rule("lra", arch, SHAPE, 10, seed=0)
        fb = {k: v.clone() for k, v in rule.state_dict().items() if k.startswith("feedback")}
        w0 = [b.op.weight.detach().clone() for b in rule.net.blocks]
        for i in range(0, 128, 64):
            rule.train_step(x[i : i + 64], y[i : i + 64])
        state = rule.state_dict()
        assert fb and all(torch.equal(state[k], v) for k, v in fb.items()), (
            f"{arch}: feedback changed"
        )
        assert not any(
            p.requires_grad for n, p in rule.named_parameters() if n.startswith("feedback")
        )
        for b, w in zip(rule.net.blocks, w0, strict=True):
            assert not torch.equal(b.op.weight.detach(), w), f"{arch}: a block did not learn"
        # feedback of the readout and of every dense block is not (a multiple of) W^T
        pairs = [(rule.feedback_out.weight, rule.net.readout.weight.T)]
        pairs += [
            (m.map.weight, b.op.weight.T)
            for m, b in zip(rule.feedback, rule.net.blocks[1:], strict=True)
            if m.kind == "dense"
        ]
        for e, wt in pairs:
            cos = F.cosine_similarity(e.flatten(), wt.detach().flatten(), 0)
            assert abs(float(cos)) < 0.3, f"{arch}: feedback aligned with W^T"
