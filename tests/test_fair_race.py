"""The fair race: matched budgets, snapshots from the untrained net, matched points, controls."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from analyses.matching import matched_snapshot, snapshot_matches
from analyses.model_table import ModelTable
from analyses.ranking import load_resamples, many_resample_arrays
from analyses.rdm import correlation_rdm
from models import registry
from models.controls import CONTROLS, category_rdm, control_rdm, gabor_features
from models.rule_config import load_rule_config, resolve_hparams, resolve_training
from models.training import build_rule, snapshot_points, train
from pipelines.aggregate import complete_accuracy_match, rank_matched
from pipelines.compare import score_model
from tests.conftest import REPO

CONFIG = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
FULL = {**CONFIG, **yaml.safe_load((REPO / "config" / "full.yaml").read_text())}
GRID_CNN = {**CONFIG, **yaml.safe_load((REPO / "config" / "grid_cnn.yaml").read_text())}


@pytest.mark.parametrize("config", [CONFIG, GRID_CNN, FULL], ids=["grid", "grid_cnn", "full"])
def test_every_rule_of_a_network_sees_the_same_examples(config):
    """The matched budget: per network, one (n_train, epochs, n_test) for every registered rule."""
    nets = [tuple(n.split("/")) for n in config["nets"]]
    for arch, trainset in nets:
        budgets = {
            rule: resolve_training(
                config["training"],
                load_rule_config(rule),
                trainset,
                arch,
                config["budget"],
                rule_id=rule,
            )
            for rule in registry.available()
        }
        seen = {(b["n_train"], b["epochs"], b["n_test"], b["examples"]) for b in budgets.values()}
        assert len(seen) == 1, f"{arch}/{trainset}: budgets differ between rules: {seen}"
        if config is not FULL:
            assert budgets["bp"]["examples"] >= 5000
    assert len(config["seeds"]) >= 3
    assert len(config["snapshots"]) >= 5 and config["snapshots"][0] == 0


def test_a_rule_config_that_sets_the_budget_is_refused():
    for key in ("epochs", "n_train", "n_test"):
        with pytest.raises(ValueError, match=rf"config/rules/fa.yaml: `training` sets \['{key}'\]"):
            resolve_training(
                CONFIG["training"], {"training": {key: 3}}, "mnist", "mlp", rule_id="fa"
            )
    with pytest.raises(ValueError, match="unknown keys"):
        resolve_training(CONFIG["training"], {"training": {"epohcs": 3}}, "mnist", "mlp")
    out = resolve_training(
        CONFIG["training"], {"training": {"batch_size": {"cnn": 16}}}, "cifar10", "cnn"
    )
    assert out["batch_size"] == 16 and out["examples"] == 5000


def test_snapshot_points_are_fractions_of_the_budget():
    assert snapshot_points([0, 0.01, 0.1, 1], 6000) == [0, 60, 600, 6000]
    assert snapshot_points([0, 0.0001, 1], 100) == [0, 100]  # merged, never beyond the budget
    for bad in ([0, 1.5], [0.5, 0.1, 1], [-0.1, 1]):
        with pytest.raises(ValueError, match="beyond the budget"):
            snapshot_points(bad, 100)


#: Rules whose card declares their own initialisation (their trajectory starts there instead).
OWN_INIT = {"rstdp": "spiking network: biases 0 and never plastic, excitatory readout in [0, 1]"}


@pytest.mark.parametrize("rule_id", registry.available())
def test_first_snapshot_is_the_untrained_network_of_the_same_seed(rule_id):
    """Trajectories start at the random control's weights (same seed, same arch), except for a
    rule whose card states another initialisation (``OWN_INIT``)."""
    x, y = torch.rand(48, 1, 28, 28), torch.randint(0, 10, (48,))
    kw = dict(arch_params={"hidden": [32, 16]}, seed=5)
    cfg = load_rule_config(rule_id)
    rule = build_rule(
        rule_id, "mlp", (1, 28, 28), 10, hparams=resolve_hparams(cfg, "mlp", "mnist"), **kw
    )
    res = train(rule, x, y, x[:16], y[:16], epochs=1, batch_size=16, snapshots=[0, 16, 48])
    untrained = build_rule("random", "mlp", (1, 28, 28), 10, **kw).state_dict()
    if rule_id in OWN_INIT:
        assert "biases are 0" in registry.get(rule_id).card.notes
        untrained = build_rule(
            rule_id, "mlp", (1, 28, 28), 10, hparams=resolve_hparams(cfg, "mlp", "mnist"), **kw
        ).state_dict()
    first = res.snapshots[0]
    assert first.examples_seen == 0
    net = {k: v for k, v in first.state.items() if k.startswith("net.")}
    assert net and net.keys() <= untrained.keys()
    for k, v in net.items():
        assert torch.equal(v, untrained[k]), f"{rule_id}: {k} differs from the untrained network"
    if rule.learns:
        assert [s.examples_seen for s in res.snapshots] == [0, 16, 48]
        final = rule.state_dict()
        assert all(torch.equal(final[k], res.snapshots[-1].state[k]) for k in final)


def test_snapshots_do_not_change_training():
    x, y = torch.rand(64, 1, 28, 28), torch.randint(0, 10, (64,))

    def run(points):
        rule = build_rule("bp", "mlp", (1, 28, 28), 10, arch_params={"hidden": [16]}, seed=1)
        train(rule, x, y, x, y, epochs=2, batch_size=16, seed=1, snapshots=points)
        return rule.state_dict()

    a, b = run(None), run([0, 16, 40, 128])
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_matched_snapshot_is_the_first_reaching_the_threshold():
    assert matched_snapshot([0.1, 0.5, 0.85, 0.9], 0.8) == 2
    assert matched_snapshot([0.1, 0.5], 0.8) is None
    assert snapshot_matches([0.1, 0.9, 0.95], is_control=False, threshold=0.8) == {
        2: ["examples"],
        1: ["accuracy"],
    }
    assert snapshot_matches([0.1], is_control=True, threshold=0.8) == {0: ["examples", "accuracy"]}
    with pytest.raises(ValueError, match="match_accuracy"):
        matched_snapshot([0.5], 1.5)


def _images(n: int = 24, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, size=(n, 1, 1, 3))
    return np.clip(base + rng.integers(-40, 40, size=(n, 20, 20, 3)), 0, 255).astype(np.uint8)


def test_controls_make_valid_rdms():
    images, groups = _images(), ["a"] * 12 + ["b"] * 12
    net_input = images.transpose(0, 3, 1, 2) / 255.0
    for name in CONTROLS:
        rdm = control_rdm(name, images, groups, net_input)
        assert rdm.shape == (24, 24) and np.allclose(rdm, rdm.T) and np.allclose(np.diag(rdm), 0)
        assert np.ptp(rdm[np.triu_indices(24, 1)]) > 0, name
    assert gabor_features(images).shape == (24, 3 * 4 * 16)
    with pytest.raises(ValueError, match="needs a group for every stimulus"):
        category_rdm([""] * 24, "mystims")
    with pytest.raises(ValueError, match="unknown"):
        control_rdm("edges", images, groups)


def _table(rdms_by_model: dict[str, tuple[str, list[np.ndarray]]], n: int) -> ModelTable:
    t = ModelTable.empty(n)
    for name, (kind, per_seed) in rdms_by_model.items():
        for seed, rdm in enumerate(per_seed):
            t.add(
                {"l1": rdm},
                rule=name,
                arch="mlp",
                trainset="mnist",
                seed=seed,
                snapshot=0,
                examples_seen=0 if kind == "control" else 100,
                test_accuracy=0.9,
                final=True,
                kind=kind,
            )
    return ModelTable.from_arrays(t.to_arrays())


def test_a_planted_control_ranks_first(tmp_path):
    """A recording simulated from the pixel RDM (plus noise) ranks `pixels` above every rule."""
    rng = np.random.default_rng(0)
    images = _images(30)
    pixels = control_rdm("pixels", images, [], images.transpose(0, 3, 1, 2) / 255.0)
    iu = np.triu_indices(30, 1)

    def noisy(rdm, scale):
        v = rdm[iu] + scale * rng.standard_normal(len(iu[0])) * rdm[iu].std()
        out = np.zeros((30, 30))
        out[iu] = v
        return out + out.T

    brain = np.stack([noisy(pixels, 1.5) for _ in range(8)])
    models = {
        "pixels": ("control", [pixels]),
        "ruleA": ("rule", [correlation_rdm(rng.standard_normal((30, 20))) for _ in range(3)]),
        "ruleB": ("rule", [correlation_rdm(rng.standard_normal((30, 20))) for _ in range(3)]),
    }
    p = dict(
        recording="sim",
        methods=["spearman"],
        n_boot=200,
        n_splits=2,
        boot_seed=0,
        ci="both",
        n_perm=0,
        reweighted=None,
        match_accuracy={"mnist": 0.5},
    )
    rec = {"stimuli": np.arange(30), "rois": np.array(["V"]), "rdm_V": brain}
    scores, subjects, traj, res = score_model(_table(models, 30), rec, p)
    assert set(traj["rule"]) == set(models)
    np.savez(tmp_path / "res.npz", **many_resample_arrays(res))
    resamples = load_resamples([tmp_path / "res.npz"])
    records = [
        {"rule": r, "arch": "mlp", "trainset": "mnist", "seed": s}
        for r in ("ruleA", "ruleB")
        for s in range(3)
    ]
    scores, subjects, missing = complete_accuracy_match(scores, subjects, records)
    assert missing.empty
    ranking, pairwise = rank_matched(
        scores,
        subjects,
        missing,
        dict(n_boot=200, boot_seed=0, alpha=0.05, ci="both", match_accuracy={"mnist": 0.5}),
        resamples,
    )
    assert set(ranking["ci_method"]) == {"bootstrap_dual"}
    for match, g in ranking.groupby("match"):
        top = g.sort_values("rank").iloc[0]
        assert top["rule"] == "pixels" and top["kind"] == "control", match
    sig = pairwise[(pairwise["rule_a"] == "pixels") | (pairwise["rule_b"] == "pixels")]
    assert sig["significant"].all()


def test_a_rule_that_never_reaches_the_accuracy_is_listed_not_ranked():
    rng = np.random.default_rng(1)
    models = {
        "random": ("control", [correlation_rdm(rng.standard_normal((20, 10)))]),
        "ruleA": ("rule", [correlation_rdm(rng.standard_normal((20, 10))) for _ in range(2)]),
    }
    table = _table(models, 20)
    brain = np.stack([correlation_rdm(rng.standard_normal((20, 10))) for _ in range(5)])
    rec = {"stimuli": np.arange(20), "rois": np.array(["V"]), "rdm_V": brain}
    p = dict(
        recording="sim",
        methods=["spearman"],
        n_boot=100,
        n_splits=2,
        boot_seed=0,
        ci="subjects",
        n_perm=0,
        reweighted=None,
        match_accuracy={"mnist": 0.99},
    )
    scores, subjects, _, _ = score_model(table, rec, p)
    records = [{"rule": "ruleA", "arch": "mlp", "trainset": "mnist", "seed": s} for s in range(2)]
    scores, subjects, missing = complete_accuracy_match(scores, subjects, records)
    assert missing[["rule", "n_seeds", "n_reached"]].values.tolist() == [["ruleA", 2, 0]]
    ranking, _ = rank_matched(
        scores,
        subjects,
        missing,
        dict(n_boot=100, boot_seed=0, alpha=0.05, match_accuracy={"mnist": 0.99}),
    )
    acc = ranking[ranking["match"] == "accuracy"].set_index("rule")
    assert not acc.loc["ruleA", "reached"] and pd.isna(acc.loc["ruleA", "score"])
    assert acc.loc["random", "reached"] and acc.loc["random", "rank"] == 1
