# bioalign: train every learning rule, compare its layers with brain recordings, rank, report.
# Wiring only; the steps live in workflow/rules/*.smk and the logic in the Python packages.
import os

from snakemake.utils import min_version, validate

from models.config_check import check_config, check_known_ids

min_version("8.0")


configfile: os.path.join(workflow.basedir, "config", "config.yaml")


# Before the schema: YAML aliases may not expand the config beyond a bound, and an unknown or
# misspelt key (at any level) stops the run, naming it and the closest valid key.
SCHEMA = os.path.join(workflow.basedir, "workflow", "schemas", "config.schema.yaml")
check_config(config, SCHEMA, files=workflow.configfiles)
validate(config, SCHEMA)
check_known_ids(config)


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
