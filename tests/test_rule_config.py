"""Per-rule config resolution: arch / trainset overrides and the paper-scale budget's overrides."""

import pytest
import yaml

from models.registry import available
from models.rule_config import load_rule_config, resolve_hparams, smoke_budget
from models.training import build_rule

CFG = {
    "hparams": {"lr": 1e-3, "beta": 0.5},
    "per_arch": {"cnn": {"beta": 1.0}},
    "full_hparams": {"lr": 2e-4, "per_arch": {"cnn": {"beta": 2.0}}},
}


def test_full_hparams_apply_only_at_the_full_budget():
    assert resolve_hparams(CFG, "mlp", "mnist") == {"lr": 1e-3, "beta": 0.5}
    assert resolve_hparams(CFG, "cnn", "mnist", "grid") == {"lr": 1e-3, "beta": 1.0}
    assert resolve_hparams(CFG, "cnn", "mnist", "full") == {"lr": 2e-4, "beta": 2.0}
    assert resolve_hparams(CFG, "mlp", "mnist", "full") == {"lr": 2e-4, "beta": 0.5}


def test_exponents_without_a_dot_are_numbers(tmp_path):
    """``lr: 3e-5`` is a float (YAML 1.2), not the string PyYAML's 1.1 resolver makes of it."""
    (tmp_path / "r.yaml").write_text(
        "hparams: {lr: 3e-5, sizes: [1E3, -2e+1, 4], name: v1e3, flag: true, scale: .inf}\n"
    )
    hp = load_rule_config("r", tmp_path)["hparams"]
    assert hp == {
        "lr": 3e-5,
        "sizes": [1000.0, -20.0, 4],
        "name": "v1e3",
        "flag": True,
        "scale": float("inf"),
    }
    assert type(hp["sizes"][2]) is int
    assert yaml.safe_load("3e-5") == "3e-5"  # PyYAML's own loader is left as it was


def test_unknown_budget_is_refused():
    with pytest.raises(ValueError, match="budget"):
        resolve_hparams(CFG, "mlp", "mnist", "huge")


def test_fa_cnn_decays_its_weights_only_at_full_budget():
    cfg = load_rule_config("fa")
    assert resolve_hparams(cfg, "cnn", "cifar10", "full")["weight_decay"] > 0
    assert resolve_hparams(cfg, "cnn", "cifar10")["weight_decay"] == 0
    assert resolve_hparams(cfg, "mlp", "cifar10", "full")["weight_decay"] == 0


def test_dtp_uses_its_stable_learning_rate_at_full_budget():
    cfg = load_rule_config("dtp")
    assert (
        resolve_hparams(cfg, "cnn", "cifar10", "full")["lr"]
        < resolve_hparams(cfg, "cnn", "cifar10")["lr"]
    )


@pytest.mark.parametrize(
    "rule_id", [r for r in available() if load_rule_config(r).get("full_hparams")]
)
@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_full_budget_hparams_build_the_rule(rule_id, arch):
    """Every paper-scale override names a real hyper-parameter with a valid value."""
    cfg = load_rule_config(rule_id)
    hp = resolve_hparams(cfg, arch, "cifar10", "full")
    rule = build_rule(rule_id, arch, (3, 32, 32), 10, hparams=hp, seed=0)
    full = dict(cfg["full_hparams"])
    overridden = set(full) | set((full.pop("per_arch", None) or {}).get(arch) or {})
    for key in overridden - {"per_arch"}:
        assert getattr(rule, key) == hp[key], f"{rule_id}: {key} did not reach the rule"


def test_smoke_budget_takes_the_archs_own_values_first():
    cfg = {"smoke": {"n_train": 2000, "batch_size": 32, "per_arch": {"mlp": {"epochs": 6}}}}
    assert smoke_budget(cfg, "mlp") == {"n_train": 2000, "epochs": 6, "batch_size": 32}
    assert smoke_budget(cfg, "cnn") == {"n_train": 2000, "epochs": 1, "batch_size": 32}
    assert smoke_budget({}, "cnn") == {"n_train": 3000, "epochs": 1, "batch_size": 64}
    assert smoke_budget(load_rule_config("wp"), "mlp")["epochs"] > 1  # wp's zeroth-order MLP
