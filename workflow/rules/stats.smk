# Summary statistics for the paper's Table 1 (the training datasets) and Table 6 (the perplexity
# study), written into results/<exp>/summary/ beside the aggregated runs, so that the tables are
# regenerated from results/ alone. Included by Snakefile; helpers in mos/pipeline/config.py.
#
#   dataset_stats  resources/<exp>/datasets/*.jsonl -> summary/datasets.csv        (python -m mos stats datasets)
#   ppl_tuned      each PROP. (τ = 1) cell's fine-tuned models over a subsample of θ0's probe pool
#                  -> runs/<backbone>/<mixture>/seed<k>/ppl.csv and the cell's ppl.csv   (python -m mos base-ppl)
#   ppl_summary    + each run's θ0 base_ppl/<backbone>/theta<k>.csv -> summary/ppl.csv                 (python -m mos stats ppl)


rule dataset_stats:
    input:
        [G.dataset_path(CFG, d) for d in G.grid_datasets(CFG)],
    output:
        csv=G.dataset_stats_path(CFG),
    params:
        args=dataset_stats_args,
    log:
        f"{LOGS}/stats/datasets.log",
    threads: 1
    conda:
        ENV
    shell:
        "python -m mos stats datasets {params.args} --out {output.csv:q} > {log:q} 2>&1"


rule ppl_tuned:
    input:
        unpack(ppl_cell_inputs),
    output:
        csv=G.ppl_cell_path(CFG, "{backbone}", "{mixture}"),
    params:
        args=ppl_cell_args,
    log:
        f"{LOGS}/ppl/{{backbone}}/{{mixture}}.log",
    threads: 1
    wildcard_constraints:
        backbone=alternatives([b for b, _ in PPL_CELLS]),
        mixture=alternatives(sorted({m for _, m in PPL_CELLS})),
    conda:
        ENV
    shell:
        "python -m mos base-ppl {params.args} --combined {output.csv:q} --threads {threads} > {log:q} 2>&1"


rule ppl_summary:
    input:
        cells=[G.ppl_cell_path(CFG, b, m) for b, m in PPL_CELLS],
        base=[G.base_ppl_path(CFG, b, t) for b, t in ppl_study_thetas()],
        trained=cell_markers(S.ppl_study_runs(CFG)),
    output:
        csv=G.ppl_summary_path(CFG),
    params:
        base=ppl_summary_base_args,
        run_dirs=run_dirs(S.ppl_study_runs(CFG)),
    log:
        f"{LOGS}/stats/ppl.log",
    threads: 1
    conda:
        ENV
    shell:
        "python -m mos stats ppl {params.base} --out {output.csv:q} {params.run_dirs:q} > {log:q} 2>&1"
