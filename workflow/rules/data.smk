# Data: training sets and recordings, fetched (mirror first) and checked.


# No code digest in its params (every other step has one): a rerun would rewrite the arrays that
# every training job reads, and so retrain every rule after any edit to the data-fetching code.
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
    params:
        code=step_digest("pipelines.brain"),
    message:
        "Loading and validating recording {wildcards.recording}"
    run:
        run_step("pipelines.brain", "--recording", wildcards.recording, "--out", output.rdms,
                 "--meta", output.meta, "--log", log[0])
