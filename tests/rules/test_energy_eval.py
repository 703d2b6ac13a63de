"""chl and recirc evaluate as they train: prediction settles the free phase for ``t_relax`` steps."""

from __future__ import annotations

import pytest

from models.rules.energy import _ep_energy as ep
from models.training import build_rule
from tests.rules.scaffold import random_batch


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
@pytest.mark.parametrize("rule_id", ["chl", "recirc"])
def test_prediction_settles_as_long_as_training(rule_id, arch, monkeypatch):
    steps: list[int] = []
    relax = ep.relax

    def recording(*args, **kwargs):
        steps.append(args[3])  # relax(net, x, states, steps, ...)
        return relax(*args, **kwargs)

    monkeypatch.setattr(ep, "relax", recording)
    rule = build_rule(rule_id, arch, (1, 28, 28), 10, hparams={"t_relax": 3})
    x, y = random_batch(4)
    rule.train_step(x, y)
    assert steps == [3, 3]  # free and clamped phases
    steps.clear()
    rule.predict(x)
    rule.eval()
    rule.layers(x)  # 'out' is the prediction
    assert steps == [3, 3]
