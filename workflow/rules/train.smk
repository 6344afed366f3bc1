# Fine-tuning: one job per backbone x mixture x seed of the grid. The job's resolved spec is a
# param, so a config change reruns exactly the runs it affects. `mos.train` resumes from the
# checkpoints it leaves in the run folder when a killed job is rerun.


rule train:
    input:
        unpack(train_inputs),
    output:
        model=directory(f"{RUN}/model"),
        trajectory=f"{RUN}/trajectory.csv",
        train_log=f"{RUN}/train_log.csv",
        run_json=f"{RUN}/run.json",
    params:
        spec=train_spec,
        out=folder_of("run_json"),
    log:
        f"{LOGS}/train/{{backbone}}/{{mixture}}/seed{{seed}}.log",
    threads: 4
    shell:
        "python -m mos.train --spec {params.spec:q} --out {params.out:q} --threads {threads}"
        " > {log:q} 2>&1"
