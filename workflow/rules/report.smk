# The self-contained HTML report (and its figures for `snakemake --report`).


rule report:
    input:
        scores=rules.aggregate.output.scores,
        ranking=rules.aggregate.output.ranking,
        pairwise=rules.aggregate.output.pairwise,
        accuracy=rules.aggregate.output.accuracy,
        curves=rules.aggregate.output.curves,
        brain=expand(rules.brain_rdms.output.rdms, recording=STATIC_RECORDINGS),
        timecourse=TIMECOURSE_OUTPUTS,
        encoding=ENCODING_OUTPUTS,
        trajectories=rules.aggregate.output.trajectories,
        movement=rules.aggregate.output.movement,
        model_rdms=lambda wc: sorted(set(run_paths(MODEL_RDMS, stimset=sorted(set(STIMSET.values()))))),
    output:
        html="results/report/index.html",
        figures=report(directory("results/report/figures"), patterns=["{name}.png"],
                       caption="../report/figures.rst", category="Figures"),
    log:
        "logs/report/report.log",
    threads: config["threads"]["report"]  # processes rendering figures
    params:
        code=step_digest("pipelines.report"),
        title=config["report"]["title"],
        config=json.dumps(config, sort_keys=True, default=str),
        timecourse=lambda wc, input: (f"--timecourse {input.timecourse[0]} --peaks {input.timecourse[1]}"
                                      if input.timecourse else ""),
        encoding=lambda wc, input: f"--encoding {input.encoding[0]}" if input.encoding else "",
    message:
        "Writing the HTML report"
    shell:
        "{PY} -m pipelines.report --scores {input.scores} --ranking {input.ranking}"
        " --pairwise {input.pairwise} --accuracy {input.accuracy} --brain {input.brain}"
        " --model-rdms {input.model_rdms} --title {params.title:q} --html {output.html}"
        " --curves {input.curves} --trajectories {input.trajectories} --movement {input.movement} --config-json {params.config:q} {params.timecourse} {params.encoding}"
        " --figures {output.figures} --workers {threads} --log {log}"
