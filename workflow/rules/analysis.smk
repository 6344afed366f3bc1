# Results: collect every run into results/<exp>/summary/*.csv (and the config's pre-declared claims
# into summary/claims.json), then regenerate the paper's tables and figures from those files only
# (analysis/*.py also run by hand: python analysis/X.py results/<exp>).

SUMMARY = G.summary_dir(CFG)


rule aggregate:
    input:
        run_json=run_paths("run.json"),
        train_log=run_paths("train_log.csv"),
        trajectory=run_paths("trajectory.csv"),
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


# ---------------------------------------------------------------- Table 2 (MMLU part), per benchmark
rule table2_main:
    input:
        script=ROOT / "analysis/table2_main.py",
        runs=rules.aggregate.output.runs,
        metrics=rules.aggregate.output.metrics,
        claims=rules.aggregate.output.claims,
    output:
        tables=expand(f"{RESULTS}/tables/table2_main_{{benchmark}}.md",
                      benchmark=G.group_benchmarks(CFG["eval"]["benchmarks"])),
    params:
        exp=experiment_folder,
    log:
        f"{LOGS}/analysis/table2_main.log",
    threads: 1
    conda:
        ENV
    shell:
        "python {input.script:q} {params.exp:q} > {log:q} 2>&1"


# ---------------------------------------------------------------- Figure 3: training loss
rule fig3_loss:
    input:
        script=ROOT / "analysis/fig3_loss.py",
        runs=rules.aggregate.output.runs,
        train_log=rules.aggregate.output.train_log,
    output:
        png=f"{RESULTS}/figures/fig3_loss.png",
        pdf=f"{RESULTS}/figures/fig3_loss.pdf",
    params:
        exp=experiment_folder,
    log:
        f"{LOGS}/analysis/fig3_loss.log",
    threads: 1
    conda:
        ENV
    shell:
        "python {input.script:q} {params.exp:q} > {log:q} 2>&1"


# ---------------------------------------------------------------- Table 3, Table 5, Figures 2 and 4, scorecard, power
ANALYSIS_OUTPUTS = {
    "table3_priors": ["tables/table3_priors.md"],
    "table5_mospec": ["tables/table5_mospec.md"],
    "fig2_weights": ["figures/fig2_weights.png", "figures/fig2_weights.pdf", "tables/fig2_final_weights.csv"],
    "fig4_mospec_weights": ["figures/fig4_mospec_weights.png", "figures/fig4_mospec_weights.pdf",
                            "tables/fig4_final_weights.csv"],
    "scorecard": ["tables/scorecard.md", "tables/scorecard.csv"],
    "power": ["tables/power.md", "tables/power.csv"],
    "leaderboard": ["tables/leaderboard.md", "tables/leaderboard.csv", "figures/leaderboard.png"],
}


for _script, _outputs in ANALYSIS_OUTPUTS.items():

    rule:
        name:
            _script
        input:
            script=ROOT / f"analysis/{_script}.py",
            runs=rules.aggregate.output.runs,
            metrics=rules.aggregate.output.metrics,
            trajectory=rules.aggregate.output.trajectory,
            claims=rules.aggregate.output.claims,
        output:
            [f"{RESULTS}/{o}" for o in _outputs],
        params:
            exp=experiment_folder,
        log:
            f"{LOGS}/analysis/{_script}.log",
        threads: 1
        conda:
            ENV
        shell:
            "python {input.script:q} {params.exp:q} > {log:q} 2>&1"


# ---------------------------------------------------------------- Table 1 (datasets) and Table 6 (perplexity study)
# Their summaries come from workflow/rules/stats.smk. Table 6 needs a PROP. (τ = 1) mixture in the grid.
rule table1_datasets:
    input:
        script=ROOT / "analysis/table1_datasets.py",
        summary=rules.dataset_stats.output.csv,
    output:
        [f"{RESULTS}/tables/table1_datasets.{ext}" for ext in ("md", "csv", "tex")],
    params:
        exp=summary_experiment_folder,
    log:
        f"{LOGS}/analysis/table1_datasets.log",
    threads: 1
    conda:
        ENV
    shell:
        "python {input.script:q} {params.exp:q} > {log:q} 2>&1"


rule table6_ppl:
    input:
        script=ROOT / "analysis/table6_ppl.py",
        summary=rules.ppl_summary.output.csv,
        runs=rules.aggregate.output.runs,
    output:
        [f"{RESULTS}/tables/{stem}.{ext}" for stem in ("table6_ppl", "table6_ppl_sequence")
         for ext in ("md", "csv", "tex")],
    params:
        exp=summary_experiment_folder,
    log:
        f"{LOGS}/analysis/table6_ppl.log",
    threads: 1
    conda:
        ENV
    shell:
        "python {input.script:q} {params.exp:q} > {log:q} 2>&1"


# ---------------------------------------------------------------- win rates against eval.winrate.reference
if WINRATE:

    rule winrate_table:
        input:
            script=ROOT / "analysis/winrate.py",
            summary=rules.winrate.output.csv,
            runs=rules.aggregate.output.runs,
        output:
            [f"{RESULTS}/tables/winrate.{ext}" for ext in ("md", "csv", "tex")],
        params:
            exp=summary_experiment_folder,
        log:
            f"{LOGS}/analysis/winrate.log",
        threads: 1
        conda:
            ENV
        shell:
            "python {input.script:q} {params.exp:q} > {log:q} 2>&1"


# ---------------------------------------------------------------- the README's results text, from the tables above
rule headline:
    input:
        script=ROOT / "analysis/headline.py",
        tables=[rules.table2_main.output, *(getattr(rules, name).output for name in ANALYSIS_OUTPUTS),
                rules.winrate_table.output if WINRATE else [], rules.table6_ppl.output if PPL_CELLS else []],
    output:
        f"{RESULTS}/tables/headline.md",
    params:
        exp=experiment_of_table,
    log:
        f"{LOGS}/analysis/headline.log",
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


# ---------------------------------------------------------------- transfer matrix (issue 10, part 7)
# Only for an experiment that trains on every dataset of its grid alone (the default: every skill alone on tiny-llama).
if TRANSFER:

    rule table_transfer:
        input:
            script=ROOT / "analysis/table_transfer.py",
            runs=rules.aggregate.output.runs,
            metrics=rules.aggregate.output.metrics,
            trajectory=rules.aggregate.output.trajectory,
        output:
            [f"{RESULTS}/tables/transfer_matrix.{ext}" for ext in ("md", "csv", "tex")],
        params:
            exp=experiment_folder,
        log:
            f"{LOGS}/analysis/table_transfer.log",
        threads: 1
        conda:
            ENV
        shell:
            "python {input.script:q} {params.exp:q} > {log:q} 2>&1"
