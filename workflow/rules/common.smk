# Shared wiring: the experiment grid and input functions that turn config into step parameters.
import json
import sys

from brain_data.recordings import (
    has_responses, is_time_resolved, manifest_path, select_recordings,
)
from models.rule_config import load_rule_config, resolve_hparams, resolve_training

PY = sys.executable
SEEDS = [int(s) for s in config["seeds"]]
# "all": every manifest except those marked enabled_by_default: false or requires_web: true; a
# malformed manifest is skipped with a warning. Requested by id, a malformed manifest is an error.
RECORDINGS, MANIFESTS, _SKIPPED = select_recordings(config["recordings"])
for _rid, _why in _SKIPPED.items():
    print(f"warning: recording {_rid} skipped (recordings: all): {_why}", file=sys.stderr)
STIMSET = {r: MANIFESTS[r]["stimuli"] for r in RECORDINGS}
# Static RDM recordings go to `compare`; time-resolved (M/EEG) ones to `compare_time`.
TIMED_RECORDINGS = [r for r in RECORDINGS if is_time_resolved(MANIFESTS[r])]
STATIC_RECORDINGS = [r for r in RECORDINGS if r not in TIMED_RECORDINGS]
# Recordings with response patterns (voxels, vertices) also get cross-validated encoding models.
RESPONSE_RECORDINGS = [r for r in STATIC_RECORDINGS if has_responses(MANIFESTS[r])]
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
        "hparams": resolve_hparams(rule_cfg, wildcards.arch, wildcards.trainset, config["budget"]),
        "arch_params": config["arch_params"].get(wildcards.arch, {}),
        "training": resolve_training(config["training"], rule_cfg, wildcards.trainset,
                                     wildcards.arch, config["budget"]),
    }, sort_keys=True)


def get_compare_params(wildcards):
    """JSON for pipelines.compare: run keys and the RSA settings."""
    rsa = config["rsa"]
    rw = rsa.get("reweighted", {"enabled": False})
    return json.dumps({
        "rule": wildcards.rule, "arch": wildcards.arch, "trainset": wildcards.trainset,
        "seed": int(wildcards.seed), "recording": wildcards.recording, "methods": rsa["methods"],
        "n_boot": rsa["n_boot"], "n_splits": rsa["n_splits"], "boot_seed": rsa["seed"],
        "ci": rsa.get("ci", "subjects"), "n_perm": rsa.get("n_perm", 0),
        "reweighted": {k: v for k, v in rw.items() if k != "enabled"} if rw.get("enabled") else None,
    }, sort_keys=True)


def get_stimset(wildcards):
    return STIMSET[wildcards.recording]


def get_timecourse_params(wildcards):
    """JSON for pipelines.compare_time: run keys, comparators (config `timecourse:`, optional),
    bootstrap settings (from `rsa:`)."""
    tc = config.get("timecourse", {})
    return json.dumps({
        "rule": wildcards.rule, "arch": wildcards.arch, "trainset": wildcards.trainset,
        "seed": int(wildcards.seed), "recording": wildcards.recording,
        "methods": tc.get("methods", ["spearman"]), "n_boot": config["rsa"]["n_boot"],
        "n_boot_stimuli": tc.get("n_boot_stimuli", 100), "boot_seed": config["rsa"]["seed"],
    }, sort_keys=True)


def get_manifest(wildcards):
    """The manifest file of a recording (an input of brain_rdms, so editing it re-runs it)."""
    return str(manifest_path(wildcards.recording))


def get_encoding_params(wildcards):
    """JSON for pipelines.encode: run keys and the ridge settings (config `encoding:`)."""
    enc = config["encoding"]
    return json.dumps({
        "rule": wildcards.rule, "arch": wildcards.arch, "trainset": wildcards.trainset,
        "seed": int(wildcards.seed), "recording": wildcards.recording,
        "n_components": enc["n_components"], "n_folds": enc["n_folds"], "cv_seed": config["rsa"]["seed"],
    }, sort_keys=True)
