# Training and read-out: one job per (rule, network) trains every seed in turn (one process start-up
# for all of them; each seed's checkpoint, snapshots along training and record are its own files); one
# extract job per (rule, stimulus set) for all its networks and snapshots; one job per control.


rule train:
    input:
        data=rules.prepare_trainset.output.data,
    output:
        checkpoints=expand(CHECKPOINT, seed=SEEDS, allow_missing=True),
        snapshots=expand(SNAPSHOTS, seed=SEEDS, allow_missing=True),
        records=expand(RECORD, seed=SEEDS, allow_missing=True),
    log:
        "logs/train/{rule}/{arch}/{trainset}.log",
    params:
        spec=get_train_params,
    threads: config["threads"]["train"]
    resources:
        gpu=config["resources"]["train_gpus"],
    message:
        "Training {wildcards.rule} {wildcards.arch} on {wildcards.trainset}, seeds " + str(SEEDS)
    shell:
        "{PY} -m pipelines.train --data {input.data} --params {params.spec:q}"
        " --checkpoints {output.checkpoints} --snapshots {output.snapshots}"
        " --records {output.records} --threads {threads} --log {log}"


rule extract:
    input:
        records=lambda wc: run_paths(RECORD, rules=[wc.rule]),
        snapshots=lambda wc: run_paths(SNAPSHOTS, rules=[wc.rule]),
    output:
        table="results/rdms/{rule}/{stimset}_snapshots.npz",
        movement="results/rdms/{rule}/{stimset}_movement.csv",
        activations=rule_run_outputs(ACTIVATIONS),
        rdms=rule_run_outputs(MODEL_RDMS),
    log:
        "logs/extract/{rule}/{stimset}.log",
    params:
        code=step_digest("pipelines.extract"),
    message:
        "Layer RDMs of every {wildcards.rule} network and snapshot on {wildcards.stimset}"
    run:
        run_step("pipelines.extract", "--records", input.records, "--snapshots", input.snapshots,
                 "--stimset", wildcards.stimset, "--snapshots-out", output.table,
                 "--activations-out", output.activations, "--rdms-out", output.rdms,
                 "--movement-out", output.movement, "--log", log[0])


rule control:
    output:
        table="results/controls/{control}/{stimset}.npz",
    log:
        "logs/control/{control}/{stimset}.log",
    params:
        code=step_digest("pipelines.controls"),
        spec=json.dumps({"nets": NETS}),
    message:
        "Control model {wildcards.control} on {wildcards.stimset}"
    run:
        run_step("pipelines.controls", "--control", wildcards.control, "--stimset", wildcards.stimset,
                 "--params", params.spec, "--out", output.table, "--log", log[0])
