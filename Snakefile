# s1 "simple test-time scaling" on Qwen2.5-3B-Instruct, as one DAG:
# pool -> curated 1K -> SFT -> generation shards -> grades -> metrics/plots -> report.
# Rules are thin calls into the `workflow_scripts` package; see README.md.
import os

from snakemake.utils import min_version

min_version("9.0")


# config.yaml is the real experiment; Snakemake merges every --configfile (e.g. the smoke
# profile's experiment.yaml) and --config over it. Absolute, so --directory elsewhere still reads it.
configfile: os.path.join(workflow.basedir, "config.yaml")


report: "report/workflow.rst"


include: "rules/common.smk"


wildcard_constraints:
    dataset="|".join(EVAL_SETS),
    model="|".join(re.escape(name) for name in MODELS),
    method=method_constraint() + "|trajectory",
    setting=setting_constraint(),
    part=r"\d+of\d+",


include: "rules/world.smk"
include: "rules/data.smk"
include: "rules/curation.smk"
include: "rules/training.smk"
include: "rules/generation.smk"
include: "rules/grading.smk"
include: "rules/analysis.smk"


rule all:
    default_target: True
    input:
        f"{RESULTS}/REPORT.md",
        f"{RESULTS}/analysis/metrics.tsv",
        f"{RESULTS}/analysis/scaling.png",
