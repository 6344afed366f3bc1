# Helpers shared by the workflow: the validated config, and the functions that give each job its
# inputs and its resolved spec. All logic lives in mos/config.py (testable without Snakemake);
# this file only adapts it to wildcards. Included by Snakefile.

import os
import re
import shlex
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

import mos.config as C


def _config_source():
    """How error messages name the config: the --configfile(s), else the default file."""
    names = [os.path.relpath(f) if Path(f).is_relative_to(Path.cwd()) else str(f)
             for f in map(Path, workflow.overwrite_configfiles)]
    return ", ".join(names) or "config/config.yaml"


try:
    CFG = C.load_config(config, source_name=_config_source())
except C.ConfigError as e:
    raise WorkflowError(f"invalid config:\n{e}") from None

# Jobs run `python -m ...` with the interpreter that runs Snakemake first on PATH, so they see the
# same packages even when its environment is not activated (e.g. `.venv/bin/snakemake`). Setting
# a prefix replaces Snakemake's default one, so bash's strict mode is restated.
shell.prefix(f'set -euo pipefail; export PATH={shlex.quote(str(Path(sys.executable).parent))}:"$PATH"; ')

ROOT = Path(workflow.basedir)  # repository root, for the analysis scripts (also under --directory)
RESULTS = C.results_dir(CFG)
LOGS = C.logs_dir(CFG)
RUNS = C.runs(CFG)
RUN = C.run_dir(CFG, "{backbone}", "{mixture}", "{seed}")  # a path pattern with wildcards


def alternatives(names):
    """A wildcard regex matching exactly the given names (and nothing if there are none)."""
    return "|".join(re.escape(n) for n in names) or "(?!)"


def run_paths(filename):
    """`filename` inside every run folder of the grid."""
    return [f"{C.run_dir(CFG, b, m, s)}/{filename}" for b, m, s in RUNS]


def dataset_args(wildcards):
    """Command-line arguments of `python -m mos.datasets` for one dataset of the config."""
    ds = CFG["datasets"][wildcards.dataset]
    if "testbed" in ds:
        args = ["--testbed", C.testbed_dir(CFG), "--skill", ds["testbed"]]
    elif "path" in ds:
        args = ["--path", ds["path"]]
    else:
        args = ["--hub", ds["hub"], "--adapter", ds["adapter"], "--fraction", str(ds["fraction"]),
                "--split", ds["split"], "--seed", str(ds["seed"])]
        if ds["per_subset"] is not None:
            args += ["--per-subset", str(ds["per_subset"])]
    return shlex.join(args)


def dataset_inputs(wildcards):
    """The testbed folder or the user's file a dataset is made from (hub datasets: nothing)."""
    ds = CFG["datasets"][wildcards.dataset]
    if "testbed" in ds:
        return {"testbed": C.testbed_dir(CFG)}
    return {"file": ds["path"]} if "path" in ds else {}


def train_inputs(wildcards):
    """A run's training datasets, the pretrained tiny backbone it starts from, and the finished runs
    its strategy reads (e.g. DoReMi's reference run: their run.json, written last)."""
    inputs = {f"dataset_{d}": C.dataset_path(CFG, d) for d in C.mixture_datasets(CFG, wildcards.mixture)}
    if C.is_tiny(CFG, wildcards.backbone):
        inputs["backbone"] = C.pretrained_dir(CFG, wildcards.backbone)
    inputs["tokenized"] = C.tokenized_path(CFG, wildcards.backbone)
    if C.needs_base_ppl(CFG, wildcards.mixture):
        inputs["base_ppl"] = C.base_ppl_path(CFG, wildcards.backbone)
    for role, folder in C.dependency_runs(CFG, wildcards.backbone, wildcards.mixture, int(wildcards.seed)).items():
        inputs[f"run_{role}"] = f"{folder}/run.json"
    return inputs


def tokenize_inputs(wildcards):
    """The backbone's tokenizer (with the model when built here), every dataset of the grid, and
    the Jinja file of a forced chat template (a built-in name such as vicuna is no file)."""
    inputs = {f"dataset_{d}": C.dataset_path(CFG, d) for d in C.grid_datasets(CFG)}
    if C.is_tiny(CFG, wildcards.backbone):
        inputs["backbone"] = C.pretrained_dir(CFG, wildcards.backbone)
    template = CFG["backbones"][wildcards.backbone].get("chat_template")
    if template and not C.chat_templates.is_builtin(template):
        inputs["chat_template"] = template
    return inputs


def tokenize_args(wildcards):
    return shlex.join(C.tokenize_args(CFG, wildcards.backbone))


