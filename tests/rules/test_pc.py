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


def test_curvature_steps_scale_each_node_by_its_curvature_bound():
    """With ``curvature_steps`` node l's step is ``inference_lr / (1 + g ||W_{l+1}||_2^2)`` (g = 1/2
    for the cross-entropy readout), and that bound is not below the energy's measured curvature."""
    x, y = _batch(8)
    rule = build_rule(
        "pc", "mlp", SHAPE, 10, arch_params=SMALL["mlp"], hparams={"curvature_steps": True}, seed=0
    )
    net = rule.net
    with torch.no_grad():  # grow the weights, as training does, so that the bound matters
        for p in net.parameters():
            p.mul_(3.0)
    for _ in range(30):  # one power iteration per minibatch after the first 20
        scales = rule.step_scales(refine=True)
    above = [b.op.weight.detach() for b in net.blocks[1:]] + [net.readout.weight.detach()]
    gains = [1.0] * (len(above) - 1) + [0.5]
    for i, (w, g, s) in enumerate(zip(above, gains, scales, strict=True)):
        bound = 1 + g * float(torch.linalg.matrix_norm(w, 2)) ** 2
        assert s == pytest.approx(1 / bound, rel=1e-3), f"node {i + 1}"
        values = [a.detach().requires_grad_(True) for a in rule.init_values(x)]
        v = torch.randn_like(values[i])
        for _ in range(50):  # power iteration on this node's Hessian block, per example
            v = v / v.norm(dim=1, keepdim=True)
            (grad,) = torch.autograd.grad(rule.energy(x, values, y), values[i], create_graph=True)
            (v,) = torch.autograd.grad((grad * v).sum(), values[i])
        assert v.norm(dim=1).max() <= bound * (1 + 1e-4), f"node {i + 1}: curvature above the bound"
        assert v.norm(dim=1).max() > 1.5, f"node {i + 1}: the weights should make it curved"
    assert max(scales) < 0.5 and rule.step_scales() == scales  # no refinement: same scales
    with pytest.raises(ValueError, match="curvature_steps"):
        build_rule("pc", "mlp", SHAPE, 10, hparams={"curvature_steps": 1}, seed=0)


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_curvature_steps_keep_inference_descending_where_fixed_steps_overshoot(arch):
    """Grown weights make a fixed step overshoot (plain inference, no backtracking); steps scaled by
    each node's curvature bound descend on every example, and the power-iteration state is saved."""
    x, y = _batch()

    def pc(**hp):
        rule = build_rule("pc", arch, SHAPE, 10, arch_params=SMALL[arch], hparams=hp, seed=0)
        with torch.no_grad():
            for p in rule.net.parameters():
                p.mul_(3.0)
        return rule

    fixed, scaled = pc(inference_lr=0.5), pc(inference_lr=0.5, curvature_steps=True)
    scaled.step_scales(refine=True)
    f_fixed = torch.stack([fixed.energies(x, fixed.infer(x, y, k), y) for k in range(9)])  # (9, n)
    f_scaled = torch.stack([scaled.energies(x, scaled.infer(x, y, k), y) for k in range(9)])
    assert (f_fixed.diff(dim=0) > 1e-4).any(), "a fixed step of 0.5 should overshoot here"
    assert (f_scaled.diff(dim=0) <= 1e-4).all(), "a curvature-scaled step raised an energy"
    assert (f_scaled[-1] < 0.99 * f_scaled[0]).all(), "curvature-scaled inference made no progress"
    state = scaled.state_dict()
    assert {"_power_0", "_power_warm"} <= set(state), "the power iterations' state is not saved"
    twin = pc(inference_lr=0.5, curvature_steps=True)
    assert not torch.equal(twin._power_0, scaled._power_0)
    twin.load_state_dict(state)
    assert torch.equal(twin._power_0, scaled._power_0) and bool(twin._power_warm)
