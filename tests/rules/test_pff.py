"""Predictive forward-forward obeys its card: FF representation circuit + local generative circuit."""

from __future__ import annotations

import pytest
import torch

from models.rules.forward_only._ff_common import normalize
from tests.rules.test_rff import _batch, _rule, check_locality


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_every_loss_is_local(arch):
    """Goodness losses reach only their block + top-down pathway; each prediction error only its predictor."""
    check_locality(_rule(arch, "pff"))


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_generators_read_only_their_own_detached_layer(arch):
    rule = _rule(arch, "pff")
    seen = []
    for gen in rule.generators:
        gen.register_forward_hook(lambda m, inp, out: seen.append((inp[0], out)))
    x, y = _batch(4)
    torch.manual_seed(0)
    rule.local_losses(x, y)
    torch.manual_seed(0)
    pos = rule.ff_losses(x, y)[1]
    assert len(seen) == len(rule.generators)
    for (inp, out), state, gen in zip(seen, pos, rule.generators, strict=True):
        assert not inp.requires_grad  # no gradient into the representation circuit
        assert torch.allclose(inp, normalize(state.detach()), atol=1e-6)
        assert out.shape[1:] == torch.Size(gen.dst)
    assert rule.reconstruct(x).shape == x.shape


def test_generative_circuit_learns_to_predict():
    rule = _rule("mlp", "pff", gen_lr=1e-2, iterations=1)
    x, y = _batch(32)
    torch.manual_seed(0)
    first = rule.train_step(x, y)["loss_gen_fc1"]
    for _ in range(8):
        last = rule.train_step(x, y)["loss_gen_fc1"]
    assert last < first
