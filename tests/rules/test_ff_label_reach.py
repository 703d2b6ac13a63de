"""rff / pff at their grid setting: the label shapes every layer, the convs included."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from models.rule_config import load_rule_config, resolve_hparams
from models.training import build_rule
from tests.rules.scaffold import random_batch


def _grid_rule(rule_id: str, arch: str, **overrides):
    hp = {**resolve_hparams(load_rule_config(rule_id), arch, "mnist"), **overrides}
    return build_rule(rule_id, arch, (1, 28, 28), 10, hparams=hp)


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
@pytest.mark.parametrize("rule_id", ["rff", "pff"])
def test_every_layer_state_and_goodness_gradient_depend_on_the_label(rule_id, arch):
    rule = _grid_rule(rule_id, arch)
    x, _ = random_batch(4)
    zero, seven = torch.zeros(4, dtype=torch.long), torch.full((4,), 7)
    a = rule.settle(x, F.one_hot(zero, 10))
    b = rule.settle(x, F.one_hot(seven, 10))
    for block, sa, sb in zip(rule.net.blocks, a, b, strict=True):
        assert not torch.allclose(sa, sb), f"{rule_id}/{arch}: {block.name} never sees the label"
    grads = []
    for y in (zero, seven):
        torch.manual_seed(0)  # same negative labels' draw
        rule.net.zero_grad(set_to_none=True)
        rule.local_losses(x, y)[rule.net.blocks[0].name].backward()
        grads.append(rule.net.blocks[0].op.weight.grad.clone())
    assert not torch.allclose(*grads), f"{rule_id}/{arch}: the first layer's loss ignores the label"


def test_one_iteration_leaves_the_convs_label_blind():
    """The check above can fail: with one iteration the label at the top reaches only the top
    block (the old CNN setting)."""
    rule = _grid_rule("rff", "cnn", iterations=1)
    x, _ = random_batch(4)
    a = rule.settle(x, F.one_hot(torch.zeros(4, dtype=torch.long), 10))
    b = rule.settle(x, F.one_hot(torch.full((4,), 7), 10))
    assert torch.equal(a[0], b[0]) and not torch.equal(a[-1], b[-1])


def test_pff_represents_exactly_what_rff_does():
    """What pff's card says: its generative circuit does not shape its layers (same as rff's)."""
    pff, rff = _grid_rule("pff", "mlp"), _grid_rule("rff", "mlp")
    for step in range(2):
        x, y = random_batch(8, seed=step)
        for rule in (pff, rff):
            torch.manual_seed(step)
            rule.train_step(x, y)
    x, _ = random_batch(5, seed=9)
    pff.eval(), rff.eval()
    for (name, a), b in zip(pff.layers(x).items(), rff.layers(x).values(), strict=True):
        assert torch.equal(a, b), name
