"""Size of the HTML report on a synthetic grid of the default configuration's scale.

Builds ``pipelines.report.build_report`` on the synthetic tables of ``tests/report_fixtures.py``
(28 rules and 6 controls, the networks of config `nets`, the 5 recordings/ROIs of ``recordings: all``,
2 comparators, brain-score trajectories of 3 seeds x 6 snapshots,
92 stimuli; noise RDMs, the worst case for PNG compression) and prints the page's size and its
largest figures. The issue's target is at most 3 MB.

    python -m benchmarks.report_size [--out DIR]
"""

from __future__ import annotations

import argparse
import base64
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from pipelines.report import build_report
from tests.report_fixtures import make_run, stimulus_sets

REPO = Path(__file__).resolve().parent.parent
CONTROLS = ("random", "pixels", "luminance", "colour", "gabor", "category")
RECORDINGS = (
    ("algonauts2019-92", ("EVC", "IT"), 15),
    ("kriegeskorte2008-hit", ("IT",), 4),
    ("kriegeskorte2008-mit", ("IT",), 1),
    ("kaneshiro2015-72", ("EEG",), 1),
)


def synthetic_trajectories(ranking) -> pd.DataFrame:
    """Brain scores along training for every rule, network, seed and recording of ``ranking``
    (6 snapshots, 3 seeds; controls one state): the report's trajectory figures at full count."""
    rng = np.random.default_rng(0)
    rows = []
    cells = ranking[["trainset", "arch", "recording", "roi", "method"]].drop_duplicates()
    kinds = ranking.drop_duplicates("rule").set_index("rule")["kind"]
    for cell in cells.to_dict("records"):
        for rule, kind in kinds.items():
            for seed in range(1 if kind == "control" else 3):
                for snap in range(1 if kind == "control" else 6):
                    score = rng.uniform(0, 0.3)
                    rows.append(
                        {
                            **cell,
                            "rule": rule,
                            "kind": kind,
                            "seed": seed,
                            "snapshot": snap,
                            "examples_seen": int(5000 * 10 ** (snap - 5)),
                            "test_accuracy": 0.1 + 0.15 * snap,
                            "layer": "best_cv",
                            "score": score,
                            "ci_low": score - 0.05,
                            "ci_high": score + 0.05,
                        }
                    )
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", help="folder for index.html (default: a temporary one)")
    args = ap.parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="report_size_"))
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    rules = list(config["rules"])
    networks = tuple(tuple(n.split("/")[::-1]) for n in config["nets"])  # (trainset, arch)
    start = time.time()
    inp = make_run(
        out, rules=tuple(r for r in rules if r != "random"), controls=CONTROLS,
        networks=networks, recordings=RECORDINGS,
    )  # fmt: skip
    inp.trajectories = synthetic_trajectories(inp.ranking)
    page, figs = build_report(inp, stimulus_sets())
    (out / "index.html").write_text(page)
    total = len(page.encode())
    embedded = sum(len(base64.b64encode(png)) for png in figs.values())
    print(
        f"report      {total / 1e6:.2f} MB ({out / 'index.html'}), built in {time.time() - start:.0f} s"
    )
    print(f"figures     {len(figs)}, {embedded / 1e6:.2f} MB embedded (base64)")
    print(f"html/tables {(total - embedded) / 1e6:.2f} MB")
    for name, png in sorted(figs.items(), key=lambda kv: -len(kv[1]))[:8]:
        print(f"  {name:<60} {len(png) / 1e3:7.1f} kB")


if __name__ == "__main__":
    main()
