# Shared wiring: the experiment grid and input functions that turn config into step parameters.
import json
import sys

from brain_data.recordings import load_manifest, manifest_path, manifest_paths
from models.rule_config import load_rule_config, resolve_hparams, resolve_training

PY = sys.executable
SEEDS = [int(s) for s in config["seeds"]]
RECORDINGS = sorted(manifest_paths()) if config["recordings"] == "all" else list(config["recordings"])
STIMSET = {r: load_manifest(manifest_path(r))["stimuli"] for r in RECORDINGS}
RUN = "{rule}/{arch}/{trainset}/seed{seed}"


wildcard_constraints:
    rule=r"[A-Za-z0-9_]+",
    arch=r"[A-Za-z0-9_]+",
    trainset=r"[A-Za-z0-9_]+",
    seed=r"\d+",
    recording=r"[A-Za-z0-9_.-]+",
    stimset=r"[A-Za-z0-9_.-]+",


def runs():
    """Every (rule, arch, trainset, seed) of the grid as a wildcard dict."""
    return [dict(rule=r, arch=a, trainset=t, seed=s) for r in config["rules"] for a in config["archs"]
            for t in config["trainsets"] for s in SEEDS]


def run_paths(pattern, **extra):
    """``pattern`` formatted for every run of the grid (and every value of ``extra``)."""
    out = []
    for run in runs():
        out += expand(pattern, **{k: [v] for k, v in run.items()}, **extra)
    return out


def get_train_params(wildcards):
    """JSON for pipelines.train: hyper-parameters, arch parameters and training budget of one run."""
    rule_cfg = load_rule_config(wildcards.rule)
    return json.dumps({
        "rule": wildcards.rule, "arch": wildcards.arch, "trainset": wildcards.trainset,
        "seed": int(wildcards.seed),
        "hparams": resolve_hparams(rule_cfg, wildcards.arch, wildcards.trainset),
        "arch_params": config["arch_params"].get(wildcards.arch, {}),
        "training": resolve_training(config["training"], rule_cfg, wildcards.trainset, wildcards.arch),
    }, sort_keys=True)


def get_compare_params(wildcards):
    """JSON for pipelines.compare: run keys and the RSA settings."""
    rsa = config["rsa"]
    return json.dumps({
        "rule": wildcards.rule, "arch": wildcards.arch, "trainset": wildcards.trainset,
        "seed": int(wildcards.seed), "recording": wildcards.recording, "methods": rsa["methods"],
        "n_boot": rsa["n_boot"], "n_splits": rsa["n_splits"], "boot_seed": rsa["seed"],
    }, sort_keys=True)


def get_stimset(wildcards):
    return STIMSET[wildcards.recording]
