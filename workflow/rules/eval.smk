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
    shell:
        "python -m mos.evaluate {params.args} --combined {output.metrics:q} --threads {threads}"
        " > {log:q} 2>&1"
