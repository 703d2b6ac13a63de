"""Recurrent forward-forward obeys its card: top-down settling, layer-local goodness learning."""

from __future__ import annotations

import pytest
import torch

from models.training import build_rule
from tests.rules.scaffold import SHAPE
from tests.rules.scaffold import random_batch as _batch


def _rule(arch, rule_id="rff", seed=0, **hp):
    small = {"mlp": {"hidden": [64, 32]}, "cnn": {"channels": [12, 16], "hidden": 32}}[arch]
    return build_rule(rule_id, arch, SHAPE, 10, arch_params=small, hparams=hp, seed=seed)


def owners(rule) -> dict[str, list]:
    """Which parameters each local loss may reach: a block and its own top-down pathway."""
    own = {
        b.name: list(b.parameters()) + list(td.parameters())
        for b, td in zip(rule.net.blocks, rule.top_down, strict=True)
    }
    own["out"] = list(rule.net.readout.parameters())
    for block, gen in zip(rule.net.blocks, getattr(rule, "generators", []), strict=False):
        own[f"gen_{block.name}"] = list(gen.parameters())
    return own


def check_locality(rule):
    x, y = _batch()
    torch.manual_seed(0)
    losses = rule.local_losses(x, y)
    own = owners(rule)
    assert set(losses) == set(own)
    everything = list(rule.parameters())
    for key, loss in losses.items():
        grads = torch.autograd.grad(loss, everything, retain_graph=True, allow_unused=True)
        mine = {id(p) for p in own[key]}
        for p, g in zip(everything, grads, strict=True):
            if id(p) in mine:
                assert g is not None and g.abs().sum() > 0, (
                    f"{key}: its own weights get no gradient"
                )
            else:
                assert g is None or not g.any(), f"{key}: gradient leaks into another layer"


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_each_loss_reaches_only_its_own_layer(arch):
    check_locality(_rule(arch))


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_label_reaches_lower_layers_top_down_in_fixed_iterations(arch):
    rule = _rule(arch, iterations=len(_rule(arch).net.blocks) + 1)
    calls = []
    for td in rule.top_down:
        td.register_forward_hook(lambda *_: calls.append(1))
    x, _ = _batch(4)
    a = rule.settle(x, torch.nn.functional.one_hot(torch.zeros(4, dtype=torch.long), 10))
    b = rule.settle(x, torch.nn.functional.one_hot(torch.full((4,), 7), 10))
    assert len(calls) == 2 * rule.iterations * len(rule.net.blocks)
    assert not torch.allclose(a[0], b[0]), "the label at the top never reaches the first layer"
    one = _rule(arch, iterations=1)  # one iteration: the label only reaches the top block
    a1 = one.settle(x, torch.nn.functional.one_hot(torch.zeros(4, dtype=torch.long), 10))
    b1 = one.settle(x, torch.nn.functional.one_hot(torch.full((4,), 7), 10))
    assert torch.equal(a1[0], b1[0]) and not torch.equal(a1[-1], b1[-1])


def test_damping_mixes_old_and_new_state():
    x, _ = _batch(4)
    lab = torch.full((4, 10), 0.1)
    free, damped = _rule("mlp", damping=0.0), _rule("mlp", damping=0.9)
    assert not torch.allclose(free.settle(x, lab)[0], damped.settle(x, lab)[0])
