# Time-resolved (M/EEG) recordings: RSA per time point and layer, peak latencies, aggregation.


rule compare_time:
    input:
        model=lambda wc: expand(MODEL_RDMS, stimset=get_stimset(wc), allow_missing=True),
        brain=rules.brain_rdms.output.rdms,
    output:
        scores="results/timecourse/{rule}/{arch}/{trainset}/seed{seed}/{recording}.csv",
        peaks="results/timecourse/{rule}/{arch}/{trainset}/seed{seed}/{recording}_peaks.csv",
    log:
        "logs/compare_time/{rule}/{arch}/{trainset}/seed{seed}/{recording}.log",
    params:
        code=step_digest("pipelines.compare_time"),
        spec=get_timecourse_params,
    message:
        "Time-resolved RSA of {wildcards.rule} {wildcards.arch} {wildcards.trainset} seed {wildcards.seed} vs {wildcards.recording}"
    run:
        run_step("pipelines.compare_time", "compare", "--model-rdms", input.model,
                 "--brain", input.brain, "--params", params.spec, "--out", output.scores,
                 "--peaks-out", output.peaks, "--log", log[0])


rule aggregate_time:
    input:
        scores=run_paths(rules.compare_time.output.scores, recording=TIMED_RECORDINGS),
        peaks=run_paths(rules.compare_time.output.peaks, recording=TIMED_RECORDINGS),
    output:
        scores="results/timecourse.csv",
        peaks="results/timecourse_peaks.csv",
    log:
        "logs/aggregate_time/aggregate_time.log",
    params:
        code=step_digest("pipelines.compare_time"),
    message:
        "Aggregating the time-resolved scores of every run"
    run:
        run_step("pipelines.compare_time", "aggregate", "--scores", input.scores,
                 "--peaks", input.peaks, "--out-scores", output.scores,
                 "--out-peaks", output.peaks, "--log", log[0])


# Targets for `rule all` (empty when no time-resolved recording is in the grid).
TIMECOURSE_OUTPUTS = list(rules.aggregate_time.output) if TIMED_RECORDINGS else []
