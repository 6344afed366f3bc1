# Fine-tuning: one job per backbone x mixture cell of the grid trains every seed of the cell in turn, in
# one process, so the ~8 s of imports and setup are paid once per cell (a cell of the default has up to
# 12 runs). The runs' resolved specs are the job's params, so a config change reruns the cells it affects;
# inside, a run whose folder already holds a finished run of the same spec is skipped, so only the runs
# that changed train again. `mos.training.loop` resumes from the checkpoints it leaves in a run folder
# when a killed job is rerun. The job's output is the cell's marker (trained.json), which evaluation,
# aggregation and the runs that read this cell's runs (DoReMi's reference) wait for.
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
        done=trained("{backbone}", "{mixture}"),
    params:
        args=train_args,
        launcher=train_launcher,
        threads=threads_per_process,
    log:
        f"{LOGS}/train/{{backbone}}/{{mixture}}.log",
    threads: 4
    conda:
        ENV
    shell:
        "{params.launcher} -m mos train {params.args} --threads {params.threads} --done {output.done:q}"
        " > {log:q} 2>&1"
