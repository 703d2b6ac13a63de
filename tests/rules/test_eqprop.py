"""EqProp obeys its card: its weight update is the EP estimate of the gradient of the loss at the
free equilibrium of a network with symmetric feedback (checked against backprop-through-time of
independently written dynamics), and it needs only the two nudged phases' local correlations."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from models import arch as arch_lib
from models import registry
from models.rules.energy import _ep_energy as ep


def _tiny_rule(arch: str, beta: float, **kw):
    torch.manual_seed(0)
    if arch == "mlp":
        net = arch_lib.mlp((1, 4, 4), 5, hidden=(12, 10), activation="sigmoid")
    else:
        net = arch_lib.cnn((1, 8, 8), 5, channels=(3, 4), hidden=6, activation="sigmoid")
    net = net.double()
    for p in net.parameters():  # stronger weights: feedback matters, dynamics still contract
        p.data.mul_(2.0)
    return registry.create("eqprop", net, beta=beta, t_free=150, t_nudge=150, t_eval=150, **kw)


def _data(arch: str):
    g = torch.Generator().manual_seed(1)
    shape = (6, 1, 4, 4) if arch == "mlp" else (6, 1, 8, 8)
    return torch.randn(shape, generator=g, dtype=torch.float64), torch.tensor([0, 1, 2, 3, 4, 0])


def _bptt_mlp(rule, x, y, steps=150):
    """Gradient of CE at the free equilibrium by BPTT through independently written dynamics:
    s_k = sigmoid(W_k s_{k-1} + b_k + W_{k+1}^T s_{k+1}) (synchronous), readout on s_N."""
    net = rule.net
    ws = [b.op for b in net.blocks]
    h = x.flatten(1)  # (n, 1, 4, 4) -> (n, 16)
    s = []
    for op in ws:
        h = torch.sigmoid(op(h))
        s.append(h)
    for _ in range(steps):
        new = []
        for k, op in enumerate(ws):
            prev = x.flatten(1) if k == 0 else s[k - 1]  # (n, 16) input for the first layer
            u = op(prev)
            if k + 1 < len(ws):
                u = u + s[k + 1] @ ws[k + 1].weight
            new.append(torch.sigmoid(u))
        s = new
    loss = F.cross_entropy(net.readout(s[-1]), y, reduction="mean")
    return torch.autograd.grad(loss, list(net.parameters()))


def _bptt_energy(rule, x, y, steps=150):
    """BPTT through the energy's own fixed-point dynamics (used for the conv net)."""
    net = rule.net
    s = ep.feedforward_states(net, x, rule.state_bound)
    for _ in range(steps):
        leaves = s
        phi = ep.primitive(net, x, leaves, rule.gains)
        drives = torch.autograd.grad(phi, leaves, create_graph=True)
        s = [ep.rho(b.act, d, rule.state_bound) for b, d in zip(net.blocks, drives, strict=True)]
    loss = F.cross_entropy(net.readout(s[-1].flatten(1)), y)  # (n, c, h, w) -> (n, features)
    return torch.autograd.grad(loss, list(net.parameters()))


def _cos(a, b):
    return float(
        F.cosine_similarity(
            torch.cat([t.flatten() for t in a]), torch.cat([t.flatten() for t in b]), 0
        )
    )


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_ep_estimate_matches_bptt_gradient_as_beta_vanishes(arch):
    x, y = _data(arch)
    cosines = {}
    for beta in (0.5, 1e-3):
        rule = _tiny_rule(arch, beta)
        if arch == "cnn":
            ref = _bptt_energy(rule, x, y)
        else:
            ref = _bptt_mlp(rule, x, y)
        est, _ = rule.ep_gradient(x, y)
        cosines[beta] = _cos(est, ref)
        if beta < 0.01:  # also layer by layer, and in magnitude
            for e, r in zip(est, ref, strict=True):
                assert F.cosine_similarity(e.flatten(), r.flatten(), 0) > 0.99
            assert torch.cat([e.flatten() for e in est]).norm() == pytest.approx(
                float(torch.cat([r.flatten() for r in ref]).norm()), rel=0.05
            )
    assert cosines[1e-3] > 0.999, cosines
    assert cosines[1e-3] >= cosines[0.5] - 1e-6, cosines


