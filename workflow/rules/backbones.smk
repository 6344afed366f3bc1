# Pretraining of the tiny backbones: each one is built from its config (family + sizes) and
# pretrained once on the testbed corpus, so every mixture fine-tunes from the same θ0.
# Backbones with `source:` are used as they are and have no job here.


rule pretrain:
    input:
        tokenizer=rules.tokenizer.output.dir,
        testbed=rules.testbed.output.dir,
    output:
        model=directory(C.pretrained_dir(CFG, "{backbone}")),
        train_log=f"{C.backbone_dir(CFG, '{backbone}')}/train_log.csv",
        run_json=f"{C.backbone_dir(CFG, '{backbone}')}/run.json",
    params:
        spec=pretrain_spec,
        out=folder_of("run_json"),
    log:
        f"{LOGS}/pretrain/{{backbone}}.log",
    threads: 4
    wildcard_constraints:
        backbone=alternatives(C.tiny_backbones(CFG)),
    shell:
        "python -m mos.pretrain --spec {params.spec:q} --out {params.out:q} --threads {threads}"
        " > {log:q} 2>&1"
