# Evaluation of every fine-tuned model on the configured benchmarks (eval.benchmarks);
# writes eval/metrics.csv and lm-eval's raw outputs beside it.


rule evaluate:
    input:
        unpack(eval_inputs),
    output:
        metrics=f"{RUN}/eval/metrics.csv",
    params:
        spec=eval_spec,
        out=folder_of("metrics"),
    log:
        f"{LOGS}/eval/{{backbone}}/{{mixture}}/seed{{seed}}.log",
    threads: 4
    shell:
        "python -m mos.evaluate --spec {params.spec:q} --out {params.out:q} --threads {threads}"
        " > {log:q} 2>&1"
