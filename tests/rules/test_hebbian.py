"""The hebbian rule's card: hidden blocks learn without labels, errors or gradients."""

import pytest
import torch

from models.rules.hebbian._hebb_local import soft_hebb_step
from models.training import build_rule


def _rule(arch):
    return build_rule("hebbian", arch, (1, 28, 28), 10, seed=0)


def _hidden(rule):
    return [b.op.weight.detach().clone() for b in rule.net.blocks]


def test_hidden_updates_ignore_labels_and_receive_no_gradient(mnist_small):
    x, y = mnist_small["x_train"][:64], mnist_small["y_train"][:64]
    for arch in ("mlp", "cnn"):
        a, b = _rule(arch), _rule(arch)
        before = _hidden(a)
        a.train_step(x, y)
        b.train_step(x, (y + 1 + torch.randint(0, 9, y.shape)) % 10)  # every label changed
        for wa, wb, w0 in zip(_hidden(a), _hidden(b), before, strict=True):
            assert torch.equal(wa, wb), "a hidden update depends on the labels"
            assert not torch.equal(wa, w0), "hidden blocks did not learn"
        assert not torch.equal(a.net.readout.weight, b.net.readout.weight), (
            "the readout ignores labels"
        )
        assert all(blk.op.weight.grad is None and blk.op.bias.grad is None for blk in a.net.blocks)


@pytest.mark.parametrize("subtractive", [False, True])
@pytest.mark.parametrize("centred", [False, True])
@pytest.mark.parametrize("anti", [False, True])
def test_soft_hebb_matches_the_local_formula(anti, centred, subtractive):
    """dW_k = eta_k y_k (x - u_k w_k); with anti-Hebbian plasticity the losers' y_k change sign;
    with a presynaptic mean m the Hebbian term reads x - m and the bias becomes -W m; with
    subtractive normalisation each neuron's Hebbian term loses its mean over its synapses."""
    torch.manual_seed(0)
    op = torch.nn.Linear(6, 4)
    x = torch.randn(5, 6) + 2.0
    m = torch.randn(6) + 2.0 if centred else None
    w0, b0 = op.weight.detach().clone(), op.bias.detach().clone()
    soft_hebb_step(
        op, x, lr=0.1, temperature=0.5, anti_hebbian=anti, pre_mean=m, subtractive=subtractive
    )
    u = x @ w0.t() + b0  # (n, out) the post-synaptic pre-activation, with the bias it had
    z = (u - u.mean(1, keepdim=True)) / (u.std(1, keepdim=True) + 1e-6)
    y = torch.softmax(z / 0.5, 1)
    if anti:
        winner = u == u.amax(1, keepdim=True)  # (n, out)
        y = torch.where(winner, y, -y)
    pre = x - m if centred else x
    hebb = y.t() @ pre  # (out, in)
    if subtractive:
        hebb = hebb - hebb.mean(1, keepdim=True)
    delta = hebb - (y * u).sum(0)[:, None] * w0  # sum_n y_k (x_n - u_k w_k)
    delta = delta / delta.abs().max()
    eta = 0.1 * (w0.norm(dim=1) - 1).abs().sqrt()
    assert torch.allclose(op.weight, w0 + eta[:, None] * delta, atol=1e-6)
    expect_bias = -(op.weight @ m) if centred else b0
    assert torch.allclose(op.bias, expect_bias, atol=1e-6)


def test_conv_centring_is_per_input_channel():
    """A conv block's mean is one number per input channel; -W m then equals the drive of an
    input that is m everywhere (away from the padded border)."""
    torch.manual_seed(0)
    op = torch.nn.Conv2d(2, 3, 3, padding=1)
    x, m = torch.randn(2, 2, 5, 5) + 1.0, torch.tensor([1.0, -0.5])
    soft_hebb_step(op, x, lr=0.1, temperature=0.5, pre_mean=m)
    const = m.view(1, 2, 1, 1).expand(1, 2, 5, 5)
    with torch.no_grad():
        centre = op(const)[0, :, 2, 2]  # an interior position
    assert torch.allclose(centre, torch.zeros(3), atol=1e-5)


def test_input_means_are_label_free_running_means(mnist_small):
    """Each block's input mean is the running mean of its batches (cumulative at first); labels
    play no part; with centre_inputs off, biases stay at their init."""
    x, y = mnist_small["x_train"][:64], mnist_small["y_train"][:64]
    rule = _rule("mlp")
    rule.train_step(x[:32], y[:32])
    assert torch.allclose(rule.input_mean0, x[:32].flatten(1).mean(0), atol=1e-6)
    rule.train_step(x[32:], y[32:])
    assert torch.allclose(rule.input_mean0, x.flatten(1).mean(0), atol=1e-6)
    fc1_out = rule.net.blocks[0](x[:32].flatten(1))
    assert rule.input_mean1.shape == (fc1_out.shape[1],)
    off = build_rule("hebbian", "mlp", (1, 28, 28), 10, seed=0, hparams={"centre_inputs": False})
    b0 = [blk.op.bias.clone() for blk in off.net.blocks]
    off.train_step(x[:32], y[:32])
    assert all(torch.equal(blk.op.bias, b) for blk, b in zip(off.net.blocks, b0, strict=True))
    assert torch.count_nonzero(off.input_mean0) == 0


