# Training and read-out: one checkpoint per run, layer activations and RDMs per stimulus set.


rule train:
    input:
        data=rules.prepare_trainset.output.data,
    output:
        checkpoint="results/checkpoints/{rule}/{arch}/{trainset}/seed{seed}.pt",
        record="results/checkpoints/{rule}/{arch}/{trainset}/seed{seed}.json",
    log:
        "logs/train/{rule}/{arch}/{trainset}/seed{seed}.log",
    params:
        spec=get_train_params,
    threads: config["threads"]["train"]
    resources:
        gpu=config["resources"]["train_gpus"],
    message:
        "Training {wildcards.rule} {wildcards.arch} on {wildcards.trainset}, seed {wildcards.seed}"
    shell:
        "{PY} -m pipelines.train --data {input.data} --params {params.spec:q}"
        " --checkpoint {output.checkpoint} --record {output.record} --threads {threads} --log {log}"


rule extract:
    input:
        checkpoint=rules.train.output.checkpoint,
        record=rules.train.output.record,
    output:
        activations="results/activations/{rule}/{arch}/{trainset}/seed{seed}/{stimset}.npz",
        rdms="results/rdms/{rule}/{arch}/{trainset}/seed{seed}/{stimset}.npz",
    log:
        "logs/extract/{rule}/{arch}/{trainset}/seed{seed}/{stimset}.log",
    message:
        "Layer activations and RDMs of {wildcards.rule} {wildcards.arch} {wildcards.trainset} on {wildcards.stimset}"
    shell:
        "{PY} -m pipelines.extract --checkpoint {input.checkpoint} --record {input.record}"
        " --stimset {wildcards.stimset} --activations {output.activations} --rdms {output.rdms} --log {log}"
