# Comparison with the brain (one job per model and recording: every network, every snapshot; the
# recording's bootstrap noise ceilings once, for all of them) and
# aggregation into scores, trajectories and rankings at matched examples and matched accuracy.
# The many short steps are `run:` jobs handed to long-lived workers (pipelines/workers.py); the one
# aggregation job is a process of its own.


rule ceilings:
    input:
        brain=rules.brain_rdms.output.rdms,
    output:
        ceilings="results/ceilings/{recording}.npz",
    log:
        "logs/ceilings/{recording}.log",
    params:
        code=step_digest("pipelines.ceilings"),
        spec=json.dumps({"methods": config["rsa"]["methods"], "n_boot": config["rsa"]["n_boot"],
                         "boot_seed": config["rsa"]["seed"], "ci": config["rsa"].get("ci", "subjects")},
                        sort_keys=True),
    message:
        "Bootstrap noise ceilings of {wildcards.recording} (shared by every model's comparison)"
    run:
        run_step("pipelines.ceilings", "--brain", input.brain, "--params", params.spec,
                 "--out", output.ceilings, "--log", log[0])


rule compare:
    input:
        table=get_model_table,
        brain=rules.brain_rdms.output.rdms,
        ceilings=rules.ceilings.output.ceilings,
    output:
        scores="results/scores/{model}/{recording}.csv",
        subjects="results/scores/{model}/{recording}_subjects.csv",
        trajectory="results/scores/{model}/{recording}_trajectory.csv",
        resamples="results/scores/{model}/{recording}_resamples.npz",
    log:
        "logs/compare/{model}/{recording}.log",
    params:
        code=step_digest("pipelines.compare"),
        spec=get_compare_params,
    message:
        "RSA of {wildcards.model} (all networks and snapshots) vs {wildcards.recording}"
    run:
        run_step("pipelines.compare", "--table", input.table, "--brain", input.brain,
                 "--params", params.spec, "--out", output.scores, "--subjects-out", output.subjects,
                 "--trajectory-out", output.trajectory, "--resamples-out", output.resamples,
                 "--ceilings", input.ceilings, "--log", log[0])


rule aggregate:
    input:
        scores=model_pair_paths(rules.compare.output.scores),
        subjects=model_pair_paths(rules.compare.output.subjects),
        trajectories=model_pair_paths(rules.compare.output.trajectory),
        resamples=model_pair_paths(rules.compare.output.resamples),
        records=run_paths(RECORD),
        movement=expand(rules.extract.output.movement, rule=config["rules"],
                        stimset=sorted({STIMSET[r] for r in STATIC_RECORDINGS})),
    output:
        scores="results/scores.csv",
        ranking=report("results/ranking.csv", caption="../report/ranking.rst", category="Ranking"),
        pairwise="results/pairwise.csv",
        trajectories="results/trajectories.csv",
        movement="results/layer_movement.csv",
        accuracy=report("results/accuracy.csv", caption="../report/accuracy.rst", category="Training"),
        metrics="results/metrics.json",
        curves="results/curves.csv",
    log:
        "logs/aggregate/aggregate.log",
    params:
        code=step_digest("pipelines.aggregate"),
        spec=json.dumps({"n_boot": config["rsa"]["n_boot"], "boot_seed": config["rsa"]["seed"],
                         "alpha": config["rsa"]["alpha"], "ci": config["rsa"]["ci"],
                         "match_accuracy": config["match_accuracy"]}),
    message:
        "Aggregating scores of every model into trajectories and rankings"
    shell:
        "{PY} -m pipelines.aggregate --scores {input.scores} --subjects {input.subjects}"
        " --trajectories {input.trajectories} --resamples {input.resamples}"
        " --records {input.records} --movement {input.movement} --params {params.spec:q}"
        " --out-scores {output.scores} --out-ranking {output.ranking}"
        " --out-pairwise {output.pairwise} --out-trajectories {output.trajectories}"
        " --out-movement {output.movement}"
        " --out-accuracy {output.accuracy} --out-metrics {output.metrics}"
        " --out-curves {output.curves} --log {log}"
