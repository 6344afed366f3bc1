# Fine-tuning: one job per backbone x mixture x seed of the grid. The job's resolved spec is a
# param, so a config change reruns exactly the runs it affects. `mos.training.loop` resumes from the
# checkpoints it leaves in the run folder when a killed job is rerun.
#
# GPUs are a runtime setting (a profile's `set-resources: train: gpu: N`, never the experiment
# config): a job with more than one GPU runs
#     accelerate launch --config_file <accelerate_config> --num_processes N -m mos train ...
# with DeepSpeed ZeRO-2 (config/accelerate/deepspeed_zero2.yaml; another file through the
# `accelerate_config` resource, relative to the repository root); otherwise `python -m mos train`.


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
        launcher=train_launcher,
        threads=threads_per_process,
    log:
        f"{LOGS}/train/{{backbone}}/{{mixture}}/seed{{seed}}.log",
    threads: 4
    conda:
        ENV
    shell:
        "{params.launcher} -m mos train --spec {params.spec:q} --out {params.out:q} --threads {params.threads}"
        " > {log:q} 2>&1"
