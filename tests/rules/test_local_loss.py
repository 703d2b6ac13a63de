"""local_loss obeys its card: no gradient crosses a block boundary; each block learns from its own
(1-beta)*prediction + beta*similarity-matching loss only."""

from __future__ import annotations

import pytest
import torch

from models.rules.local.local_loss import similarity_matrix
from models.training import build_rule
from tests.rules.scaffold import step_with_block_guard

SHAPE, N_CLASSES = (1, 28, 28), 10


def _rule(rule_id, arch, seed=0, **hp):
    return build_rule(rule_id, arch, SHAPE, N_CLASSES, hparams=hp, seed=seed)


def _batch(mnist_small, n=32):
    return mnist_small["x_train"][:n], mnist_small["y_train"][:n]


def _owned(rule, k):
    """Parameters owned by block k: its op and (if any) its auxiliary heads."""
    params = dict(rule.net.blocks[k].named_parameters(prefix=f"net.blocks.{k}"))
    if hasattr(rule, "heads"):
        params.update(rule.heads[k].named_parameters(prefix=f"heads.{k}"))
    return params


def _update_of_block_after_perturbing_above(rule_id, arch, k, x, y, **hp):
    """Block k's parameters after one step, for the rule as built and with everything above k
    (blocks > k, their heads, the readout) re-randomised."""
    a, b = _rule(rule_id, arch, **hp), _rule(rule_id, arch, **hp)
    torch.manual_seed(123)
    with torch.no_grad():
        for name, p in b.named_parameters():
            above = any(
                name.startswith(f"{pre}.{j}.")
                for j in range(k + 1, len(b.net.blocks))
                for pre in ("net.blocks", "heads")
            )
            if above or name.startswith("net.readout"):
                p.normal_(0, 0.1)
    torch.manual_seed(0)
    a.train_step(x, y)
    torch.manual_seed(0)
    b.train_step(x, y)
    return _owned(a, k), _owned(b, k)


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_no_gradient_crosses_a_block_boundary(arch, mnist_small):
    """Every block (and the readout) receives a detached input during train_step."""
    rule = _rule("local_loss", arch)
    step_with_block_guard(rule, *_batch(mnist_small), n_calls=len(rule.net.blocks) + 1)


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_each_local_loss_reaches_only_its_own_block(arch, mnist_small):
    rule = _rule("local_loss", arch)
    losses = rule.local_losses(*_batch(mnist_small))
    n_blocks = len(rule.net.blocks)
    assert len(losses) == n_blocks + 1
    for i, loss in enumerate(losses):
        for k in range(n_blocks):
            params = list(_owned(rule, k).values())
            grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
            reached = any(g is not None and g.abs().sum() > 0 for g in grads)
            assert reached == (i == k), f"loss {i} reaches block {k}: {reached}"
        grads = torch.autograd.grad(loss, list(rule.net.readout.parameters()), allow_unused=True)
        assert any(g is not None for g in grads) == (i == n_blocks)


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_block_update_does_not_depend_on_layers_above(arch, mnist_small):
    x, y = _batch(mnist_small)
    for k in range(len(_rule("local_loss", arch).net.blocks) - 1):
        pa, pb = _update_of_block_after_perturbing_above("local_loss", arch, k, x, y)
        for name in pa:
            assert torch.equal(pa[name], pb[name]), f"{name} depends on the layers above"


def test_the_perturbation_test_catches_backprop(mnist_small):
    """Negative control: for backprop, block 1's update does depend on the layers above."""
    pa, pb = _update_of_block_after_perturbing_above("bp", "mlp", 0, *_batch(mnist_small))
    assert any(not torch.equal(pa[n], pb[n]) for n in pa)


def test_similarity_matrices():
    y = torch.tensor([0, 1, 0, 2])
    s = similarity_matrix(torch.nn.functional.one_hot(y, 10).float())
    assert torch.allclose(s, s.t()) and torch.allclose(s.diagonal(), torch.ones(4))
    assert s[0, 2] == pytest.approx(1.0) and s[0, 1] < 0
    h = torch.randn(4, 8, 5, 5)
    assert torch.allclose(similarity_matrix(h), similarity_matrix(h.flatten(2).std(2)))


@pytest.mark.parametrize("beta, silent", [(1.0, "classifier"), (0.0, "sim")])
def test_beta_selects_the_local_loss_terms(beta, silent, mnist_small):
    rule = _rule("local_loss", "cnn", beta=beta)
    sum(rule.local_losses(*_batch(mnist_small))).backward()
    for head in rule.heads:
        for p in getattr(head, silent).parameters():
            assert p.grad is None
        other = head.sim if silent == "classifier" else head.classifier
        assert all(p.grad is not None for p in other.parameters())


def test_bad_hyperparameters_are_rejected():
    for hp in ({"beta": 1.5}, {"lr": 0}, {"dim_in_decoder": 0}):
        with pytest.raises(ValueError, match=next(iter(hp))):
            _rule("local_loss", "mlp", **hp)
