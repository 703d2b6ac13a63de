# Training and read-out: one job per network (checkpoint, snapshots along training, record); one
# extract job per (rule, stimulus set) for all its networks and snapshots; one job per control.


rule train:
    input:
        data=rules.prepare_trainset.output.data,
    output:
        checkpoint="results/checkpoints/{rule}/{arch}/{trainset}/seed{seed}.pt",
        snapshots="results/checkpoints/{rule}/{arch}/{trainset}/seed{seed}_snapshots.pt",
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
        " --checkpoint {output.checkpoint} --snapshots {output.snapshots} --record {output.record}"
        " --threads {threads} --log {log}"


rule extract:
    input:
        records=lambda wc: run_paths(rules.train.output.record, rules=[wc.rule]),
        snapshots=lambda wc: run_paths(rules.train.output.snapshots, rules=[wc.rule]),
    output:
        table="results/rdms/{rule}/{stimset}_snapshots.npz",
        movement="results/rdms/{rule}/{stimset}_movement.csv",
        activations=rule_run_outputs(ACTIVATIONS),
        rdms=rule_run_outputs(MODEL_RDMS),
    log:
        "logs/extract/{rule}/{stimset}.log",
    message:
        "Layer RDMs of every {wildcards.rule} network and snapshot on {wildcards.stimset}"
    shell:
        "{PY} -m pipelines.extract --records {input.records} --snapshots {input.snapshots}"
        " --stimset {wildcards.stimset} --snapshots-out {output.table}"
        " --activations-out {output.activations} --rdms-out {output.rdms}"
        " --movement-out {output.movement} --log {log}"


rule control:
    output:
        table="results/controls/{control}/{stimset}.npz",
    log:
        "logs/control/{control}/{stimset}.log",
    params:
        spec=json.dumps({"nets": NETS}),
    message:
        "Control model {wildcards.control} on {wildcards.stimset}"
    shell:
        "{PY} -m pipelines.controls --control {wildcards.control} --stimset {wildcards.stimset}"
        " --params {params.spec:q} --out {output.table} --log {log}"
