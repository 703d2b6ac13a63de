"""The learning-rate schedule of the shared training loop (full budget: cosine over the epochs)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from benchmarks.hidden_probe import build
from models import registry
from models.training import build_rule, lr_factor, optimizers, scale_learning_rates, train

ARCH = {"hidden": [64], "activation": "relu"}


def test_cosine_factor_runs_from_one_to_near_zero():
    factors = [lr_factor("cosine", e, 30) for e in range(1, 31)]
    assert factors[0] == 1.0 and all(a > b for a, b in zip(factors, factors[1:], strict=False))
    assert 0 < factors[-1] < 0.01
    assert factors[15] == pytest.approx(0.5 * (1 + math.cos(math.pi * 15 / 30)))
    assert lr_factor("constant", 30, 30) == 1.0


def test_unknown_schedule_is_refused_before_training(mnist_small):
    rule = build_rule("bp", "mlp", (1, 28, 28), 10, arch_params=ARCH, seed=0)
    x, y = mnist_small["x_train"][:64], mnist_small["y_train"][:64]
    with pytest.raises(ValueError, match="lr_schedule='step' is unknown"):
        train(rule, x, y, x, y, epochs=1, batch_size=32, lr_schedule="step")


def _rates(rule) -> dict:
    """Every optimiser's learning rate, by (optimiser, parameter group)."""
    return {
        (name, i): g["lr"]
        for name, opt in optimizers(rule).items()
        for i, g in enumerate(opt.param_groups)
    }


@pytest.mark.parametrize("rule_id", ["bp", "dni", "dtp"])  # one optimiser; two; param groups
def test_every_optimiser_follows_the_schedule(rule_id, mnist_small):
    x, y = mnist_small["x_train"][:256], mnist_small["y_train"][:256]
    rule = build_rule(rule_id, "mlp", (1, 28, 28), 10, arch_params=ARCH, seed=0)
    base, seen = _rates(rule), []
    train(
        rule,
        x,
        y,
        x[:64],
        y[:64],
        epochs=4,
        batch_size=64,
        on_epoch=lambda state: seen.append(_rates(rule)),
        lr_schedule="cosine",
    )
    assert base and len(seen) == 4
    for epoch, lrs in enumerate(seen, start=1):
        for key, lr in lrs.items():
            assert lr == pytest.approx(base[key] * lr_factor("cosine", epoch, 4)), (epoch, key)


_BUILD_ALL = """
import sys
from models import registry
from models.rule_config import load_rule_config, resolve_hparams
from models.training import build_rule, evaluation_only
if sys.argv[1] == "eval":
    evaluation_only()
for rule_id in registry.available():
    for arch in ("mlp", "cnn"):
        hp = resolve_hparams(load_rule_config(rule_id), arch, "mnist")
        build_rule(rule_id, arch, (1, 28, 28), 10, hparams=hp, seed=0)
print("torch._dynamo" in sys.modules)
"""


def test_an_evaluation_only_process_builds_every_rule_without_the_compiler_import():
    """Extraction builds rules (and their optimisers) only to load weights: after
    ``evaluation_only`` none of them imports ``torch._dynamo``; without it, building does."""
    import os
    import subprocess
    import sys

    root = str(Path(__file__).resolve().parents[1])

    def imported(mode: str) -> str:
        out = subprocess.run(
            [sys.executable, "-c", _BUILD_ALL, mode], capture_output=True, text=True, check=True,
            cwd=root, env={**os.environ, "PYTHONPATH": root},
        )  # fmt: skip
        return out.stdout.strip().splitlines()[-1]

    assert imported("eval") == "False"
    assert imported("train") == "True"  # the check can fail


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
@pytest.mark.parametrize("rule_id", registry.available())
def test_a_zero_rate_stops_every_learning_rule(rule_id, arch, mnist_small):
    """At schedule factor 0 (where the cosine ends) a train step changes no parameter: every rate
    of the rule, in an optimiser or applied by hand (``Rule.lr_scale``), follows the schedule.
    Exempt: the parameters a rule sets from running statistics (``derived_parameters``), and
    re-normalisations that move a weight by float rounding (relative 1e-5)."""
    x, y = mnist_small["x_train"][:16], mnist_small["y_train"][:16]  # two steps of 8 images
    rule = build(rule_id, arch, seed=0)
    torch.manual_seed(0)
    rule.train_step(x[:8], y[:8])  # past any first-step initialisation (norm bounds, running means)
    scale_learning_rates(rule, 0.0)
    before = {name: p.detach().clone() for name, p in rule.named_parameters()}
    exempt = rule.derived_parameters()
    assert exempt <= set(before), f"{rule_id}: derived_parameters names unknown parameters"
    rule.train_step(x[8:], y[8:])
    for name, p in rule.named_parameters():
        if name in exempt:
            continue
        change = float(
            (p.detach() - before[name]).abs().max() / before[name].abs().max().clamp_min(1e-12)
        )
        assert change <= 1e-5, f"{rule_id}/{arch}: {name} moved by {change:.1e} at rate 0"
