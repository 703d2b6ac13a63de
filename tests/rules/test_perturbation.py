"""np and wp: a perturbation rule learns from forward passes only, and its estimate is the gradient."""

import importlib

import pytest
import torch
import torch.nn.functional as F

from models import registry
from models.rule_config import load_rule_config, resolve_hparams
from models.rules.perturbation._fb_perturb import clean_pass, ops
from models.training import build_rule
from tests.rules.scaffold import SHAPE
from tests.rules.scaffold import random_batch as _batch


@pytest.fixture(params=["np", "wp"])
def rule_id(request):
    return request.param


def _forbid(*args, **kwargs):
    raise AssertionError("a perturbation rule called autograd")


def test_never_calls_backward(rule_id, monkeypatch):
    """train_step runs with backward disabled, builds no graph (so no autograd.grad either), and learns."""
    monkeypatch.setattr(torch.Tensor, "backward", _forbid)
    monkeypatch.setattr(torch.autograd, "backward", _forbid)
    x, y = _batch(32)
    for arch in ("mlp", "cnn"):
        rule = build_rule(rule_id, arch, SHAPE, 10, seed=0)
        graph = []
        hooks = [
            b.register_forward_hook(lambda m, i, o, graph=graph: graph.append(o.requires_grad))
            for b in (*rule.net.blocks, rule.net.readout)
        ]
        before = [p.detach().clone() for p in rule.net.parameters()]
        rule.train_step(x, y)
        for h in hooks:
            h.remove()
        assert graph and not any(graph), f"{arch}: the forward passes built an autograd graph"
        for p, q in zip(rule.net.parameters(), before, strict=True):
            assert not torch.equal(p.detach(), q), f"{arch}: a parameter did not change"


def test_estimate_points_along_the_true_gradient(rule_id):
    """With many perturbations the estimate of every layer aligns with autograd's gradient
    (the reference is computed here, outside the rule)."""
    torch.manual_seed(0)
    for arch, params, shape in (
        ("mlp", {"hidden": (16, 12)}, (1, 6, 6)),
        ("cnn", {"channels": (3,), "hidden": 8}, (1, 6, 6)),
    ):
        rule = build_rule(
            rule_id,
            arch,
            shape,
            10,
            arch_params=params,
            hparams={"sigma": 1e-3, "n_samples": 4000},
            seed=0,
        )
        x, y = _batch(4, shape=shape)
        F.cross_entropy(rule.net(x), y).backward()
        inputs, pre = clean_pass(rule.net, x)
        for layer, op in enumerate(ops(rule.net)):
            gw, gb = rule.estimate(layer, inputs[layer], pre[layer], y, None)
            est = torch.cat([gw.flatten(), gb])
            true = torch.cat([op.weight.grad.flatten(), op.bias.grad])
            cos = float(F.cosine_similarity(est, true, 0))
            assert cos > 0.7, f"{arch} layer {layer}: cosine {cos:.2f} with the true gradient"
            assert 0.5 < float(est.norm() / true.norm()) < 2.0, f"{arch} layer {layer}: wrong scale"


def test_conv_every_zero_leaves_conv_layers_unprobed(rule_id):
    """conv_every=0: conv weights stay at init, dense layers and readout learn."""
    x, y = _batch(16)
    rule = build_rule(rule_id, "cnn", SHAPE, 10, hparams={"conv_every": 0, "n_samples": 2}, seed=0)
    before = {n: p.detach().clone() for n, p in rule.net.named_parameters()}
    rule.train_step(x, y)
    for n, p in rule.net.named_parameters():
        changed = not torch.equal(p.detach(), before[n])
        assert changed == (not n.startswith("blocks.") or n.startswith("blocks.3.")), n


def _record_probes(rule_id: str, monkeypatch) -> list[tuple]:
    """Spy on the rule's loss probes: (layer, rows, labels, base rows or None) per probe call."""
    module = importlib.import_module(registry.get(rule_id).__module__)
    calls, real = [], module.probe

    def spy(net, layer, a, delta, y, antithetic, base):
        calls.append((layer, len(a), len(y), None if base is None else len(base)))
        return real(net, layer, a, delta, y, antithetic, base)

    monkeypatch.setattr(module, "probe", spy)
    return calls


@pytest.mark.parametrize("antithetic", [True, False])
def test_per_layer_draws_set_each_layers_trials(rule_id, antithetic, monkeypatch):
    """n_samples as a list gives layer l exactly n_samples[l] perturbed trials per example."""
    calls = _record_probes(rule_id, monkeypatch)
    draws, n = [2, 3, 5], 4
    rule = build_rule(
        rule_id,
        "mlp",
        SHAPE,
        10,
        arch_params={"hidden": (16, 12)},
        hparams={"n_samples": draws, "antithetic": antithetic},
        seed=0,
    )
    rule.train_step(*_batch(n))
    assert [c[0] for c in calls] == [0, 1, 2]
    for layer, rows, labels, base in calls:
        assert rows == labels == draws[layer] * n, f"layer {layer}: {rows} trials"
        assert base == (None if antithetic else draws[layer] * n)


@pytest.mark.parametrize("budget", ["grid", "full"])
def test_cnn_config_probes_every_conv_layer(rule_id, budget, monkeypatch):
    """The configured CNN (grid and full budgets) perturbs every layer each step, conv layers with
    their own draw count; one step moves every conv weight (setting conv_every 0 fails this)."""
    hparams = resolve_hparams(load_rule_config(rule_id), "cnn", "cifar10", budget)
    calls = _record_probes(rule_id, monkeypatch)
    rule = build_rule(rule_id, "cnn", (3, 16, 16), 10, arch_params={"channels": (4, 4, 4), "hidden": 8},
                      hparams=hparams, seed=0)  # fmt: skip
    n = 4
    before = [op.weight.detach().clone() for op in ops(rule.net)]
    rule.train_step(*_batch(n, shape=(3, 16, 16)))
    convs = [i for i, op in enumerate(ops(rule.net)) if isinstance(op, torch.nn.Conv2d)]
    trials = {layer: labels for layer, _, labels, _ in calls}
    assert convs == [0, 1, 2] and sorted(trials) == [0, 1, 2, 3, 4]
    for layer in convs:
        assert trials[layer] == hparams["conv_samples"] * n, f"conv layer {layer}: {trials[layer]}"
        assert not torch.equal(ops(rule.net)[layer].weight, before[layer]), f"conv {layer} unmoved"


def test_conv_samples_set_only_the_conv_layers_draws(rule_id):
    rule = build_rule(rule_id, "cnn", SHAPE, 10, arch_params={"channels": (3, 3), "hidden": 8},
                      hparams={"n_samples": [2, 3, 5, 7], "conv_samples": 4}, seed=0)  # fmt: skip
    assert rule.draws == [4, 4, 5, 7]
    with pytest.raises(ValueError, match="conv_samples"):
        build_rule(rule_id, "cnn", SHAPE, 10, hparams={"conv_samples": 0})


@pytest.mark.parametrize("bad", [[4, 4], [4, 0, 4], "4", 2.5])
def test_bad_per_layer_draws_are_refused(rule_id, bad):
    with pytest.raises(ValueError, match="n_samples"):
        build_rule(
            rule_id, "mlp", SHAPE, 10, arch_params={"hidden": (16, 12)}, hparams={"n_samples": bad}
        )
