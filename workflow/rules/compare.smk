# Comparison with the brain and aggregation into rankings.


rule compare:
    input:
        model=lambda wc: expand(rules.extract.output.rdms, stimset=get_stimset(wc), allow_missing=True),
        brain=rules.brain_rdms.output.rdms,
    output:
        scores="results/scores/{rule}/{arch}/{trainset}/seed{seed}/{recording}.csv",
        subjects="results/scores/{rule}/{arch}/{trainset}/seed{seed}/{recording}_subjects.csv",
    log:
        "logs/compare/{rule}/{arch}/{trainset}/seed{seed}/{recording}.log",
    params:
        spec=get_compare_params,
    message:
        "RSA of {wildcards.rule} {wildcards.arch} {wildcards.trainset} seed {wildcards.seed} vs {wildcards.recording}"
    shell:
        "{PY} -m pipelines.compare --model-rdms {input.model} --brain {input.brain}"
        " --params {params.spec:q} --out {output.scores} --subjects-out {output.subjects} --log {log}"


rule aggregate:
    input:
        scores=run_paths(rules.compare.output.scores, recording=STATIC_RECORDINGS),
        subjects=run_paths(rules.compare.output.subjects, recording=STATIC_RECORDINGS),
        records=run_paths(rules.train.output.record),
    output:
        scores="results/scores.csv",
        ranking=report("results/ranking.csv", caption="../report/ranking.rst", category="Ranking"),
        pairwise="results/pairwise.csv",
        accuracy=report("results/accuracy.csv", caption="../report/accuracy.rst", category="Training"),
        metrics="results/metrics.json",
        curves="results/curves.csv",
    log:
        "logs/aggregate/aggregate.log",
    params:
        spec=json.dumps({"n_boot": config["rsa"]["n_boot"], "boot_seed": config["rsa"]["seed"],
                         "alpha": config["rsa"]["alpha"]}),
    message:
        "Aggregating scores of every run into rankings"
    shell:
        "{PY} -m pipelines.aggregate --scores {input.scores} --subjects {input.subjects}"
        " --records {input.records} --params {params.spec:q} --out-scores {output.scores}"
        " --out-ranking {output.ranking} --out-pairwise {output.pairwise}"
        " --out-accuracy {output.accuracy} --out-metrics {output.metrics}"
        " --out-curves {output.curves} --log {log}"
