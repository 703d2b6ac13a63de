"""Synthetic result tables for report tests, in the ranking contract of the fair-race issue.

``ranking`` rows per (match, trainset, arch, recording, roi, method, rule) with ``kind``
(rule/control), score, CI, ``score_nc``, ceilings, rank, ``p_fdr_vs_<rule>``, ``tied_with`` and
``reached``; ``pairwise`` rows with match, diff, p, p_fdr, significant. Planted: ``bp`` is far
above every control everywhere; ``fa`` is above the untrained net but not above ``gabor``; ``ff``
never reaches the matched accuracy; single-RDM recordings have no pairwise tests.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd

from brain_data.stimuli import StimulusSet
from pipelines.report import Inputs, read_brain

GROUPS6 = ["human body", "human face", "animal body", "animal face", "natural", "artificial"]
LAYERS = {"mlp": ["fc1", "fc2", "out"], "cnn": ["conv1", "conv2", "conv3", "fc1", "out"]}
CONTROL_LAYER = "features"


def stimulus_sets(n: int = 92, seed: int = 0):
    """A ``load_stimuli`` stand-in: id -> StimulusSet of ``n`` small random images in 6 groups."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 255, size=(n, 24, 24, 3), dtype=np.uint8)
    groups = [GROUPS6[i * 6 // n] for i in range(n)]

    def load(stimset: str) -> StimulusSet:
        return StimulusSet(stimset, images, [f"img{i + 1}" for i in range(n)], groups)

    return load


def _effect(rule: str, match: str) -> float:
    return {"bp": 0.25, "fa": 0.06, "gabor": 0.1}.get(rule, 0.0) + (
        0.02 if match == "accuracy" and rule == "bp" else 0.0
    )


def make_run(
    root: Path,
    *,
    rules=("bp", "fa", "ff", "hebbian"),
    controls=("random", "pixels", "gabor"),
    networks=(("mnist", "mlp"),),
    recordings=(("rec-a", ("EVC", "IT"), 6), ("rec-one", ("IT",), 1)),
    methods=("spearman", "r2_spearman"),
    n_stim: int = 92,
    contract: bool = True,
    seed: int = 0,
) -> Inputs:
    """Write brain and model RDM files under ``root`` and return the report's ``Inputs``."""
    rng = np.random.default_rng(seed)
    everyone = list(rules) + list(controls)
    matches = ("examples", "accuracy") if contract else ("examples",)
    ranking, pairwise, scores = [], [], []
    for match, (trainset, arch), (rec, rois, n_subj), roi, method in itertools.product(
        matches, networks, recordings, [None], methods
    ):
        for roi in rois:
            nc_hi, nc_lo = (0.6, 0.45) if n_subj > 1 else (np.nan, np.nan)
            rows = {}
            for rule in everyone:
                reached = not (match == "accuracy" and rule == "ff")
                score = 0.2 + _effect(rule, match) + rng.normal(0, 0.01) if reached else np.nan
                rows[rule] = {
                    "match": match, "trainset": trainset, "arch": arch, "recording": rec,
                    "roi": roi, "method": method, "rule": rule,
                    "kind": "control" if rule in controls else "rule",
                    "score": score, "ci_low": score - 0.03, "ci_high": score + 0.03,
                    "score_nc": score / nc_hi, "noise_ceiling_low": nc_lo,
                    "noise_ceiling_high": nc_hi, "n_seeds": 1, "n_subjects": n_subj,
                    "best_layer": CONTROL_LAYER if rule in controls[1:] else LAYERS[arch][1],
                    "p_perm_max": 0.01, "rank_stability_w": np.nan, "reached": reached,
                }  # fmt: skip
            table = pd.DataFrame(rows.values())
            table["rank"] = table["score"].rank(ascending=False, method="min")
            table["rank_ci_low"], table["rank_ci_high"] = table["rank"], table["rank"] + 1
            pw, p_fdr = [], {}
            if n_subj > 1:
                ok = [r for r in everyone if rows[r]["reached"]]
                for a, b in itertools.combinations(sorted(ok), 2):
                    diff = rows[a]["score"] - rows[b]["score"]
                    p = 1e-4 if abs(diff) > 0.05 else 0.4
                    p_fdr[(a, b)] = p_fdr[(b, a)] = min(1.0, 2 * p)
                    pw.append({**{k: rows[a][k] for k in ("match", "trainset", "arch",
                               "recording", "roi", "method")}, "rule_a": a, "rule_b": b,
                               "diff": diff, "p": p, "p_fdr": p_fdr[(a, b)],
                               "significant": p_fdr[(a, b)] < 0.05})  # fmt: skip
            pw = pd.DataFrame(pw)
            for other in everyone:
                table[f"p_fdr_vs_{other}"] = [p_fdr.get((r, other), np.nan) for r in table["rule"]]
            table["tied_with"] = [
                ";".join(o for o in everyone if p_fdr.get((r, o), 0.0) >= 0.05)
                for r in table["rule"]
            ]
            ranking.append(table)
            pairwise.append(pw)
            if match == "examples":
                for rule in everyone:
                    layers = [CONTROL_LAYER] if rule in controls[1:] else LAYERS[arch]
                    base = rows[rule]["score"]
                    for k, layer in enumerate([*layers, "best_cv"]):
                        value = base - 0.04 * abs(k - 1) if layer != "best_cv" else base
                        scores.append({**{c: rows[rule][c] for c in ("trainset", "arch",
                                       "recording", "roi", "method", "rule", "noise_ceiling_low",
                                       "noise_ceiling_high", "n_subjects")},
                                       "seed": 0, "layer": layer, "score": value,
                                       "ci_low": value - 0.03, "ci_high": value + 0.03,
                                       "score_nc": value / nc_hi,
                                       "best_layer": rows[rule]["best_layer"]})  # fmt: skip
    ranking = pd.concat(ranking, ignore_index=True)
    pairwise = pd.concat(pairwise, ignore_index=True)
    if not contract:  # today's pipeline: no match/kind/reached columns, no controls but random
        ranking = ranking.drop(columns=["match", "kind", "reached"])
        pairwise = pairwise.drop(columns=["match"])
    brain_paths = []
    for rec, rois, n_subj in recordings:
        path = root / "brain" / f"{rec}.npz"
        path.parent.mkdir(parents=True, exist_ok=True)
        rdms = {}
        for roi in rois:
            x = rng.random((n_subj, n_stim, n_stim))
            x = x + x.transpose(0, 2, 1)
            x[:, np.arange(n_stim), np.arange(n_stim)] = 0
            rdms[f"rdm_{roi}"] = x
        np.savez(path, stimuli=np.arange(n_stim), rois=np.array(rois), **rdms)
        meta = {"id": rec, "modality": "fmri", "stimuli": "objects92", "n_stimuli": n_stim,
                "rois": {r: {"n_subjects": n_subj} for r in rois}, "citation": "synthetic"}  # fmt: skip
        path.with_suffix(".json").write_text(json.dumps(meta))
        brain_paths.append(str(path))
    model_paths = []
    for (trainset, arch), rule in itertools.product(networks, [*rules, "random"]):
        path = root / "rdms" / rule / arch / trainset / "seed0" / "objects92.npz"
        path.parent.mkdir(parents=True, exist_ok=True)
        feats = rng.normal(size=(len(LAYERS[arch]), n_stim, 8))
        rdms = np.stack([1 - np.corrcoef(f) for f in feats])
        np.savez(path, layers=np.array(LAYERS[arch]), rdms=rdms)
        model_paths.append(str(path))
    trained = [*rules, "random"]
    accuracy = pd.DataFrame(
        [
            {
                "rule": r,
                "arch": a,
                "trainset": t,
                "seed": 0,
                "test_accuracy": 0.5 + 0.1 * (r == "bp"),
            }
            for (t, a), r in itertools.product(networks, trained)
        ]  # fmt: skip
    )
    curves = pd.DataFrame(
        [
            {
                "rule": r,
                "arch": a,
                "trainset": t,
                "seed": 0,
                "epoch": e,
                "test_accuracy": 0.3 + 0.1 * e,
            }
            for (t, a), r, e in itertools.product(networks, trained, (1, 2))
        ]  # fmt: skip
    )
    return Inputs(
        title="bioalign test report",
        scores=pd.DataFrame(scores),
        ranking=ranking,
        pairwise=pairwise,
        accuracy=accuracy,
        brain=read_brain(brain_paths),
        model_rdms=model_paths,
        curves=curves,
        config={"rsa": {"alpha": 0.05}},
    )
