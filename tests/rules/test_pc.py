"""PC obeys its card: each weight update is the layer's post-synaptic error times its pre-synaptic
rate (computed here by hand, not by autograd), and with weak output clamping and many inference steps
the update approaches the backprop gradient."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from models import arch as arch_lib
from models import registry
from models.training import build_rule
from tests.rules.scaffold import SHAPE
from tests.rules.scaffold import random_batch as _batch

SMALL = {"mlp": {"hidden": [64, 32]}, "cnn": {"channels": [8, 16, 16], "hidden": 32}}


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_pc_updates_are_error_times_presynaptic_rate(arch):
    x, y = _batch()
    hp = {"n_inference": 5}
    rule = build_rule("pc", arch, SHAPE, 10, arch_params=SMALL[arch], hparams=hp, seed=0)
    twin = build_rule("pc", arch, SHAPE, 10, arch_params=SMALL[arch], hparams=hp, seed=0)
    rule.train_step(x, y)
    values = twin.infer(x, y)  # deterministic: the same relaxed value nodes the rule used
    n, net = len(x), twin.net
    pre = x
    with torch.no_grad():
        for i, (block, rblock) in enumerate(zip(net.blocks, rule.net.blocks, strict=True)):
            inp = block.prepare(pre)  # pre-synaptic rate as the op sees it
            err = values[i] - block.op(inp)  # post-synaptic error e_l = a_l - mu_l
            if isinstance(block.op, nn.Conv2d):
                dw = torch.nn.grad.conv2d_weight(
                    inp, block.op.weight.shape, err, padding=block.op.padding
                )
                db = err.sum((0, 2, 3))
            else:
                dw, db = err.T @ inp, err.sum(0)  # (out, n) @ (n, in)
            assert torch.allclose(rblock.op.weight.grad, -dw / n, rtol=1e-4, atol=1e-7), (
                f"{arch}: W_{i + 1}"
            )
            assert torch.allclose(rblock.op.bias.grad, -db / n, rtol=1e-4, atol=1e-7), (
                f"{arch}: b_{i + 1}"
            )
            assert err.abs().sum() > 0, f"{arch}: layer {i + 1} got no error after inference"
            pre = block.pool(block.act(values[i]))
        r_top = pre.flatten(1)  # (n, d)
        e_out = F.one_hot(y, 10).float() - net.readout(r_top).softmax(1)  # clamped output's error
        assert torch.allclose(
            rule.net.readout.weight.grad, -e_out.T @ r_top / n, rtol=1e-4, atol=1e-7
        )


def test_pc_without_inference_only_trains_the_readout():
    """Forward-initialised value nodes carry no error: the hidden layers learn only through inference."""
    x, y = _batch()
    rule = build_rule("pc", "mlp", SHAPE, 10, hparams={"n_inference": 0}, seed=0)
    rule.train_step(x, y)
    for block in rule.net.blocks:
        assert block.op.weight.grad.abs().max() == 0
    assert rule.net.readout.weight.grad.abs().max() > 0


@pytest.mark.parametrize("output_loss", ["ce", "mse"])
def test_pc_approximates_backprop_with_weak_output_clamping(output_loss):
    torch.manual_seed(0)
    shape = (1, 6, 6)
    x, y = _batch(8, shape=shape)
    net = arch_lib.mlp(shape, 10, hidden=(24, 16), activation="tanh")
    ref = arch_lib.mlp(shape, 10, hidden=(24, 16), activation="tanh")
    ref.load_state_dict(net.state_dict())
    w = 1e-3
    rule = registry.create(
        "pc", net, n_inference=150, inference_lr=0.3, output_loss=output_loss, output_weight=w
    )
    rule.optimizer.zero_grad()
    rule.weight_grads(x, y, rule.infer(x, y))
    out = ref(x)
    if output_loss == "ce":
        loss = F.cross_entropy(out, y)
    else:
        loss = 0.5 * (F.one_hot(y, 10).float() - out).pow(2).sum(1).mean()
    loss.backward()
    for (name, p), q in zip(net.named_parameters(), ref.parameters(), strict=True):
        cos = float(F.cosine_similarity(p.grad.flatten(), q.grad.flatten(), 0))
        assert cos > 0.99, f"{output_loss}: {name} cos={cos:.4f}"
        rel = float((p.grad / w - q.grad).norm() / q.grad.norm())
        assert rel < 0.05, f"{output_loss}: {name} relative error {rel:.3f}"


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_backtracking_inference_never_raises_any_examples_energy(arch):
    """With ``backtrack`` each example keeps a step only if its own F falls, so a step size at which
    plain inference diverges still gives a monotone descent (same number of steps)."""
    x, y = _batch()
    hp = {"n_inference": 6, "inference_lr": 5.0}
    plain = build_rule("pc", arch, SHAPE, 10, arch_params=SMALL[arch], hparams=hp, seed=0)
    safe = build_rule(
        "pc", arch, SHAPE, 10, arch_params=SMALL[arch], hparams={**hp, "backtrack": True}, seed=0
    )
    f_plain = torch.stack([plain.energies(x, plain.infer(x, y, k), y) for k in range(7)])  # (7, n)
    f_safe = torch.stack([safe.energies(x, safe.infer(x, y, k), y) for k in range(7)])
    assert (f_plain.diff(dim=0) > 1e-6).any(), "plain inference at this step size should overshoot"
    assert (f_safe.diff(dim=0) <= 1e-6).all(), "backtracking inference raised an example's energy"
    assert (f_safe[-1] < f_safe[0]).float().mean() > 0.5, "backtracking inference made no progress"


def test_pc_weight_decay_is_decoupled_from_the_local_updates():
    """``weight_decay`` shrinks every weight by ``lr * weight_decay`` (AdamW) on top of the same Adam
    step: an L2 term added to the PC gradients would swamp the small errors that reach the lower
    layers after a few inference steps."""
    x, y = _batch()
    lr, wd = 1e-2, 0.5

    def pc(**hp):
        return build_rule("pc", "cnn", SHAPE, 10, arch_params=SMALL["cnn"], hparams=hp, seed=0)

    plain, decayed = pc(lr=lr), pc(lr=lr, weight_decay=wd)
    before = [p.detach().clone() for p in plain.net.parameters()]
    plain.train_step(x, y)
    decayed.train_step(x, y)
    for w0, p, q in zip(before, plain.net.parameters(), decayed.net.parameters(), strict=True):
        assert torch.allclose(q - p, -lr * wd * w0, atol=1e-6)
    with pytest.raises(ValueError, match="weight_decay"):
        build_rule("pc", "mlp", SHAPE, 10, hparams={"weight_decay": -1.0}, seed=0)
