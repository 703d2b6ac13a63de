"""CHL obeys its card: both phases follow layered dynamics with gain-scaled transposed feedback
(re-implemented here with explicit matrix products), the label enters only by clamping the output,
and each weight change is exactly lr * gain^{k-L} * (clamped - free) pre/post correlation."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from models import arch as arch_lib
from models import registry

LR, GAIN, STEPS = 0.1, 0.5, 5


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny tensors: extra threads only add synchronisation overhead on a shared CPU."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _tiny():
    torch.manual_seed(0)
    net = arch_lib.mlp((1, 4, 4), 5, hidden=(12, 10), activation="relu").double()
    for p in net.parameters():
        p.data.mul_(2.0)
    rule = registry.create(
        "chl",
        net,
        lr=LR,
        feedback_gain=GAIN,
        t_relax=STEPS,
        optimizer="sgd",
        momentum=0.0,
    )
    g = torch.Generator().manual_seed(1)
    x = torch.randn(7, 1, 4, 4, generator=g, dtype=torch.float64)
    return rule, x, torch.tensor([0, 1, 2, 3, 4, 0, 1])


def _manual_phase(rule, x, target=None):
    """Independent layered dynamics: h_k = clip(relu(W_k h_{k-1} + b_k + gain W_{k+1}^T h_{k+1}),
    -1, 1), output o = clip(W_o h_N + b_o, 0, 1) (or the clamped target); synchronous updates."""
    ws = [b.op for b in rule.net.blocks] + [rule.net.readout]
    x0 = x.flatten(1)  # (n, 1, 4, 4) -> (n, 16)
    hs, h = [], x0
    for op in ws[:-1]:
        h = op(h).relu().clamp(-1, 1)
        hs.append(h)
    hs.append(ws[-1](h).clamp(0, 1) if target is None else target)
    for _ in range(STEPS):
        new = []
        for k, op in enumerate(ws[:-1]):
            u = op(x0 if k == 0 else hs[k - 1]) + GAIN * hs[k + 1] @ ws[k + 1].weight
            new.append(u.relu().clamp(-1, 1))
        new.append(ws[-1](hs[-2]).clamp(0, 1) if target is None else target)
        hs = new
    return [x0, *hs]


@torch.no_grad()
def test_phases_are_the_symmetric_feedback_dynamics_and_only_clamping_sees_labels():
    rule, x, y = _tiny()
    target = F.one_hot(y, 5).double()
    free, clamped = rule.free_phase(x), rule.clamped_phase(x, y)
    for a, b in zip(free, _manual_phase(rule, x)[1:], strict=True):
        assert torch.allclose(a, b)
    for a, b in zip(clamped, _manual_phase(rule, x, target)[1:], strict=True):
        assert torch.allclose(a, b)
    # labels only reach the network through the clamped output: another label, another clamp
    other = rule.clamped_phase(x, (y + 1) % 5)
    assert not torch.allclose(other[-2], clamped[-2])
    assert torch.equal(rule.free_phase(x)[-2], free[-2])


def test_update_is_the_difference_of_local_correlations():
    rule, x, y = _tiny()
    target = F.one_hot(y, 5).double()
    with torch.no_grad():
        plus, minus = _manual_phase(rule, x, target), _manual_phase(rule, x)
    ops = [b.op for b in rule.net.blocks] + [rule.net.readout]
    n_layers = len(ops)
    expected = {}
    for k, op in enumerate(ops, start=1):
        scale = LR * GAIN ** (k - n_layers) / x.shape[0]
        dw = plus[k].T @ plus[k - 1] - minus[k].T @ minus[k - 1]  # (out, in) summed over batch
        db = (plus[k] - minus[k]).sum(0)
        expected[id(op.weight)] = op.weight.detach() + scale * dw
        expected[id(op.bias)] = op.bias.detach() + scale * db
    rule.train_step(x, y)
    for p in rule.net.parameters():
        assert torch.allclose(p, expected[id(p)]), "CHL step is not the correlation contrast"


def test_cnn_update_is_local_to_each_layer():
    """On a conv net, a layer's update depends only on its own and its input's states: changing a
    state elsewhere (beyond the layer's pre/post pair) leaves the layer's contrast unchanged."""
    from models.rules.energy import _ep_energy as ep

    torch.manual_seed(0)
    net = arch_lib.cnn((1, 8, 8), 5, channels=(3, 4), hidden=6).double()
    rule = registry.create("chl", net, feedback_gain=GAIN, t_relax=3)
    x = torch.randn(4, 1, 8, 8, dtype=torch.float64)
    states = rule.free_phase(x)
    base = ep.param_grads(net, x, states, rule.gains)
    names = [n for n, _ in net.named_parameters()]
    for j in range(len(states)):  # perturb one state, only layers j (post) and j+1 (pre) change
        pert = [s.clone() for s in states]
        pert[j] = pert[j] + 0.1
        grads = ep.param_grads(net, x, pert, rule.gains)
        for name, a, b in zip(names, base, grads, strict=True):
            layer = len(net.blocks) if name.startswith("readout") else int(name.split(".")[1])
            if layer not in (j, j + 1):
                assert torch.equal(a, b), f"{name} depends on state {j}"
            elif name.endswith("weight"):
                assert not torch.equal(a, b), f"{name} ignores its own pre/post state {j}"
