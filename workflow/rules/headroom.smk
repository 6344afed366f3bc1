# The headroom experiment (issue 20): when the config declares `claims.headroom`, its design's runs are
# aggregated on their own and the response surface of the metric over the simplex is fitted
# (analysis/surface.py); the fitted optimum's JSON is what the `surface_optimum` mixture trains on, at the
# primary arms' replication (its train jobs wait for it: the strategy's input_files).

if HEADROOM:

    rule headroom_fit:
        input:
            trained=cell_markers(HEADROOM_RUNS),
            metrics=[f"{RESULTS}/runs/{b}/{m}/metrics.csv" for b, m in dict.fromkeys((b, m) for b, m, _ in HEADROOM_RUNS)],
            judged=[f"{RESULTS}/runs/{b}/{m}/judge_metrics.csv" for b, m in
                    dict.fromkeys((b, m) for b, m, _ in HEADROOM_RUNS) if (b, m) in JUDGED_CELLS],
        output:
            optimum=G.headroom_fit_path(CFG),
        params:
            design=G.headroom_design_dir(CFG),
            run_dirs=[G.run_dir(CFG, b, m, s) for b, m, s in HEADROOM_RUNS],
            metric=HEADROOM["metric"],
        log:
            f"{LOGS}/headroom_fit.log",
        threads: 1
        conda:
            ENV
        shell:
            "(python -m mos aggregate --out {params.design:q}/summary {params.run_dirs:q} && "
            "python -m analysis.surface fit {params.design:q} --metric {params.metric} --out {output.optimum:q})"
            " > {log:q} 2>&1"
