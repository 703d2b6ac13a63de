"""gim obeys its card: per-block InfoNCE on detached inputs, no labels in the blocks, no gradient
from a block's loss to the blocks below it."""

import pytest
import torch

from models.training import build_rule
from tests.rules.test_blockwise_ssl import (
    block_inputs_are_detached,
    block_updates_are_local,
    blocks_never_see_labels,
    ssl_loss_falls,
)

SHAPE = (1, 28, 28)


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_blocks_never_see_labels(arch, mnist_small):
    blocks_never_see_labels("gim", arch, mnist_small)


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_block_inputs_are_detached_and_updates_local(arch, mnist_small):
    block_inputs_are_detached("gim", arch, mnist_small)
    block_updates_are_local("gim", arch, mnist_small)


def test_top_loss_does_not_reach_the_first_block(mnist_small):
    rule = build_rule("gim", "mlp", SHAPE, 10)
    losses = rule.ssl_losses(mnist_small["x_train"][:32])
    assert len(losses) == len(rule.net.blocks)
    (g,) = torch.autograd.grad(losses[-1], [rule.net.blocks[0].op.weight], allow_unused=True)
    assert g is None


def test_ssl_loss_falls(mnist_small):
    ssl_loss_falls("gim", mnist_small)


def test_bad_hyperparameters_are_rejected():
    for hp in ({"temperature": 0}, {"lr": 0}, {"noise_std": -0.1}):
        with pytest.raises(ValueError, match=next(iter(hp))):
            build_rule("gim", "mlp", SHAPE, 10, hparams=hp)
