# vcm sweep: sequences x codecs x QPs for the multitask pipelines (detect once, send the
# detections and a foreground video, code, decode, pose, tracking, segmentation; the config's
# own and its variants) and the single-task baselines, ending in
# results/<config name>/summary.csv. Every rule runs the same `vcm` CLI users run and keeps a
# log beside the results.
from snakemake.utils import min_version, validate

min_version("9.0")

# The default applies only without --configfile: Snakemake deep-merges config files, which
# would add the default's sequences and codecs to every other config's.
if not config:

    configfile: "configs/default.yaml"


validate(config, "vcm/schemas/config.schema.yaml")
# Fail before any job runs if a value is one the sweep cannot run (NaN, a results folder
# that leads outside, an option or QP its backend refuses), or anything the config needs is
# missing (a backend, its package or model files, a codec's programs, a sequence's video or
# ground truth): one function, the same checks as `vcm config`.
from vcm.config import check_sweep_config

check_sweep_config(config, source="sweep config")


include: "workflow/rules/common.smk"
include: "workflow/rules/frontend.smk"
include: "workflow/rules/tasks.smk"
include: "workflow/rules/single.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        rules.summary.output,
