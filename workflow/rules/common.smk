# Shared wiring: the experiment grid and input functions that turn config into step parameters.
import json
import sys

from brain_data.recordings import (
    has_responses, is_time_resolved, manifest_path, select_recordings,
)
from brain_data.specs import load_spec
from models.controls import CONTROLS
from models.rule_config import load_rule_config, resolve_hparams, resolve_training
from pipelines.code_digest import rule_digest, step_digest  # params: a step reruns when its code changes
from pipelines.workers import run_step  # `run:` steps: in long-lived worker processes

PY = sys.executable
SEEDS = [int(s) for s in config["seeds"]]
# Networks of the grid: "arch/trainset" pairs (every rule trains each, at the matched budget).
NETS = [tuple(n.split("/")) for n in config["nets"]]
ARCHS = sorted({a for a, _ in NETS})
TRAINSETS = sorted({t for _, t in NETS})
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
# Per-run outputs of the train step (one job per rule and network writes those of every seed).
CHECKPOINT = "results/checkpoints/" + RUN + ".pt"
SNAPSHOTS = "results/checkpoints/" + RUN + "_snapshots.pt"
RECORD = "results/checkpoints/" + RUN + ".json"
# Per-run outputs of the extract step (one job per rule and stimulus set writes them all).
ACTIVATIONS = "results/activations/{rule}/{arch}/{trainset}/seed{seed}/{stimset}.npz"
MODEL_RDMS = "results/rdms/{rule}/{arch}/{trainset}/seed{seed}/{stimset}.npz"


def _check_grid():
    """Refuse what the grid cannot mean, before any job runs (names the config key)."""
    clash = sorted(set(config["rules"]) & set(CONTROLS))
    if clash:
        raise ValueError(f"config rules {clash} are control names; controls go under `controls:`")
    for key in ("rules", "nets", "seeds", "controls"):
        dup = sorted({str(v) for v in config[key] if config[key].count(v) > 1})
        if dup:
            raise ValueError(f"config `{key}` lists {dup} more than once")
    snaps = [float(f) for f in config["snapshots"]]
    if snaps != sorted(set(snaps)) or snaps[0] != 0 or snaps[-1] != 1:
        raise ValueError(
            f"config `snapshots` {config['snapshots']} must increase from 0 (the untrained network) "
            "to 1 (the final one): fractions of the matched budget, none beyond it"
        )
    missing = sorted(set(TRAINSETS) - set(config["match_accuracy"]))
    if missing:
        raise ValueError(
            f"config `match_accuracy` has no threshold for training sets {missing} "
            f"(it has {sorted(config['match_accuracy'])})"
        )
    for rule in config["rules"]:  # a rule config that sets the matched budget is refused here
        for arch, trainset in NETS:
            resolve_training(config["training"], load_rule_config(rule), trainset, arch,
                             config["budget"], rule_id=rule)


_check_grid()


def _has_groups(stimset):
    return bool(load_spec("stimuli", stimset).get("groups"))


def _controls_for(recording):
    """Controls compared with ``recording``: ``category`` only where its stimulus set has groups."""
    out = []
    for c in config["controls"]:
        if c == "category" and not _has_groups(STIMSET[recording]):
            continue
        out.append(c)
    return out


_no_groups = sorted({STIMSET[r] for r in STATIC_RECORDINGS if not _has_groups(STIMSET[r])})
if "category" in config["controls"] and _no_groups:
    print(f"bioalign: the category control is skipped for stimulus sets without groups: "
          f"{_no_groups} (declare `groups` in brain_data/stimuli/<id>.yaml)", file=sys.stderr)
# (model, recording) pairs compared: every rule with every static recording, and the controls.
MODEL_PAIRS = [(m, r) for r in STATIC_RECORDINGS for m in list(config["rules"]) + _controls_for(r)]


wildcard_constraints:
    rule=r"[A-Za-z0-9_]+",
    model=r"[A-Za-z0-9_]+",
    control="|".join(CONTROLS),
    arch=r"[A-Za-z0-9_]+",
    trainset=r"[A-Za-z0-9_]+",
    seed=r"\d+",
    recording=r"[A-Za-z0-9_.-]+",
    stimset=r"[A-Za-z0-9_.-]+",


def runs(rules=None):
    """Every (rule, arch, trainset, seed) of the grid (of ``rules``) as a wildcard dict."""
    return [dict(rule=r, arch=a, trainset=t, seed=s) for r in (rules or config["rules"])
            for a, t in NETS for s in SEEDS]


def run_paths(pattern, rules=None, **extra):
    """``pattern`` formatted for every run of the grid (and every value of ``extra``)."""
    out = []
    for run in runs(rules):
        out += expand(pattern, **{k: [v] for k, v in run.items()}, **extra)
    return out


def rule_run_outputs(pattern):
    """``pattern`` for every (arch, trainset, seed) of one rule, other wildcards left in place."""
    return [expand(pattern, arch=a, trainset=t, seed=s, allow_missing=True)[0]
            for a, t in NETS for s in SEEDS]


def get_model_table(wildcards):
    """The RDM table of a model on the recording's stimulus set (a rule's snapshots or a control)."""
    stimset = STIMSET[wildcards.recording]
    if wildcards.model in CONTROLS:
        return f"results/controls/{wildcards.model}/{stimset}.npz"
    return f"results/rdms/{wildcards.model}/{stimset}_snapshots.npz"


def model_pair_paths(pattern):
    """``pattern`` for every compared (model, recording) pair."""
    return [pattern.format(model=m, recording=r) for m, r in MODEL_PAIRS]


def get_train_params(wildcards):
    """JSON for pipelines.train: hyper-parameters, arch parameters, training budget and seeds of one
    (rule, network), and the digest of the rule's source (``pipelines.code_digest``): Snakemake's
    params trigger then retrains a rule whose code changed."""
    rule_cfg = load_rule_config(wildcards.rule)
    return json.dumps({
        "rule": wildcards.rule, "arch": wildcards.arch, "trainset": wildcards.trainset,
        "code": rule_digest(wildcards.rule),
        "seeds": [int(s) for s in SEEDS],
        "hparams": resolve_hparams(rule_cfg, wildcards.arch, wildcards.trainset, config["budget"]),
        "arch_params": config["arch_params"].get(wildcards.arch, {}),
        "training": resolve_training(config["training"], rule_cfg, wildcards.trainset,
                                     wildcards.arch, config["budget"], rule_id=wildcards.rule),
        "snapshots": config["snapshots"],
    }, sort_keys=True)


def get_compare_params(wildcards):
    """JSON for pipelines.compare: the recording, the RSA settings and the accuracy to match."""
    rsa = config["rsa"]
    rw = rsa.get("reweighted", {"enabled": False})
    return json.dumps({
        "recording": wildcards.recording, "methods": rsa["methods"], "alpha": rsa["alpha"],
        "match_accuracy": config["match_accuracy"],
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
