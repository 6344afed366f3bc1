# Results: collect every run into results/<exp>/summary/*.csv, then regenerate the paper's tables
# and figures from those CSVs only (analysis/*.py also run by hand: python analysis/X.py results/<exp>).

SUMMARY = C.summary_dir(CFG)


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
    params:
        out=folder_of("runs"),
        run_dirs=run_folders,
    log:
        f"{LOGS}/aggregate.log",
    threads: 1
    shell:
        "python -m mos.aggregate --out {params.out:q} {params.run_dirs:q} > {log:q} 2>&1"


# ---------------------------------------------------------------- Table 2 (MMLU part), per benchmark
rule table2_main:
    input:
        script=ROOT / "analysis/table2_main.py",
        runs=rules.aggregate.output.runs,
        metrics=rules.aggregate.output.metrics,
    output:
        tables=expand(f"{RESULTS}/tables/table2_main_{{benchmark}}.md",
                      benchmark=[b for b in CFG["eval"]["benchmarks"] if b in C.MC_BENCHMARKS]),
    params:
        exp=experiment_folder,
    log:
        f"{LOGS}/analysis/table2_main.log",
    threads: 1
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
    shell:
        "python {input.script:q} {params.exp:q} > {log:q} 2>&1"


# ---------------------------------------------------------------- Table 3, Table 5, Figures 2 and 4, scorecard
ANALYSIS_OUTPUTS = {
    "table3_priors": ["tables/table3_priors.md"],
    "table5_mospec": ["tables/table5_mospec.md"],
    "fig2_weights": ["figures/fig2_weights.png", "figures/fig2_weights.pdf"],
    "fig4_mospec_weights": ["figures/fig4_mospec_weights.png", "figures/fig4_mospec_weights.pdf"],
    "scorecard": ["tables/scorecard.md"],
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
        output:
            [f"{RESULTS}/{o}" for o in _outputs],
        params:
            exp=experiment_folder,
        log:
            f"{LOGS}/analysis/{_script}.log",
        threads: 1
        shell:
            "python {input.script:q} {params.exp:q} > {log:q} 2>&1"


# ---------------------------------------------------------------- Table 1 (datasets) and Table 6 (perplexity study)
# Their summaries come from workflow/rules/stats.smk. Table 6 needs a PROP. (τ = 1) mixture in the grid.
def summary_experiment_folder(wildcards, input):
    """results/<experiment>, from the summary CSV an analysis job reads (input `summary`)."""
    return os.path.dirname(os.path.dirname(input.summary))


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
        shell:
            "python {input.script:q} {params.exp:q} > {log:q} 2>&1"


# ---------------------------------------------------------------- transfer matrix (issue 10, part 7)
# Only for an experiment that trains on every dataset of its grid alone (e.g. config/transfer.yaml).
TRANSFER = C.grid_datasets(CFG) == sorted(
    {d for m in C.grid_mixtures(CFG) for d in C.mixture_datasets(CFG, m) if len(C.mixture_datasets(CFG, m)) == 1},
    key=C.grid_datasets(CFG).index,
)

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
        shell:
            "python {input.script:q} {params.exp:q} > {log:q} 2>&1"