def base_ppl_inputs(wildcards):
    """θ0 of the backbone (when built here) and every training dataset of the grid."""
    inputs = {f"dataset_{d}": C.dataset_path(CFG, d) for d in C.grid_datasets(CFG)}
    inputs["tokenized"] = C.tokenized_path(CFG, wildcards.backbone)
    if C.is_tiny(CFG, wildcards.backbone):
        inputs["backbone"] = C.pretrained_dir(CFG, wildcards.backbone)
    return inputs


def base_ppl_spec(wildcards):
    return C.spec_json(C.base_ppl_spec(CFG, wildcards.backbone))


def cell_seeds(wildcards):
    """Seeds of one backbone x mixture cell of the grid."""
    return [s for b, m, s in RUNS if (b, m) == (wildcards.backbone, wildcards.mixture)]


def cell_eval_inputs(wildcards):
    """The fine-tuned models of a cell's seeds and the local files of their benchmarks."""
    inputs = {f"model_seed{s}": f"{C.run_dir(CFG, wildcards.backbone, wildcards.mixture, s)}/model"
              for s in cell_seeds(wildcards)}
    names = {n for s in cell_seeds(wildcards) for n in C.run_benchmarks(CFG, wildcards.backbone, wildcards.mixture, s)}
    if {"testbed_mc", "testbed_math"} & names:
        inputs["testbed"] = C.testbed_dir(CFG)
    if "mmlu_dev" in names:
        inputs["mmlu_dev"] = C.MMLU_DEV_PATH
    if "testbed_chat" in names:
        inputs["testbed"] = C.testbed_dir(CFG)
    if "mt_bench" in names:
        inputs["mt_bench"] = C.MT_BENCH_PATH
    for name in ("gsm8k", "math"):  # a local copy of the data (the hub ones are read by lm-eval)
        if name in names and os.path.isfile(CFG["eval"][name]):
            inputs[name] = CFG["eval"][name]
    return inputs


def mt_bench_args(wildcards):
    """Command-line arguments of `python -m mos.eval.mt_bench_data` (eval.mt_bench)."""
    source = CFG["eval"]["mt_bench"]
    args = ["--source", source["source"]]
    if source["path"]:
        args += ["--path", source["path"]]
    return shlex.join(args)


JUDGED_CELLS = [(b, m) for b, m in dict.fromkeys((b, m) for b, m, _ in RUNS) if C.judge_spec(CFG, b, m)]
WINRATE = C.winrate_spec(CFG)


def judge_spec(wildcards):
    return C.spec_json(C.judge_spec(CFG, wildcards.backbone, wildcards.mixture))


def judge_metrics():
    """The combined judge_metrics.csv of every cell with a judged benchmark."""
    return [f"{RESULTS}/runs/{b}/{m}/judge_metrics.csv" for b, m in JUDGED_CELLS]


def winrate_inputs(wildcards):
    """The evaluated cells whose answers the win rates compare."""
    cells = dict.fromkeys((p["backbone"], m) for p in WINRATE["pairs"]
                          for m in (p["mixture"], p["reference"]["mixture"]))
    return [f"{RESULTS}/runs/{b}/{m}/metrics.csv" for b, m in cells]


def winrate_spec(wildcards):
    return C.spec_json(WINRATE)


def cell_eval_args(wildcards):
    """`--spec <json> --out <run>/eval` for every seed of the cell."""
    args = []
    for s in cell_seeds(wildcards):
        args += ["--spec", C.spec_json(C.eval_spec(CFG, wildcards.backbone, wildcards.mixture, s)),
                 "--out", C.eval_dir(CFG, wildcards.backbone, wildcards.mixture, s)]
    return shlex.join(args)


def cell_metrics():
    """The combined metrics.csv of every cell of the grid."""
    cells = dict.fromkeys((b, m) for b, m, _ in RUNS)
    return [f"{RESULTS}/runs/{b}/{m}/metrics.csv" for b, m in cells]


def folder_of(output_key):
    """A params function: the folder that holds the job's output `output_key`."""

    def folder(wildcards, output):
        return os.path.dirname(output[output_key])

    return folder


def run_folders(wildcards, input):
    """The run folders of the grid, from the aggregate job's run.json inputs (config order)."""
    return [os.path.dirname(p) for p in input.run_json]


def experiment_folder(wildcards, input):
    """results/<experiment>, from the summary CSV an analysis job reads."""
    return os.path.dirname(os.path.dirname(input.runs))


def pretrain_spec(wildcards):
    return C.spec_json(C.pretrain_spec(CFG, wildcards.backbone))


def train_spec(wildcards):
    return C.spec_json(C.train_spec(CFG, wildcards.backbone, wildcards.mixture, int(wildcards.seed)))


def eval_spec(wildcards):
    return C.spec_json(C.eval_spec(CFG, wildcards.backbone, wildcards.mixture, int(wildcards.seed)))
