# The self-contained HTML report (and its figures for `snakemake --report`).


rule report:
    input:
        scores=rules.aggregate.output.scores,
        ranking=rules.aggregate.output.ranking,
        pairwise=rules.aggregate.output.pairwise,
        accuracy=rules.aggregate.output.accuracy,
        brain=expand(rules.brain_rdms.output.rdms, recording=RECORDINGS),
        model_rdms=lambda wc: sorted(set(run_paths(rules.extract.output.rdms,
                                                   stimset=sorted(set(STIMSET.values()))))),
    output:
        html="results/report/index.html",
        figures=report(directory("results/report/figures"), patterns=["{name}.png"],
                       caption="../report/figures.rst", category="Figures"),
    log:
        "logs/report/report.log",
    params:
        title=config["report"]["title"],
    message:
        "Writing the HTML report"
    shell:
        "{PY} -m pipelines.report --scores {input.scores} --ranking {input.ranking}"
        " --pairwise {input.pairwise} --accuracy {input.accuracy} --brain {input.brain}"
        " --model-rdms {input.model_rdms} --title {params.title:q} --html {output.html}"
        " --figures {output.figures} --log {log}"
