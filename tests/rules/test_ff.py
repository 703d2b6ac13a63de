"""Forward-forward obeys its card: every block learns only from its own goodness loss."""

from __future__ import annotations

import pytest
import torch

from models.rules.forward_only._ff_common import LabelEmbedding
from models.training import build_rule
from tests.rules.scaffold import SHAPE
from tests.rules.scaffold import random_batch as _batch

CASES = [
    ("mlp", {}),
    ("cnn", {"variant": "channel"}),
    ("cnn", {"variant": "label", "label_embedding": "pattern", "predict_mode": "softmax"}),
]


def _rule(arch, hp, seed=0):
    small = {"mlp": {"hidden": [64, 32]}, "cnn": {"channels": [12, 16], "hidden": 32}}[arch]
    return build_rule("ff", arch, SHAPE, 10, arch_params=small, hparams=hp, seed=seed)


@pytest.mark.parametrize(("arch", "hp"), CASES)
def test_each_loss_reaches_only_its_own_block(arch, hp):
    rule = _rule(arch, hp)
    x, y = _batch()
    torch.manual_seed(0)
    losses = rule.local_losses(x, y)
    owners = {b.name: list(b.parameters()) for b in rule.net.blocks}
    owners["out"] = list(rule.net.readout.parameters())
    assert set(losses) <= set(owners) and all(b.name in losses for b in rule.net.blocks)
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


@pytest.mark.parametrize(("arch", "hp"), CASES)
def test_lower_block_update_ignores_higher_blocks(arch, hp):
    """Changing the top block's weights leaves every lower block's update unchanged."""
    a, b = _rule(arch, hp), _rule(arch, hp)
    with torch.no_grad():
        for p in b.net.blocks[-1].parameters():
            p.mul_(-3.0)
    x, y = _batch()
    torch.manual_seed(1)
    a.train_step(x, y)
    torch.manual_seed(1)
    b.train_step(x, y)
    for pa, pb in zip(a.net.blocks[:-1].parameters(), b.net.blocks[:-1].parameters(), strict=True):
        assert torch.equal(pa, pb)
    changed = [
        not torch.equal(p, q)
        for p, q in zip(
            a.net.blocks[0].parameters(), _rule(arch, hp).net.blocks[0].parameters(), strict=True
        )
    ]
    assert any(changed), "the bottom block did not learn"


def test_positive_and_negative_data_differ_only_in_the_label():
    emb = LabelEmbedding(SHAPE, 10, "onehot", 3.0)
    x, y = _batch()
    pos, neg = emb.label(x, y), emb.label(x, (y + 1) % 10)
    assert torch.equal(pos.flatten(1)[:, 10:], x.flatten(1)[:, 10:])
    assert torch.equal(pos.flatten(1)[:, :10].argmax(1), y)
    assert torch.equal(neg.flatten(1)[:, 10:], pos.flatten(1)[:, 10:])
    pat = LabelEmbedding(SHAPE, 10, "pattern", 1.0)
    diff = (pat.label(x, y) - x).flatten(1)  # (n, 784): the label's own wave everywhere
    assert torch.allclose(diff, pat.patterns[y])
    assert torch.linalg.matrix_rank(pat.patterns) == 10  # every class has its own pattern


def test_goodness_prediction_picks_the_label_with_most_goodness():
    rule = _rule("mlp", {"predict_mode": "goodness"})
    x, _ = _batch(8)
    scores = rule.predict(x)
    manual = torch.stack(
        [
            sum(
                h.pow(2).flatten(1).mean(1)
                for h in rule._forward(rule.embed.label(x, torch.full((8,), c)))
            )
            for c in range(10)
        ],
        1,
    )
    assert torch.allclose(scores, manual)


def test_bad_hyperparameters_are_named():
    with pytest.raises(ValueError, match="threshold"):
        _rule("mlp", {"threshold": -1.0})
    with pytest.raises(ValueError, match="label_embedding"):
        _rule("mlp", {"label_embedding": "nope"})
