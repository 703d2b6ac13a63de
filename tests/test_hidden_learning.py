"""Layer movement (1 - Spearman of trained vs untrained RDMs) and the linear probe."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from rsatoolbox.data import Dataset
from rsatoolbox.rdm import calc_rdm, compare

from analyses.hidden_learning import layer_change, linear_probe_accuracy
from models.training import build_rule, train


def _rng(seed=0):
    return np.random.default_rng(seed)


def test_an_unchanged_layer_has_not_moved_and_rescaling_does_not_move_it():
    a = _rng().normal(size=(20, 30))
    moved = layer_change({"fc1": a, "out": a[:, :5]}, {"fc1": 3.0 * a + 1.0, "out": a[:, :5]})
    assert list(moved) == ["fc1", "out"]
    assert moved["fc1"] == pytest.approx(0.0, abs=1e-12)
    assert moved["out"] == pytest.approx(0.0, abs=1e-12)


def test_layer_change_equals_rsatoolbox_spearman():
    a, b = _rng(1).normal(size=(25, 40)), _rng(2).normal(size=(25, 40))
    b[:, :20] = a[:, :20]  # half the units shared: partly moved
    ra = calc_rdm(Dataset(a), method="correlation")
    rb = calc_rdm(Dataset(b), method="correlation")
    expected = 1.0 - float(compare(ra, rb, method="spearman")[0, 0])
    got = layer_change({"conv1": a.reshape(25, 10, 2, 2)}, {"conv1": b.reshape(25, 10, 2, 2)})
    assert got["conv1"] == pytest.approx(expected, abs=1e-10)
    assert 0.1 < got["conv1"] < 0.9


def test_unrelated_layers_move_about_one_and_a_silent_layer_is_nan():
    a, b = _rng(3).normal(size=(40, 50)), _rng(4).normal(size=(40, 50))
    assert layer_change({"x": a}, {"x": b})["x"] == pytest.approx(1.0, abs=0.15)
    assert np.isnan(layer_change({"x": np.zeros((10, 4))}, {"x": a[:10]})["x"])


def test_layer_change_rejects_mismatched_inputs():
    a = _rng().normal(size=(10, 4))
    with pytest.raises(ValueError, match="layers differ"):
        layer_change({"fc1": a}, {"fc2": a})
    with pytest.raises(ValueError, match="'fc1': 10 trained vs 9 untrained"):
        layer_change({"fc1": a}, {"fc1": a[:9]})
    with pytest.raises(ValueError, match="'fc1'.*shape"):
        layer_change({"fc1": a[0]}, {"fc1": a[0]})


def test_probe_reads_a_linear_code_and_rejects_mismatched_lengths():
    g = _rng(5)
    y = g.integers(0, 3, size=300)
    x = g.normal(size=(300, 8))
    x[:, 0] += 6.0 * y  # class is linearly decodable from unit 0
    assert linear_probe_accuracy(x[:200], y[:200], x[200:], y[200:]) > 0.9
    assert linear_probe_accuracy(x[:200, 1:], y[:200], x[200:, 1:], y[200:]) < 0.6
    with pytest.raises(ValueError, match="fit 200 vs 199"):
        linear_probe_accuracy(x[:200], y[:199], x[200:], y[200:])


def test_backprop_moves_its_hidden_layers_and_the_untrained_net_does_not(mnist_small):
    d = mnist_small
    trained = build_rule("bp", "mlp", (1, 28, 28), 10, seed=0)
    untrained = build_rule("bp", "mlp", (1, 28, 28), 10, seed=0)
    train(trained, d["x_train"][:1000], d["y_train"][:1000], d["x_test"][:10], d["y_test"][:10],
          epochs=1, batch_size=32, log_every=0)  # fmt: skip
    x = d["x_test"][:60]
    moved = layer_change(
        {k: v.numpy() for k, v in trained.layers(x).items()},
        {k: v.numpy() for k, v in untrained.layers(x).items()},
    )
    still = layer_change(
        {k: v.numpy() for k, v in untrained.layers(x).items()},
        {k: v.numpy() for k, v in build_rule("bp", "mlp", (1, 28, 28), 10).layers(x).items()},
    )
    assert all(v > 0.1 for v in moved.values()), moved
    assert all(v == pytest.approx(0.0, abs=1e-12) for v in still.values()), still
    assert moved["fc2"] > moved["fc1"]  # deeper layers move more
    assert torch.is_tensor(x)
