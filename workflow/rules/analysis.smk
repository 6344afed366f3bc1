# Results: collect every run into results/<exp>/summary/*.csv (and the config's pre-declared claims
# into summary/claims.json), then regenerate the paper's tables and figures from those files only:
# one rule per analysis script, made from what the script declares (analysis/__init__.py: its SCRIPT
# names the summary files or earlier scripts it reads and the files it writes), so a new table is one
# new file in analysis/ and its name in analysis.SCRIPTS. Each also runs by hand:
# python analysis/X.py results/<exp>.

SUMMARY = G.summary_dir(CFG)


rule aggregate:
    input:
        trained=cell_markers(EVALUATED),
        cell_metrics=cell_metrics(),
        judge_metrics=judge_metrics(),
    output:
        runs=f"{SUMMARY}/runs.csv",
        metrics=f"{SUMMARY}/metrics.csv",
        train_log=f"{SUMMARY}/train_log.csv",
        trajectory=f"{SUMMARY}/trajectory.csv",
        item_scores=f"{SUMMARY}/items.csv.gz",
        claims=f"{SUMMARY}/claims.json",
    params:
        out=folder_of("runs"),
        run_dirs=run_folders,
        claims=S.spec_json(CLAIMS),  # the config's pre-declared claims, resolved
    log:
        f"{LOGS}/aggregate.log",
    threads: 1
    conda:
        ENV
    shell:
        "python -m mos aggregate --out {params.out:q} --claims {params.claims:q} {params.run_dirs:q} > {log:q} 2>&1"


# ---------------------------------------------------------------- every analysis script (analysis/)
# The summary files a script's `reads` may name (analysis.SUMMARY_FILES), as the rules writing them name them.
SUMMARY_INPUTS = {
    "runs.csv": rules.aggregate.output.runs,
    "metrics.csv": rules.aggregate.output.metrics,
    "train_log.csv": rules.aggregate.output.train_log,
    "trajectory.csv": rules.aggregate.output.trajectory,
    "claims.json": rules.aggregate.output.claims,
    "datasets.csv": rules.dataset_stats.output.csv,  # workflow/rules/stats.smk
    "ppl.csv": rules.ppl_summary.output.csv,
    "winrate.csv": rules.winrate.output.csv if WINRATE else None,  # workflow/rules/eval.smk
}
assert set(SUMMARY_INPUTS) == set(A.SUMMARY_FILES), "SUMMARY_INPUTS must map each analysis.SUMMARY_FILES"


for _script in ANALYSIS:

    rule:
        name:
            _script.rule
        input:
            script=ROOT / f"analysis/{_script.name}.py",
            **{k.split(".")[0]: SUMMARY_INPUTS[k] for k in _script.reads if k in SUMMARY_INPUTS},
            tables=analysis_tables(_script),
        output:
            analysis_outputs(_script),
        params:
            exp=experiment_of_table,
        log:
            f"{LOGS}/analysis/{_script.name}.log",
        threads: 1
        conda:
            ENV
        shell:
            "python {input.script:q} {params.exp:q} > {log:q} 2>&1"


# ---------------------------------------------------------------- this run against the committed snapshot (make run's last word)
rule reproduction:
    input:
        unpack(reproduction_inputs),
    output:
        f"{RESULTS}/tables/reproduction.md",
        f"{RESULTS}/tables/reproduction.csv",
    params:
        exp=experiment_of_table,
        snapshot=SNAPSHOT,
    log:
        f"{LOGS}/analysis/reproduction.log",
    threads: 1
    conda:
        ENV
    shell:
        "python {input.script:q} {params.exp:q} --snapshot {params.snapshot:q} > {log:q} 2>&1"
