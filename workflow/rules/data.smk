# Data: training sets and recordings, fetched (mirror first) and checked.


rule prepare_trainset:
    output:
        data="results/trainsets/{trainset}.npz",
    log:
        "logs/prepare_trainset/{trainset}.log",
    message:
        "Fetching and decoding training set {wildcards.trainset}"
    shell:
        "{PY} -m pipelines.prepare --trainset {wildcards.trainset} --out {output.data} --log {log}"


rule brain_rdms:
    input:
        manifest=get_manifest,
    output:
        rdms="results/brain/{recording}.npz",
        meta="results/brain/{recording}.json",
    log:
        "logs/brain_rdms/{recording}.log",
    message:
        "Loading and validating recording {wildcards.recording}"
    run:
        run_step("pipelines.brain", "--recording", wildcards.recording, "--out", output.rdms,
                 "--meta", output.meta, "--log", log[0])
