"""simclr obeys its card: one InfoNCE loss on the top block whose gradient reaches the first
block (end to end), and no labels anywhere but the readout."""

import pytest
import torch

from models.training import build_rule
from tests.rules.test_blockwise_ssl import blocks_never_see_labels, ssl_loss_falls

SHAPE = (1, 28, 28)


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_blocks_never_see_labels(arch, mnist_small):
    blocks_never_see_labels("simclr", arch, mnist_small)


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_top_loss_reaches_the_first_block(arch, mnist_small):
    rule = build_rule("simclr", arch, SHAPE, 10)
    losses = rule.ssl_losses(mnist_small["x_train"][:32])
    assert len(losses) == 1 and len(rule.heads) == 1
    params = [b.op.weight for b in rule.net.blocks]
    grads = torch.autograd.grad(losses[0], params)
    assert all(g.abs().sum() > 0 for g in grads)


def test_ssl_loss_falls(mnist_small):
    ssl_loss_falls("simclr", mnist_small)


def test_bad_hyperparameters_are_rejected():
    for hp in ({"temperature": -1}, {"readout_lr": 0}, {"brightness": -1}):
        with pytest.raises(ValueError, match=next(iter(hp))):
            build_rule("simclr", "mlp", SHAPE, 10, hparams=hp)
