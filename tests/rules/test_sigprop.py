"""Signal propagation obeys its card: the target goes forward, no gradient crosses a block boundary."""

from __future__ import annotations

import pytest
import torch

from models.training import build_rule
from tests.rules.scaffold import SHAPE
from tests.rules.scaffold import random_batch as _batch


def _rule(arch, seed=0, **hp):
    small = {"mlp": {"hidden": [64, 32]}, "cnn": {"channels": [12, 16], "hidden": 32}}[arch]
    return build_rule("sigprop", arch, SHAPE, 10, arch_params=small, hparams=hp, seed=seed)


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_each_loss_reaches_only_its_own_block(arch):
    rule = _rule(arch)
    x, y = _batch()
    losses = rule.local_losses(x, y)
    owners = {b.name: list(b.parameters()) for b in rule.net.blocks}
    owners[rule.net.blocks[0].name] += list(
        rule.embed.parameters()
    )  # the target projection feeds block 1
    owners["out"] = list(rule.net.readout.parameters())
    assert list(losses) == [b.name for b in rule.net.blocks] + ["out"]
    everything = list(rule.parameters())
    for key, loss in losses.items():
        grads = torch.autograd.grad(loss, everything, retain_graph=True, allow_unused=True)
        own = {id(p) for p in owners[key]}
        for p, g in zip(everything, grads, strict=True):
            if id(p) in own:
                assert g is not None and g.abs().sum() > 0, (
                    f"{key}: its own weights get no gradient"
                )
            else:
                assert g is None or not g.any(), f"{key}: gradient leaks into another block"


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_targets_take_the_input_path_and_lower_updates_ignore_upper_blocks(arch):
    rule = _rule(arch)
    assert rule.targets().shape == (10, *SHAPE)
    a, b = _rule(arch), _rule(arch)
    with torch.no_grad():
        for p in b.net.blocks[-1].parameters():
            p.mul_(-3.0)
    x, y = _batch()
    a.train_step(x, y)
    b.train_step(x, y)
    for pa, pb in zip(a.net.blocks[:-1].parameters(), b.net.blocks[:-1].parameters(), strict=True):
        assert torch.equal(pa, pb)
    assert torch.equal(a.embed.weight, b.embed.weight)


def test_fixed_embedding_stays_fixed_and_learned_one_moves():
    fixed, learned = _rule("mlp", learn_embedding=False), _rule("mlp")
    before = fixed.embed.weight.clone()
    x, y = _batch()
    fixed.train_step(x, y)
    learned.train_step(x, y)
    assert torch.equal(fixed.embed.weight, before)
    assert not torch.equal(learned.embed.weight, before)


def test_prediction_is_the_plain_forward_pass():
    rule = _rule("cnn")
    x, _ = _batch(8)
    feats = rule.net.features(x)
    expected = rule.net.readout(feats / feats.pow(2).mean(1, keepdim=True).add(1e-6).sqrt())
    assert torch.allclose(rule.predict(x), expected, atol=1e-6)
