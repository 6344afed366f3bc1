# A seeded, stratified subsample of each local benchmark file when eval.max_items is set (real
# checkpoints on a CPU): evaluation, judging and win rates all read it.
if SUBSET_NAMES:

    rule benchmark_subset:
        input:
            unpack(subset_inputs),
        output:
            jsonl=G.benchmark_subset_path(CFG, "{benchmark}"),
        params:
            args=subset_args,
        log:
            f"{LOGS}/benchmarks/{{benchmark}}.log",
        threads: 1
        wildcard_constraints:
            benchmark=alternatives(SUBSET_NAMES),
        conda:
            ENV
        shell:
            "python -m mos subset-benchmark {params.args} > {log:q} 2>&1"


# Evaluation of the fine-tuned models on the configured benchmarks (eval.benchmarks plus a grid
# block's extra `benchmarks`). One job per backbone x mixture evaluates all its seeds in one
# process, so the ~5 s of imports are paid once per cell; every run still gets its own
# eval/metrics.csv and lm-eval's raw outputs, and the cell's metrics.csv combines them.


rule evaluate:
    input:
        unpack(cell_eval_inputs),
    output:
        metrics=f"{RESULTS}/runs/{{backbone}}/{{mixture}}/metrics.csv",
    params:
        args=cell_eval_args,
    log:
        f"{LOGS}/eval/{{backbone}}/{{mixture}}.log",
    threads: 1
    conda:
        ENV
    shell:
        "python -m mos evaluate {params.args} --combined {output.metrics:q} --threads {threads}"
        " > {log:q} 2>&1"


# Single-answer grading of the judged benchmarks' answers (e.g. testbed_chat) by eval.judge: one job
# per cell, after its evaluation wrote the answers. Cached judges make no call for a judgment they
# made before, so rerunning this rule is free; the judge's API key is read from the environment.
rule judge:
    input:
        answers=f"{RESULTS}/runs/{{backbone}}/{{mixture}}/metrics.csv",
    output:
        metrics=f"{RESULTS}/runs/{{backbone}}/{{mixture}}/judge_metrics.csv",
    params:
        spec=judge_spec,
    log:
        f"{LOGS}/judge/{{backbone}}/{{mixture}}.log",
    threads: 1
    conda:
        ENV
    shell:
        "python -m mos judge grade --spec {params.spec:q} --combined {output.metrics:q} > {log:q} 2>&1"


# AlpacaEval-style win rates of every run against eval.winrate.reference (same backbone and seed).
if WINRATE:

    rule winrate:
        input:
            winrate_inputs,
        output:
            csv=f"{G.summary_dir(CFG)}/winrate.csv",
        params:
            spec=winrate_spec,
        log:
            f"{LOGS}/winrate.log",
        threads: 1
        conda:
            ENV
        shell:
            "python -m mos judge winrate --spec {params.spec:q} --out {output.csv:q} > {log:q} 2>&1"


# Optional, never part of the default target: the judged answers re-judged by eval.judge (A) and
# eval.judge_sensitivity.judge (B, default: the pinned SmolLM2-135M local judge), how far each
# mixture's µMB moves against the differences between mixtures. `snakemake judge_sensitivity`.
# Without judge B's model the table has judge A's columns and says what is missing.
if JUDGED_CELLS:

    rule judge_sensitivity:
        input:
            answers=[f"{RESULTS}/runs/{b}/{m}/metrics.csv" for b, m in JUDGED_CELLS],
        output:
            md=f"{RESULTS}/tables/judge_sensitivity.md",
            csv=f"{RESULTS}/tables/judge_sensitivity.csv",
        params:
            spec=sensitivity_spec,
            out=lambda wildcards, output: output.md.removesuffix(".md"),
        log:
            f"{LOGS}/judge_sensitivity.log",
        threads: 1
        conda:
            ENV
        shell:
            "python -m mos judge sensitivity --spec {params.spec:q} --out {params.out:q} > {log:q} 2>&1"


# The HTTP judge calls its API over the network (OpenAI's, or a served model), with the key from
# the environment: it runs where snakemake runs, like the downloads, not on compute nodes that
# may have no internet. Its jobs wait on the API, not on CPUs. A local judge model runs in its job.
if CFG["eval"]["judge"]["kind"] == "http":
    workflow.localrules("judge", *(["winrate"] if WINRATE else []))
SENSITIVITY_KINDS = {CFG["eval"]["judge"]["kind"], (CFG["eval"]["judge_sensitivity"]["judge"] or {}).get("kind")}
if JUDGED_CELLS and "http" in SENSITIVITY_KINDS:
    workflow.localrules("judge_sensitivity")