def test_train_step_applies_the_estimate_and_symmetric_nudging_is_sign_free():
    x, y = _data("mlp")
    rule = _tiny_rule("mlp", 0.2)
    torch.manual_seed(0)
    est_a, _ = rule.ep_gradient(x, y)
    rule.random_sign = False
    est_b, _ = rule.ep_gradient(x, y)
    # the symmetric estimate does not depend on which sign is drawn first
    assert all(torch.allclose(a, b) for a, b in zip(est_a, est_b, strict=True))
    # and the one-sided estimate with the same beta is a different (biased) estimate
    rule.symmetric = False
    est_c, _ = rule.ep_gradient(x, y)
    assert not all(torch.allclose(a, c) for a, c in zip(est_a, est_c, strict=True))
    # the readout's own parameters are updated by its local delta rule, nothing else flows to it
    rule.symmetric = True
    before = [p.detach().clone() for p in rule.net.parameters()]
    grads, _ = rule.ep_gradient(x, y)
    rule.optimizer = torch.optim.SGD(rule.net.parameters(), lr=0.1)
    torch.manual_seed(0)
    rule.train_step(x, y)
    for p0, p, g in zip(before, rule.net.parameters(), grads, strict=True):
        assert torch.allclose(p, p0 - 0.1 * g)


def test_free_phase_is_label_free_and_a_fixed_point():
    x, y = _data("mlp")
    rule = _tiny_rule("mlp", 0.5)
    s = rule.free_phase(x)
    again = ep.relax(rule.net, x, s, 1, bound=rule.state_bound, gains=rule.gains)
    assert all(torch.allclose(a, b, atol=1e-8) for a, b in zip(s, again, strict=True))
    nudged = rule.nudged_phase(x, y, s, 0.5)
    assert not torch.allclose(nudged[-1], s[-1])  # the label enters only through the nudge


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny tensors: extra threads only add synchronisation overhead on a shared CPU."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_smooth_relu_state_keeps_the_hard_sigmoids_centre_and_slope():
    """relu_state=sigmoid: bound * sigmoid(4u/bound - 2), strictly inside (0, bound), equal to the
    hard sigmoid in value and slope (1) at u = bound/2; other activations are only clipped."""
    relu, bound = torch.nn.ReLU(), 2.0
    u = torch.linspace(-3, 5, 801, dtype=torch.float64)
    smooth = ep.rho(relu, u, bound, smooth=True)
    assert torch.all((smooth > 0) & (smooth < bound))
    assert torch.equal(ep.rho(relu, u, bound), u.clamp(0, bound))
    centre = torch.tensor(bound / 2, dtype=torch.float64, requires_grad=True)
    value = ep.rho(relu, centre, bound, smooth=True)
    assert float(value.detach()) == pytest.approx(bound / 2)
    assert float(torch.autograd.grad(value, centre)[0]) == pytest.approx(1.0)
    tanh = torch.nn.Tanh()
    assert torch.equal(ep.rho(tanh, u, 1.0, smooth=True), ep.rho(tanh, u, 1.0))


def test_relu_state_reaches_every_phase_and_is_checked():
    torch.manual_seed(0)
    net = arch_lib.mlp((1, 4, 4), 5, hidden=(12, 10), activation="relu")
    x = torch.randn(6, 1, 4, 4)
    states = {}
    for kind in ("hard_sigmoid", "sigmoid"):
        rule = registry.create("eqprop", net, t_free=3, relu_state=kind)
        states[kind] = rule.free_phase(x)
    assert all((s > 0).all() and (s < 1).all() for s in states["sigmoid"])
    assert any((s == 0).any() for s in states["hard_sigmoid"])  # ReLU's flat part, clipped
    with pytest.raises(ValueError, match="relu_state"):
        registry.create("eqprop", net, relu_state="tanh")
