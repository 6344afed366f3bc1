# Fine-tuning: one job per backbone x mixture x seed of the grid. The job's resolved spec is a
# param, so a config change reruns exactly the runs it affects. `mos.train` resumes from the
# checkpoints it leaves in the run folder when a killed job is rerun.
#
# GPUs are a runtime setting (a profile's `set-resources: train: gpu: N`, never the experiment
# config): a job with more than one GPU runs
#     accelerate launch --config_file <accelerate_config> --num_processes N -m mos.train ...
# with DeepSpeed ZeRO-2 (config/accelerate/deepspeed_zero2.yaml; another file through the
# `accelerate_config` resource, relative to the repository root); otherwise `python -m mos.train`.


def train_launcher(wildcards, resources):
    """`python` for a job with at most one GPU, else an `accelerate launch` of one process per GPU
    on a free port (several multi-GPU jobs may share a node)."""
    gpus = int(resources.get("gpu", 0) or 0)
    if gpus <= 1:
        return "python"
    config = Path(resources.get("accelerate_config", "config/accelerate/deepspeed_zero2.yaml"))
    config = config if config.is_absolute() else ROOT / config
    free_port = "$(python -c 'import socket; s = socket.socket(); s.bind((\"\", 0)); print(s.getsockname()[1])')"
    return shlex.join(["accelerate", "launch", "--config_file", str(config), "--num_processes", str(gpus),
                       "--num_machines", "1"]) + f" --main_process_port {free_port}"


def threads_per_process(wildcards, threads, resources):
    """torch CPU threads of each training process: the job's CPUs shared by its GPUs' processes."""
    return max(1, threads // max(1, int(resources.get("gpu", 0) or 0)))


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
    shell:
        "{params.launcher} -m mos.train --spec {params.spec:q} --out {params.out:q} --threads {params.threads}"
        " > {log:q} 2>&1"
