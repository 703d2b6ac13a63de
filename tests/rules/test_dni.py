"""dni obeys its card: a block's weight update uses only its own synthetic gradient; no error from
the loss or the blocks above reaches it in the same step; SG modules learn the true gradient."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from models.training import build_rule
from tests.rules.scaffold import step_with_block_guard

SHAPE, N_CLASSES = (1, 28, 28), 10


def _rule(rule_id, arch, seed=0, **hp):
    return build_rule(rule_id, arch, SHAPE, N_CLASSES, hparams=hp, seed=seed)


def _batch(mnist_small, n=32):
    return mnist_small["x_train"][:n], mnist_small["y_train"][:n]


def _randomise_synthetic_gradients(rule, seed=7):
    """Give every SG module non-zero weights (they start at zero), identically for equal seeds."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in rule.synth.parameters():
            p.normal_(0, 0.05)


def _block_params(rule, k):
    return {n: p.detach().clone() for n, p in rule.net.blocks[k].named_parameters()}


def _update_of_block_after_perturbing_above(rule_id, arch, k, x, y):
    """Block k's parameters after one step, for the rule and for a copy whose blocks above k and
    readout were re-randomised (block k's own SG module is left as it is)."""
    a, b = _rule(rule_id, arch), _rule(rule_id, arch)
    if rule_id == "dni":
        _randomise_synthetic_gradients(a), _randomise_synthetic_gradients(b)
    torch.manual_seed(123)
    with torch.no_grad():
        for j in range(k + 1, len(b.net.blocks)):
            for p in b.net.blocks[j].parameters():
                p.normal_(0, 0.1)
            if rule_id == "dni":  # the SG modules of the blocks above change too
                for p in b.synth[j].parameters():
                    p.normal_(0, 0.1)
        for p in b.net.readout.parameters():
            p.normal_(0, 0.1)
    a.train_step(x, y)
    b.train_step(x, y)
    return _block_params(a, k), _block_params(b, k)


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_blocks_receive_detached_inputs(arch, mnist_small):
    rule = _rule("dni", arch)
    step_with_block_guard(rule, *_batch(mnist_small), n_calls=len(rule.net.blocks) + 1)


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_zero_synthetic_gradient_means_no_block_update(arch, mnist_small):
    """SG modules start at zero: the first step may only move the readout and the SG modules."""
    rule = _rule("dni", arch)
    before = {n: p.detach().clone() for n, p in rule.named_parameters()}
    rule.train_step(*_batch(mnist_small))
    after = dict(rule.named_parameters())
    for name, p in before.items():
        changed = not torch.equal(p, after[name])
        if name.startswith("net.blocks"):
            assert not changed, f"{name} moved without a synthetic gradient"
        if name.startswith("net.readout"):
            assert changed
    last = len(rule.net.blocks) - 1  # the last SG module sees the true gradient at once
    assert any(
        not torch.equal(before[n], after[n]) for n in before if n.startswith(f"synth.{last}.")
    )


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_block_update_does_not_depend_on_layers_above(arch, mnist_small):
    x, y = _batch(mnist_small)
    for k in range(len(_rule("dni", arch).net.blocks) - 1):
        pa, pb = _update_of_block_after_perturbing_above("dni", arch, k, x, y)
        before = _block_params(_rule("dni", arch), k)
        assert any(not torch.equal(pa[n], before[n]) for n in pa), "block did not learn"
        for name in pa:
            assert torch.equal(pa[name], pb[name]), f"block {k} {name} depends on layers above"


def test_the_perturbation_test_catches_backprop(mnist_small):
    """Negative control: for backprop, block 1's update does depend on the layers above."""
    pa, pb = _update_of_block_after_perturbing_above("bp", "mlp", 0, *_batch(mnist_small))
    assert any(not torch.equal(pa[n], pb[n]) for n in pa)


def test_block_update_is_the_synthetic_gradient_step(mnist_small):
    """Block 1's gradient equals d<h_1, M_1(h_1, y)>/dtheta / n, computed here independently."""
    x, y = _batch(mnist_small)
    rule = _rule("dni", "mlp", lr=1e-3)
    _randomise_synthetic_gradients(rule)
    block = rule.net.blocks[0]
    h = block(x)
    g = rule.synth[0](h.detach(), y).detach()
    expected = torch.autograd.grad((h * g).sum() / len(x), list(block.parameters()))
    seen = {}
    hooks = [
        p.register_hook(lambda grad, i=i: seen.__setitem__(i, grad.clone()))
        for i, p in enumerate(block.parameters())
    ]
    rule.train_step(x, y)
    for hk in hooks:
        hk.remove()
    for i, e in enumerate(expected):
        assert torch.allclose(seen[i], e, atol=1e-7)


def test_last_synthetic_gradient_learns_the_true_gradient(mnist_small):
    """With the network (almost) frozen, M_K regresses n * dL/dh_K of the readout's loss."""
    x, y = _batch(mnist_small, 64)
    rule = _rule("dni", "mlp", lr=1e-12, sg_lr=1e-2)
    for _ in range(60):
        rule.train_step(x, y)
    h = rule.net.features(x).detach().requires_grad_(True)
    (true,) = torch.autograd.grad(F.cross_entropy(rule.net.readout(h), y), h)
    synth = rule.synth[-1](h.detach(), y).detach()
    assert F.cosine_similarity(synth.flatten(), true.flatten() * len(x), dim=0) > 0.9


def test_bad_hyperparameters_are_rejected():
    for hp in ({"sg_hidden": -1}, {"sg_lr": 0}, {"conditioned": "yes"}):
        with pytest.raises(ValueError, match=next(iter(hp))):
            _rule("dni", "mlp", **hp)
