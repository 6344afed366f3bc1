# Mixture-of-Skills replication pipeline: data -> tiny backbones -> fine-tuning runs
# (backbone x mixture x seed) -> evaluation -> summary CSVs -> the paper's tables and figures.
# Run from the repository root, where Snakemake finds this file and profiles/default/:
#
#     snakemake --cores all                                  # the embedded default, on CPU
#     snakemake -n --configfile config/paper.yaml            # the paper's grid (dry run)
#     snakemake --workflow-profile profiles/slurm --configfile config/paper.yaml
#
# `--configfile FILE` replaces config/config.yaml as a whole (each config file is a complete
# experiment); `--config key=value` overrides single keys. The config is validated by mos.pipeline.config
# against workflow/schemas/config.schema.yaml before any job starts.

from snakemake.utils import min_version

min_version("9.0")


if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


include: "workflow/rules/common.smk"


wildcard_constraints:  # names from the config only, so that paths never parse ambiguously
    backbone=alternatives(G.grid_backbones(CFG)),
    mixture=alternatives(G.grid_mixtures(CFG)),
    dataset=alternatives(G.grid_datasets(CFG)),
    seed=r"\d+",
    theta=r"\d+",


include: "workflow/rules/data.smk"
include: "workflow/rules/backbones.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/headroom.smk"
include: "workflow/rules/eval.smk"
include: "workflow/rules/stats.smk"
include: "workflow/rules/analysis.smk"


rule all:
    default_target: True
    input:
        rules.aggregate.output,
        [getattr(rules, script.rule).output for script in ANALYSIS],  # the tables and figures (analysis/)
        rules.reproduction.output,  # how close this run came to snapshots/<experiment>
