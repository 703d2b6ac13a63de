"""Configs: unknown keys at any level, booleans for numbers, unknown hyper-parameters and YAML
bombs are refused with a message naming the key or file (issue 26, items 2, 4, 7, 9, 11)."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from brain_data.errors import DataError, RecordingError
from models import registry
from models.config_check import ConfigError, check_config, check_size
from models.rule_config import load_rule_config, load_yaml
from models.training import build_rule

REPO = Path(__file__).resolve().parent.parent
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


def _merge(base: dict, over: dict) -> dict:
    """Snakemake's --configfile merge: nested mappings are updated key by key."""
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _config(**over) -> dict:
    return _merge(load_yaml((REPO / "config" / "config.yaml").read_text()), over)


def bomb(levels: int = 9, top: str = "") -> str:
    """A 'billion laughs' YAML document: a few hundred bytes, 9**levels values when expanded."""
    lines = [f"{top}l0: &l0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels):
        lines.append(f"{top}l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("name", ["config.yaml", "test.yaml", "full.yaml", "grid_cnn.yaml"])
def test_shipped_configs_are_valid(name):
    over = load_yaml((REPO / "config" / name).read_text())
    check_config(_config(**over), SCHEMA)


@pytest.mark.parametrize(
    "over, message",
    [
        ({"seed": [1, 2]}, r"unknown key 'seed': did you mean 'seeds'\?"),
        ({"trainig": {"epochs": 1}}, r"unknown key 'trainig': did you mean 'training'\?"),
        ({"rsa": {"n_bot": 10}}, r"unknown key 'rsa/n_bot': did you mean 'n_boot'\?"),
        ({"rsa": {"reweighted": {"enabeld": False}}}, r"'rsa/reweighted/enabeld'.*'enabled'"),
        ({"training": {"epoch": 1}}, r"'training/epoch': did you mean 'epochs'\?"),
        ({"encoding": {"n_fold": 3}}, r"'encoding/n_fold': did you mean 'n_folds'\?"),
        ({"timecourse": {"method": ["spearman"]}}, r"'timecourse/method'.*'methods'"),
        ({"arch_params": {"mlp": {"hiden": [8]}}}, r"'arch_params/mlp/hiden'.*'hidden'"),
        ({"arch_params": {"resnet": {}}}, r"'arch_params/resnet': valid here: mlp, cnn"),
        ({"report": {"titel": "x"}}, r"'report/titel'.*'title'"),
    ],
)
def test_unknown_config_keys_are_refused_with_the_closest_valid_one(over, message):
    with pytest.raises(ConfigError, match=message):
        check_config(_config(**over), SCHEMA)


@pytest.mark.parametrize(
    "extra, message",
    [
        ("trainig: {epochs: 1}\n", "unknown key 'trainig': did you mean 'training'?"),
        ("seeds: [1]\n", "found the key 'seeds' a second time"),
    ],
)
def test_snakemake_stops_on_a_typo_before_building_the_dag(tmp_path, extra, message):
    bad = tmp_path / "bad.yaml"
    bad.write_text((REPO / "config" / "test.yaml").read_text() + extra)
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--cores", "1", "--configfile", str(bad),
         "--directory", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr


def test_rule_config_keys_are_strict_at_every_level(tmp_path):
    cases = {
        "hparam: {lr: 0.1}\n": r"unknown key 'hparam': did you mean 'hparams'\?",
        "training: {epoch: 3}\n": r"'training/epoch': did you mean 'epochs'\?",
        "full_training: {batchsize: 3}\n": r"'full_training/batchsize'.*'batch_size'",
        "per_arch: {mpl: {lr: 0.1}}\n": r"'per_arch/mpl': did you mean 'mlp'\?",
        "smoke: {min_acc: {mlp: 0.5}}\n": r"'smoke/min_acc'.*'min_accuracy'",
        "smoke: {min_accuracy: {cnnn: 0.5}}\n": r"'smoke/min_accuracy/cnnn'.*'cnn'",
        "smoke: {per_arch: {mlpp: {epochs: 2}}}\n": r"'smoke/per_arch/mlpp'.*'mlp'",
        "smoke: {per_arch: {mlp: {epoch: 2}}}\n": r"'smoke/per_arch/mlp/epoch'.*'epochs'",
        "full_hparams: {per_arch: {CNN: {lr: 1}}}\n": r"'full_hparams/per_arch/CNN'",
    }
    for text, message in cases.items():
        (tmp_path / "r.yaml").write_text(text)
        with pytest.raises(ConfigError, match=rf"r.yaml: .*{message}"):
            load_rule_config("r", tmp_path)
    for rule in registry.available():  # the shipped ones pass
        load_rule_config(rule)


@pytest.mark.parametrize(
    "hparams, message",
    [
        ({"lr": True}, r"rule 'bp': hyper-parameter lr=True is a boolean; it must be a number"),
        ({"lrr": 0.1}, r"rule 'bp': unknown hyper-parameter 'lrr'; did you mean 'lr'\?"),
    ],
)
def test_bad_hyper_parameters_are_messages_not_tracebacks(hparams, message):
    with pytest.raises(ValueError, match=message):
        build_rule("bp", "mlp", (1, 28, 28), 10, hparams=hparams)


def test_hyper_parameters_passed_on_to_a_parent_class_are_known():
    registry.check_hparams("fa", {"feedback_scale": 0.5, "lr": 0.01})
    with pytest.raises(ValueError, match=r"'feedback_scal'; did you mean 'feedback_scale'"):
        registry.check_hparams("fa", {"feedback_scal": 0.5})


def test_an_unknown_hyper_parameter_stops_the_train_step_with_a_message(tmp_path, monkeypatch):
    import json

    from pipelines import train
    from pipelines._io import run_main

    data = tmp_path / "d.npz"
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (8, 28, 28, 1), dtype=np.uint8)
    np.savez(data, x_train=x, y_train=np.zeros(8, np.int64), x_test=x, y_test=np.zeros(8, np.int64))
    params = {"rule": "bp", "arch": "mlp", "trainset": "mnist", "seed": 0, "hparams": {"lrr": 1},
              "arch_params": {"hidden": [4]}, "training": {"epochs": 1, "batch_size": 4}}  # fmt: skip
    argv = ["train", "--data", str(data), "--params", json.dumps(params),
            "--checkpoint", str(tmp_path / "c.pt"), "--record", str(tmp_path / "c.json"),
            "--snapshots", str(tmp_path / "s.pt")]  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as info:
        run_main(train.main)
    assert info.value.code == 1 and not (tmp_path / "c.pt").exists()


# --- YAML bombs ------------------------------------------------------------------------------


def test_yaml_bombs_are_refused_in_rule_configs_and_specs(tmp_path):
    from brain_data.specs import read_yaml

    (tmp_path / "r.yaml").write_text("hparams:\n" + bomb(top="  "))
    with pytest.raises(ConfigError, match=r"r.yaml: its YAML aliases expand to more than"):
        load_rule_config("r", tmp_path)
    (tmp_path / "m.yaml").write_text(bomb())
    with pytest.raises(DataError, match=r"m.yaml: its YAML aliases expand"):
        read_yaml(tmp_path / "m.yaml")


def test_a_manifest_bomb_is_refused_by_validate(tmp_path, capsys):
    from brain_data.__main__ import main as cli

    d = tmp_path / "boom"
    d.mkdir()
    (d / "manifest.yaml").write_text(
        "id: boom\nmodality: fmri\nstimuli: objects92\nformat: rdm-npy\ncitation: c\n"
        "files: []\nrois: {}\nextra:\n" + bomb(top="  ")
    )
    assert cli(["validate", str(d / "manifest.yaml")]) == 1
    assert "its YAML aliases expand to more than" in capsys.readouterr().err


def test_harmless_aliases_and_shared_values_are_allowed():
    assert load_yaml("a: &x [1, 2]\nb: *x\n") == {"a": [1, 2], "b": [1, 2]}
    shared = list(range(10))
    check_size({"a": shared, "b": shared}, "ok")
    with pytest.raises(ConfigError):
        check_size({"a": [shared] * 2000}, "big", limit=10_000)
    loop: list = []
    loop.append(loop)
    with pytest.raises(ConfigError, match="self"):
        check_size(loop, "self")


def test_snakemake_refuses_a_config_bomb(tmp_path):
    bad = tmp_path / "bomb.yaml"
    bad.write_text((REPO / "config" / "test.yaml").read_text() + "bomb:\n" + bomb(top="  "))
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--cores", "1", "--configfile", str(bad),
         "--directory", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert proc.returncode != 0
    assert "its YAML aliases expand to more than" in proc.stdout + proc.stderr


# --- manifests that are not requested do not block a run ---------------------------------------


def test_a_malformed_manifest_is_skipped_by_all_and_refused_by_id(tmp_path):
    from brain_data.recordings import select_recordings

    for rid, text in {"good": "ok", "broken": "bad"}.items():
        (tmp_path / rid).mkdir()
        man = {"id": rid, "modality": "fmri", "stimuli": "objects92", "format": "rdm-npy",
               "rois": {"IT": {"file": "r.npy"}},
               "files": [{"name": "r.npy", "url": "u", "sha256": "0" * 64}], "citation": "c"}  # fmt: skip
        if text == "bad":
            man["modality"] = "telepathy"
        (tmp_path / rid / "manifest.yaml").write_text(yaml.safe_dump(man))
    recs, manifests, skipped = select_recordings("all", tmp_path)
    assert recs == ["good"] and list(skipped) == ["broken"]
    assert "broken/manifest.yaml: manifest key modality" in skipped["broken"]
    assert select_recordings(["good"], tmp_path)[0] == ["good"]
    with pytest.raises(RecordingError, match=r"recording 'broken' is requested, but .*modality"):
        select_recordings(["broken"], tmp_path)


# --- more bad inputs (beyond the list) ------------------------------------------------


def test_a_manifest_that_is_not_utf8_is_a_message(tmp_path):
    from brain_data.specs import read_yaml

    (tmp_path / "m.yaml").write_bytes("id: caf\xe9\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"m.yaml: cannot be read as YAML: 'utf-8' codec"):
        read_yaml(tmp_path / "m.yaml")


def test_a_key_given_twice_is_refused_not_silently_overwritten(tmp_path):
    from brain_data.specs import read_yaml

    with pytest.raises(yaml.YAMLError, match=r"found the key 'IT' a second time"):
        load_yaml("rois: {IT: a, IT: b}\n")
    (tmp_path / "m.yaml").write_text("id: x\nrois:\n  IT: {file: a}\n  IT: {file: b}\n")
    with pytest.raises(DataError, match=r"(?s)m.yaml: cannot be read as YAML.*'IT' a second time"):
        read_yaml(tmp_path / "m.yaml")
    assert load_yaml("base: &b {x: 1}\nuse: {<<: *b, x: 2}\n")["use"] == {"x": 2}  # merge is fine


@pytest.mark.parametrize(
    "over, message",
    [
        ({"training": {"epochs": -1, "batch_size": 8}}, r"training.*epochs"),
        ({"training": {"epochs": 1, "batch_size": 0}}, r"training.*batch_size"),
        ({"training": {"epochs": 1, "batch_size": 8, "n_train": 0}}, r"training.*n_train"),
        ({"seeds": [0, 0]}, r"seeds.*non-unique|has non-unique"),
        ({"rules": ["bp", "bp"]}, r"non-unique"),
    ],
)
def test_impossible_budgets_and_repeated_ids_are_refused(over, message):
    import jsonschema

    cfg = _config(**over)
    check_config(cfg, SCHEMA)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(cfg, yaml.safe_load(SCHEMA.read_text()))


def test_unknown_rule_and_trainset_ids_are_refused_with_the_closest_one():
    from models.config_check import check_known_ids

    check_known_ids(_config())
    with pytest.raises(ConfigError, match=r"rules: unknown id 'hebian'; did you mean 'hebbian'"):
        check_known_ids(_config(rules=["bp", "hebian"]))
    with pytest.raises(ConfigError, match=r"trainsets: unknown id 'mnsit'; did you mean 'mnist'"):
        check_known_ids(_config(nets=["mlp/mnsit"]))
    with pytest.raises(ConfigError, match=r"trainsets: unknown id 'cifar'; did you mean 'cifar10'"):
        check_known_ids(_config(match_accuracy={"mnist": 0.8, "cifar": 0.3}))
    bad = _config(training={"epochs": {"mnsit": 2, "cifar10": 3}, "batch_size": 8})
    with pytest.raises(ConfigError, match=r"training/epochs: unknown key 'mnsit'; did you mean"):
        check_known_ids(bad)
    check_known_ids(_config(training={"epochs": {"cnn/mnist": 2, "default": 1}, "batch_size": 8}))
