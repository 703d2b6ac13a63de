"""The reconstruction-ceiling benchmark: what it trains, what it leaves alone, bad budgets."""

import argparse

import pytest
import torch

from benchmarks import hidden_probe as hp
from benchmarks.reconstruction_ceiling import parse_budget, train_autoencoder
from models.rules.discrepancy._pc_local import forward_record, sq_loss


def _reconstruction_error(rule, x: torch.Tensor) -> float:
    hs, _ = forward_record(rule.net, x)  # [x, conv1, conv2, conv3, fc1]
    with torch.no_grad():
        return float(sq_loss(rule.generators[-1](hs[-1]), hs[-2]))


def test_autoencoder_trains_fc1_and_the_top_generator_only(mnist_small):
    x = mnist_small["x_train"][:512]
    rule, untrained = hp.build("ngc", "cnn", seed=0), hp.build("ngc", "cnn", seed=0)
    before = _reconstruction_error(rule, x)
    train_autoencoder(rule, x, epochs=2, lr=1e-3)
    assert _reconstruction_error(rule, x) < 0.8 * before
    old = dict(untrained.named_parameters())
    moved = {n for n, p in rule.named_parameters() if not torch.equal(p, old[n])}
    assert moved and all(n.startswith(("net.blocks.3.", "generators.3.")) for n in moved), moved
    top = rule.generators[-1].map.weight  # (conv3 units, latent units): columns bounded
    assert top.norm(dim=0).max() <= rule.generator_max_norm + 1e-5


def test_budgets_parse_and_bad_ones_are_refused_by_text():
    assert parse_budget("9000x3") == (9000, 3)
    for bad in ("9000", "0x1", "9001x1", "2000x0", "axb"):
        with pytest.raises(argparse.ArgumentTypeError, match=bad):
            parse_budget(bad)
