# vcm sweep: sequences x codecs x QPs for the multitask pipeline (detect once, zipped XML,
# foreground video, code, decode, measure). Every rule runs the same `vcm` CLI users run.
from snakemake.utils import min_version, validate

min_version("9.0")

# The default applies only without --configfile: Snakemake deep-merges config files, which
# would add the default's sequences and codecs to every other config's.
if not config:

    configfile: "configs/default.yaml"


validate(config, "vcm/schemas/config.schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/frontend.smk"


rule all:
    input:
        "results/summary.csv",
