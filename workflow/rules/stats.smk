# Summary statistics for the paper's Table 1 (the training datasets) and Table 6 (the perplexity
# study), written into results/<exp>/summary/ beside the aggregated runs, so that the tables are
# regenerated from results/ alone. Included by Snakefile; helpers in mos/config.py.
#
#   dataset_stats  resources/<exp>/datasets/*.jsonl -> summary/datasets.csv        (python -m mos.stats datasets)
#   ppl_tuned      each PROP. (τ = 1) cell's fine-tuned models over a subsample of θ0's probe pool
#                  -> runs/<backbone>/<mixture>/seed<k>/ppl.csv and the cell's ppl.csv   (python -m mos.base_ppl)
#   ppl_summary    + θ0's base_ppl/<backbone>.csv -> summary/ppl.csv                 (python -m mos.stats ppl)

PPL_CELLS = C.ppl_study_cells(CFG)  # (backbone, mixture): the first PROP. (τ = 1) mixture of each backbone


def dataset_stats_args(wildcards):
    return shlex.join(arg for d in C.grid_datasets(CFG) for arg in ("--dataset", f"{d}={C.dataset_path(CFG, d)}"))


rule dataset_stats:
    input:
        [C.dataset_path(CFG, d) for d in C.grid_datasets(CFG)],
    output:
        csv=C.dataset_stats_path(CFG),
    params:
        args=dataset_stats_args,
    log:
        f"{LOGS}/stats/datasets.log",
    threads: 1
    shell:
        "python -m mos.stats datasets {params.args} --out {output.csv:q} > {log:q} 2>&1"


def ppl_cell_inputs(wildcards):
    """The cell's fine-tuned models (every seed), the datasets and the backbone's tokenization cache."""
    inputs = {f"model_seed{s}": f"{C.run_dir(CFG, wildcards.backbone, wildcards.mixture, s)}/model"
              for s in cell_seeds(wildcards)}
    inputs.update({f"dataset_{d}": C.dataset_path(CFG, d) for d in C.grid_datasets(CFG)})
    inputs["tokenized"] = C.tokenized_path(CFG, wildcards.backbone)
    return inputs


def ppl_cell_args(wildcards):
    """`--spec <json> --out <run>/ppl.csv` for every seed of the cell."""
    args = []
    for s in cell_seeds(wildcards):
        args += ["--spec", C.spec_json(C.ppl_study_spec(CFG, wildcards.backbone, wildcards.mixture, s)),
                 "--out", C.run_ppl_path(CFG, wildcards.backbone, wildcards.mixture, s)]
    return shlex.join(args)


rule ppl_tuned:
    input:
        unpack(ppl_cell_inputs),
    output:
        csv=C.ppl_cell_path(CFG, "{backbone}", "{mixture}"),
    params:
        args=ppl_cell_args,
    log:
        f"{LOGS}/ppl/{{backbone}}/{{mixture}}.log",
    threads: 1
    wildcard_constraints:
        backbone=alternatives([b for b, _ in PPL_CELLS]),
        mixture=alternatives(sorted({m for _, m in PPL_CELLS})),
    shell:
        "python -m mos.base_ppl {params.args} --combined {output.csv:q} --threads {threads} > {log:q} 2>&1"


def ppl_summary_base_args(wildcards):
    return shlex.join(arg for b, _ in PPL_CELLS for arg in ("--base", f"{b}={C.base_ppl_path(CFG, b)}"))


rule ppl_summary:
    input:
        cells=[C.ppl_cell_path(CFG, b, m) for b, m in PPL_CELLS],
        base=[C.base_ppl_path(CFG, b) for b, _ in PPL_CELLS],
        run_json=[f"{C.run_dir(CFG, b, m, s)}/run.json" for b, m, s in C.ppl_study_runs(CFG)],
    output:
        csv=C.ppl_summary_path(CFG),
    params:
        base=ppl_summary_base_args,
        run_dirs=lambda wildcards, input: [os.path.dirname(p) for p in input.run_json],
    log:
        f"{LOGS}/stats/ppl.log",
    threads: 1
    shell:
        "python -m mos.stats ppl {params.base} --out {output.csv:q} {params.run_dirs:q} > {log:q} 2>&1"