def test_conv_hebbian_term_is_the_patch_correlation():
    torch.manual_seed(0)
    from models.rules.hebbian._hebb_local import outer

    op = torch.nn.Conv2d(2, 3, 3, padding=1)
    x, post = torch.randn(2, 2, 5, 5), torch.rand(2, 3, 5, 5)
    patches = torch.nn.functional.unfold(x, 3, padding=1)  # (n, 2*3*3, 25)
    ref = torch.einsum("ncp,nkp->ck", post.flatten(2), patches).view(3, 2, 3, 3)
    assert torch.allclose(outer(op, x, post), ref, atol=1e-5)


def _conv_u_y(x: torch.Tensor, w0: torch.Tensor, b0: torch.Tensor):
    """A 3x3 same-padded conv's drive u and its soft-WTA output y at temperature 0.5."""
    u = torch.nn.functional.conv2d(x, w0, b0, padding=1)  # (n, out, h, w)
    z = (u - u.mean(1, keepdim=True)) / (u.std(1, keepdim=True) + 1e-6)
    return u, torch.softmax(z / 0.5, 1)


def _one_conv_step(x: torch.Tensor, **kwargs):
    """One soft_hebb_step of a seeded 2 -> 3 channel conv on ``x``: the conv, its weights before
    the step, and the u and y they gave."""
    torch.manual_seed(0)
    op = torch.nn.Conv2d(2, 3, 3, padding=1)
    w0, b0 = op.weight.detach().clone(), op.bias.detach().clone()
    soft_hebb_step(op, x, lr=0.1, temperature=0.5, **kwargs)
    with torch.no_grad():
        return (op, w0, *_conv_u_y(x, w0, b0))


def _after_step(w0: torch.Tensor, hebb: torch.Tensor, y: torch.Tensor, u: torch.Tensor):
    """The conv weights after one SoftHebb step at lr 0.1 with Hebbian term ``hebb``."""
    from models.rules.hebbian._hebb_local import per_neuron

    delta = hebb - per_neuron(w0, (y * u).sum((0, 2, 3)))
    delta = delta / delta.abs().max()
    return w0 + per_neuron(delta, 0.1 * (w0.flatten(1).norm(dim=1) - 1).abs().sqrt())


def _dc_share(w: torch.Tensor) -> float:
    """The mean share of each filter's norm that lies along the constant filter."""
    flat = w.flatten(1)
    return float((flat.mean(1).abs() * flat.shape[1] ** 0.5 / flat.norm(dim=1)).mean())


def test_conv_subtractive_norm_reads_each_patch_relative_to_its_mean():
    """In a conv, subtractive normalisation is y_k (patch - mean of the patch): the filters'
    Hebbian term sums to zero, so repeated steps on non-negative images drive each filter's mean
    towards zero instead of towards the mean patch (what the plain rule learns)."""
    from models.rules.hebbian._hebb_local import outer

    x = torch.rand(2, 2, 5, 5, generator=torch.Generator().manual_seed(0))
    op, w0, u, y = _one_conv_step(x, subtractive=True)
    with torch.no_grad():
        patches = torch.nn.functional.unfold(x, 3, padding=1)  # (n, 2*3*3, 25)
        patches = patches - patches.mean(1, keepdim=True)  # each patch relative to its mean
        hebb = torch.einsum("nkp,ncp->kc", y.flatten(2), patches).view_as(w0)
        plain_hebb = outer(op, x, y)
        assert torch.allclose(hebb, plain_hebb - plain_hebb.mean((1, 2, 3), True), atol=1e-5)
        assert torch.allclose(op.weight, _after_step(w0, hebb, y, u), atol=1e-6)
    plain, sub = (torch.nn.Conv2d(2, 3, 3, padding=1) for _ in range(2))
    sub.load_state_dict(plain.state_dict())
    for _ in range(200):
        soft_hebb_step(plain, x, lr=0.1, temperature=0.5)
        soft_hebb_step(sub, x, lr=0.1, temperature=0.5, subtractive=True)
    dc = [_dc_share(m.weight.detach()) for m in (plain, sub)]
    assert dc[0] > 0.5 and dc[1] < 0.1, f"share of the filters' norm in their mean: {dc}"


def test_conv_anti_hebbian_losers_are_per_position():
    """In a conv the winner is the channel with the largest u at each position: the anti-Hebbian
    step is the conv SoftHebb formula with every other channel's y negated there."""
    from models.rules.hebbian._hebb_local import outer

    x = torch.randn(2, 2, 5, 5, generator=torch.Generator().manual_seed(0))
    op, w0, u, y = _one_conv_step(x, anti_hebbian=True)
    with torch.no_grad():
        y = torch.where(u == u.amax(1, keepdim=True), y, -y)  # losers per position
        assert torch.allclose(op.weight, _after_step(w0, outer(op, x, y), y, u), atol=1e-6)
