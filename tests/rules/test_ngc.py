"""NGC obeys its card: generators learn from (error below) x (rate of their own layer), encoder
blocks from their own settled-latent prediction on a detached input, and labels reach only the readout."""

import pytest
import torch
import torch.nn.functional as F

from models.training import build_rule

SHAPE = (1, 28, 28)
SMALL = {"mlp": {"hidden": [64, 32]}, "cnn": {"channels": [8, 16, 16], "hidden": 32}}


def _batch(n=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, *SHAPE, generator=g), torch.randint(0, 10, (n,), generator=g)


def _rule(arch):
    return build_rule(
        "ngc", arch, SHAPE, 10, arch_params=SMALL[arch], hparams={"n_inference": 4}, seed=0
    )


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_ngc_updates_are_local(arch):
    x, y = _batch()
    rule, twin = _rule(arch), _rule(arch)
    calls = []

    def hook(mod, args):
        if torch.is_grad_enabled():
            calls.append(args[0].grad_fn is None)

    handles = [m.register_forward_pre_hook(hook) for m in [*rule.net.blocks, rule.net.readout]]
    rule.train_step(x, y)
    for h in handles:
        h.remove()
    assert calls and all(calls), "a block ran on an input still attached to another layer's graph"

    zs = twin.infer(x)  # deterministic: the latents the rule settled to
    n, below = len(x), [x] + zs[:-1]
    with torch.no_grad():
        for i, (gen, rgen) in enumerate(zip(twin.generators, rule.generators, strict=True)):
            rate = F.relu(zs[i])  # pre-synaptic: the rate of layer l
            if gen.kind == "conv":
                # (n, c, H/2, W/2) -> (n, c, H, W): the un-pooled rate the generator's conv sees
                rate = F.interpolate(rate, size=gen.pre_pool_shape[1:], mode="nearest")
                err = below[i] - gen(zs[i].relu())  # post-synaptic: the error of the layer below
                dw = torch.nn.grad.conv2d_weight(
                    rate, gen.map.weight.shape, err, padding=gen.map.padding
                )
            else:
                err = (below[i] - gen(rate)).flatten(1)  # (n, ...) -> (n, d_below)
                dw = err.T @ rate.flatten(1)  # (d_below, n) @ (n, d_layer)
            assert torch.allclose(rgen.map.weight.grad, -dw / n, rtol=1e-4, atol=1e-7), (
                f"{arch}: G_{i + 1}"
            )
    for i, (block, rblock) in enumerate(zip(twin.net.blocks, rule.net.blocks, strict=True)):
        loss = 0.5 * (block(below[i]) - zs[i]).pow(2).flatten(1).sum(1).mean()
        expected = torch.autograd.grad(loss, list(block.parameters()))
        for g, p in zip(expected, rblock.parameters(), strict=True):
            assert torch.allclose(p.grad, g, rtol=1e-4, atol=1e-7), (
                f"{arch}: block {i} is not local"
            )


def test_ngc_labels_reach_only_the_readout():
    x, y = _batch()
    a, b = _rule("cnn"), _rule("cnn")
    a.train_step(x, y)
    b.train_step(x, (y + 1) % 10)
    for (name, pa), pb in zip(a.named_parameters(), b.parameters(), strict=True):
        if pa.grad is None:
            continue
        same = torch.equal(pa.grad, pb.grad)
        assert same != name.startswith("net.readout"), f"{name}: label dependence is wrong"


def test_ngc_inference_reduces_the_energy(mnist_small):
    x = mnist_small["x_train"][:64]
    rule = _rule("mlp")
    with torch.no_grad():
        e0 = float(rule.energy(x, rule.infer(x, n_steps=0)))
        e1 = float(rule.energy(x, rule.infer(x, n_steps=10)))
    assert e1 < e0


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_ngc_keeps_every_projective_field_within_the_norm_bound(arch):
    """After an update no latent unit's generator column is longer than generator_max_norm; a
    column within the bound is left as it was, a longer one is scaled back onto it."""
    rule = _rule(arch)
    g = rule.generators[-1].map.weight  # dense (below, latent); conv (c_below, c_latent, k, k)
    with torch.no_grad():
        g[:, 0] *= 50.0  # one latent's projective field far past the bound
        g[:, 1] *= 0.5 / g[:, 1].norm()  # another well within it
    inside = g[:, 1].clone()
    rule.constrain_generators(1.0)

    def col_norms(w):
        return w.detach().pow(2).sum(dim=[0, *range(2, w.dim())]).sqrt()

    assert float(col_norms(g)[0]) == pytest.approx(1.0, rel=1e-5)
    assert torch.equal(g[:, 1], inside)
    x, y = _batch()
    rule.train_step(x, y)
    for gen in rule.generators:
        assert float(col_norms(gen.map.weight).max()) <= 1.0 + 1e-5
