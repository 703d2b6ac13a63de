"""The pipeline's costs: a run from scratch (time split: training vs everything else), a no-op
rerun, adding one rule to a finished run, and adding one recording to a finished run (one the
config already has is added by deleting its outputs from the finished run and rebuilding them, the
aggregation forced as a changed rule or recording list would force it).

    python -m benchmarks.make_run --add-rule fa --add-recording kriegeskorte2008-hit  # default grid
    python -m benchmarks.make_run --configfile config/test.yaml --add-rule fa \\
        --add-recording kriegeskorte2008-hit --cores 2

Each step runs the real ``snakemake`` in a fresh work folder; per-job wall times come from
Snakemake's own log. "Training" is the sum of the train jobs' wall times; "overhead" is every other
job's (data preparation, extraction, controls, comparison, aggregation, report). Writes one row per
step to ``benchmarks/results/make_run.csv`` (device, commit, config) and prints the table.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import yaml

from benchmarks.provenance import commit

REPO = Path(__file__).resolve().parent.parent
STAMP = re.compile(r"\[(\w{3} \w{3}\s+\d+ \d\d:\d\d:\d\d \d{4})\]")


def job_times(log: Path) -> dict[str, float]:
    """Summed wall seconds per Snakemake rule, from one Snakemake log file."""
    started, total, now = {}, defaultdict(float), None
    for line in log.read_text().splitlines():
        if m := STAMP.match(line):
            now = dt.datetime.strptime(re.sub(r"\s+", " ", m.group(1)), "%a %b %d %H:%M:%S %Y")
        elif m := re.match(r"Job (\d+):", line):
            started[m.group(1)] = now
        elif m := re.match(r"\s*Finished jobid: (\d+) \(Rule: (\w+)\)", line):
            if m.group(1) in started:
                total[m.group(2)] += (now - started[m.group(1)]).total_seconds()
    return dict(total)


def snakemake(workdir: Path, configfile: str | None, cores: int, extra: list[str]) -> dict:
    """Run snakemake; return wall seconds, jobs run and the per-rule job seconds."""
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--cores", str(cores),
           "--directory", str(workdir)]  # fmt: skip
    if configfile:
        cmd += ["--configfile", str(REPO / configfile)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    before = set((workdir / ".snakemake" / "log").glob("*.log"))
    start = time.perf_counter()
    proc = subprocess.run(cmd + extra, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"snakemake failed ({' '.join(extra)}):\n{proc.stderr[-3000:]}")
    logs = sorted(set((workdir / ".snakemake" / "log").glob("*.log")) - before)
    per_rule = job_times(logs[-1]) if logs else {}
    jobs = len(re.findall(r"^Finished jobid", proc.stderr, flags=re.M))
    return {"wall_s": wall, "jobs": jobs, "per_rule": per_rule}


def _config(configfile: str | None) -> dict:
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    if configfile:
        cfg.update(yaml.safe_load((REPO / configfile).read_text()))
    return cfg


def _as_list(items: list[str]) -> str:
    return "[" + ",".join(items) + "]"


def _recordings(cfg: dict) -> list[str]:
    if cfg["recordings"] == "all":
        from brain_data.recordings import select_recordings

        return list(select_recordings("all")[0])
    return list(cfg["recordings"])


def _remove(work: Path, patterns: list[str]) -> None:
    """Delete a rule's or a recording's outputs, as if it had never been in the config."""
    for pattern in patterns:
        for path in work.glob(pattern):
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--configfile", help="a config merged over config/config.yaml")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--add-rule", help="a rule to add to a finished run (default: none)")
    ap.add_argument("--add-recording", help="a recording to add to a finished run")
    ap.add_argument("--workdir", help="run here and keep the results (default: a temporary folder)")
    ap.add_argument(
        "--finished",
        action="store_true",
        help="--workdir holds a finished run of this config: skip the from-scratch step",
    )
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "make_run.csv"))
    args = ap.parse_args()
    cfg = _config(args.configfile)
    rules, recordings = list(cfg["rules"]), _recordings(cfg)
    # A rule or recording already in the config is added by deleting its outputs from the finished
    # run and rebuilding (so "from scratch" is the config's whole run); one that is not is left out
    # of the first run and then added.
    readd_rule = args.add_rule in rules
    readd_rec = args.add_recording in recordings
    base_rules = rules if readd_rule else [r for r in rules if r != args.add_rule]
    base_recs = recordings if readd_rec else [r for r in recordings if r != args.add_recording]
    base = [f"rules={_as_list(base_rules)}", f"recordings={_as_list(base_recs)}"]
    steps = [("from scratch", base, []), ("no-op rerun", base, [])][args.finished :]
    if args.add_rule:
        r = args.add_rule
        gone = [f"results/{d}/{r}" for d in ("checkpoints", "rdms", "activations", "scores")]
        steps.append((f"add rule {r}", [f"rules={_as_list(base_rules + [r] * (not readd_rule))}",
                                        base[1]], gone if readd_rule else []))  # fmt: skip
        base_rules = base_rules + [r] * (not readd_rule)
    if args.add_recording:
        r = args.add_recording
        gone = [f"results/brain/{r}.*", f"results/scores/*/{r}.csv", f"results/scores/*/{r}_*"]
        steps.append((f"add recording {r}", [f"rules={_as_list(base_rules)}",
                       f"recordings={_as_list(base_recs + [r] * (not readd_rec))}"],
                      gone if readd_rec else []))  # fmt: skip
    rows = []
    with tempfile.TemporaryDirectory(prefix="bioalign-bench-") as tmp:
        work = Path(args.workdir or tmp)
        if args.workdir and any(work.glob("*")) and not args.finished:
            raise SystemExit(f"--workdir {work} is not empty: the first step runs from scratch")
        work.mkdir(parents=True, exist_ok=True)
        for name, overrides, gone in steps:
            _remove(work, gone)
            # Snakemake does not rebuild deleted intermediates of up-to-date outputs: the aggregate
            # is forced, as a changed rule or recording list would make it rerun
            force = ["--forcerun", "aggregate"] if gone else []
            res = snakemake(work, args.configfile, args.cores, ["--config", *overrides, *force])
            train = res["per_rule"].get("train", 0.0)
            other = sum(v for k, v in res["per_rule"].items() if k not in ("train", "all"))
            rows.append({
                "step": name, "wall_s": round(res["wall_s"], 1), "jobs": res["jobs"],
                "train_job_s": round(train, 1), "other_job_s": round(other, 1),
                "overhead_pct_of_training": round(100 * other / train, 1) if train else "",
                "per_rule": " ".join(f"{k}={v:.0f}" for k, v in sorted(res["per_rule"].items())),
                "config": args.configfile or "config/config.yaml", "cores": args.cores,
                "device": f"{platform.machine()} cpu x{os.cpu_count()}", "commit": commit(),
                "date": dt.date.today().isoformat(),
            })  # fmt: skip
            print(f"{name}: {res['wall_s']:.1f} s, {res['jobs']} jobs", flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    new = not out.exists()
    with out.open("a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        if new:
            writer.writeheader()
        writer.writerows(rows)
    print("| step | wall s | jobs | train job s | other job s | overhead % of training |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['step']} | {r['wall_s']} | {r['jobs']} | {r['train_job_s']} | "
            f"{r['other_job_s']} | {r['overhead_pct_of_training']} |"
        )


if __name__ == "__main__":
    main()
