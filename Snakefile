# bioalign: train every learning rule, compare its layers with brain recordings, rank, report.
# Wiring only; the steps live in workflow/rules/*.smk and the logic in the Python packages.
import os

from snakemake.utils import min_version, validate

min_version("8.0")


configfile: os.path.join(workflow.basedir, "config", "config.yaml")


validate(config, os.path.join(workflow.basedir, "workflow", "schemas", "config.schema.yaml"))


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/compare.smk"
include: "workflow/rules/timecourse.smk"
include: "workflow/rules/encoding.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        rules.report.output.html,
        rules.aggregate.output.metrics,
        TIMECOURSE_OUTPUTS,
        ENCODING_OUTPUTS,
    default_target: True
