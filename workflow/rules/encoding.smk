# Encoding models for recordings with response patterns: cross-validated ridge from each layer's
# features to every voxel/vertex.


rule encode:
    input:
        activations=lambda wc: expand(ACTIVATIONS, stimset=get_stimset(wc), allow_missing=True),
        brain=rules.brain_rdms.output.rdms,
    output:
        scores="results/encoding/{rule}/{arch}/{trainset}/seed{seed}/{recording}.csv",
    log:
        "logs/encode/{rule}/{arch}/{trainset}/seed{seed}/{recording}.log",
    params:
        code=step_digest("pipelines.encode"),
        spec=get_encoding_params,
    message:
        "Encoding models of {wildcards.rule} {wildcards.arch} {wildcards.trainset} seed {wildcards.seed} for {wildcards.recording}"
    run:
        run_step("pipelines.encode", "run", "--activations", input.activations,
                 "--brain", input.brain, "--params", params.spec, "--out", output.scores,
                 "--log", log[0])


rule aggregate_encoding:
    input:
        scores=run_paths(rules.encode.output.scores, recording=RESPONSE_RECORDINGS),
    output:
        scores="results/encoding.csv",
    log:
        "logs/aggregate_encoding/aggregate_encoding.log",
    params:
        code=step_digest("pipelines.encode"),
    message:
        "Aggregating the encoding-model scores of every run"
    run:
        run_step("pipelines.encode", "aggregate", "--scores", input.scores,
                 "--out", output.scores, "--log", log[0])


# Target for `rule all` (empty when no response-level recording is in the grid).
ENCODING_OUTPUTS = list(rules.aggregate_encoding.output) if RESPONSE_RECORDINGS else []
