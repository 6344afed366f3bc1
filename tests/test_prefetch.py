"""Compute nodes without internet: what the paper's run downloads is fetched by local rules, and the
hub models and benchmark data by `python -m mos prefetch` (mos/pipeline/prefetch.py), before any
job that reads them. Offline: the hub is replaced by a recorder of the calls, serving a tiny model.

    pytest tests/test_prefetch.py -q
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mos.pipeline import prefetch as PF
from mos.pipeline.config import load_config

ROOT = Path(__file__).resolve().parents[1]
PAPER = ROOT / "config" / "paper.yaml"
OFFLINE = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
MATH_CONFIGS = {"algebra", "counting_and_probability", "geometry", "intermediate_algebra", "number_theory",
                "prealgebra", "precalculus"}


def test_the_paper_fetches_its_three_backbones_and_lm_evals_hub_data() -> None:
    spec = PF.prefetch_spec(load_config(PAPER))
    assert spec == {"models": {"qwen1.5-0.5b": "Qwen/Qwen1.5-0.5B", "gemma-2b": "google/gemma-2b",
                               "llama-3-8b": "meta-llama/Meta-Llama-3-8B"},
                    "benchmarks": {"mmlu": "cais/mmlu", "gsm8k": "openai/gsm8k", "math": "EleutherAI/hendrycks_math"},
                    "math_fewshot": 5}
    assert PF.prefetch_spec(load_config(ROOT / "config" / "test.yaml")) is None  # testbed, tiny, lm-eval's files
    loads = PF.dataset_loads(PF.benchmark_task_configs(spec["benchmarks"], spec["math_fewshot"]))
    by_path: dict[str, set] = {}
    for path, name, _ in loads:
        by_path.setdefault(path, set()).add(name)
    from mos.evaluation.benchmarks.mmlu import mmlu_task_names  # the MMLU tasks evaluation runs, by subject

    assert by_path["cais/mmlu"] == set(mmlu_task_names().values()) and len(by_path["cais/mmlu"]) == 57
    assert by_path["openai/gsm8k"] == {"main"} and by_path["EleutherAI/hendrycks_math"] == MATH_CONFIGS
    assert len(loads) == 65 and set(by_path) == {"cais/mmlu", "openai/gsm8k", "EleutherAI/hendrycks_math"}


@pytest.mark.parametrize(("listing", "expected"), [
    (["config.json", "gemma-2b.gguf", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
      "model.safetensors.index.json", "tokenizer.json", "tokenizer.model", "tokenizer_config.json", "README.md",
      "special_tokens_map.json", "generation_config.json", ".gitattributes"],
     ["config.json", "generation_config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
      "model.safetensors.index.json", "special_tokens_map.json", "tokenizer.json", "tokenizer.model",
      "tokenizer_config.json"]),
    (["config.json", "model.safetensors", "original/consolidated.00.pth", "original/params.json",
      "original/tokenizer.model", "tokenizer.json", "LICENSE", "USE_POLICY.md"],
     ["config.json", "model.safetensors", "tokenizer.json"]),
    (["config.json", "merges.txt", "vocab.json", "model.safetensors", "pytorch_model.bin"],
     ["config.json", "merges.txt", "model.safetensors", "vocab.json"]),
])
def test_only_the_files_from_pretrained_reads(listing: list[str], expected: list[str]) -> None:
    assert PF.model_files(listing) == expected


def test_a_repository_without_safetensors_is_an_error() -> None:
    with pytest.raises(PF.PrefetchError, match="no safetensors weights"):
        PF.model_files(["config.json", "pytorch_model.bin", "tokenizer.json"])


class FakeHub:
    """huggingface_hub and datasets as the prefetch sees them, recording every call."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.snapshots, self.loads = folder, [], []

    def list_repo_files(self, repo_id, **kwargs):
        return sorted(p.name for p in self.folder.iterdir()) + ["original/consolidated.00.pth", "model.gguf"]

    def snapshot_download(self, repo_id, allow_patterns=None, **kwargs):
        self.snapshots.append((repo_id, sorted(allow_patterns), kwargs.get("revision")))
        return str(self.folder)

    def load_dataset(self, path, name=None, **kwargs):
        self.loads.append((path, name))
        return {"test": [{"x": 1}] * 3, "dev": [{"x": 1}]}


def test_prefetch_fetches_every_model_and_dataset_and_writes_its_manifest(tmp_path, monkeypatch, tiny_model_dir):
    import datasets
    import huggingface_hub

    hub = FakeHub(tiny_model_dir)
    monkeypatch.setattr(huggingface_hub.HfApi, "list_repo_files", hub.list_repo_files)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", hub.snapshot_download)
    monkeypatch.setattr(datasets, "load_dataset", hub.load_dataset)
    spec = {"models": {"tiny": "org/tiny-model"}, "benchmarks": {"gsm8k": "openai/gsm8k"}, "math_fewshot": 5}
    out = tmp_path / "hub_cache.json"
    assert PF.main(["--spec", json.dumps(spec), "--out", str(out)]) == 0
    files = sorted(p.name for p in tiny_model_dir.iterdir() if p.suffix in (".json", ".safetensors", ".jinja"))
    assert hub.snapshots == [("org/tiny-model", files, None)]  # the main revision: refs/main is what jobs resolve
    assert hub.loads == [("openai/gsm8k", "main")]
    manifest = json.loads(out.read_text())
    assert manifest["models"]["tiny"] == {"source": "org/tiny-model", "revision": tiny_model_dir.name, "files": files}
    assert manifest["datasets"] == [{"path": "openai/gsm8k", "name": "main", "splits": {"test": 3, "dev": 1}}]


def test_a_model_that_cannot_be_fetched_names_its_repository(tmp_path, monkeypatch, capsys) -> None:
    import huggingface_hub

    def refuse(api, repo_id, **kwargs):
        raise OSError("401 Client Error: this repo is gated")

    monkeypatch.setattr(huggingface_hub.HfApi, "list_repo_files", refuse)
    out = tmp_path / "m.json"
    assert PF.main(["--spec", json.dumps({"models": {"l": "meta-llama/Meta-Llama-3-8B"}}), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "meta-llama/Meta-Llama-3-8B: could not fetch" in err and "hf auth login" in err
    assert not out.exists()


def snakemake(*args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env={**os.environ, **OFFLINE, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_every_job_that_reads_the_hub_waits_for_the_local_rules_that_fetch_it() -> None:
    graph = snakemake("--rulegraph", "--forceall", "--configfile", str(PAPER))
    names = dict(re.findall(r'^\s*(\d+)\[label = "(\w+)"', graph, re.M))
    edges = {(names[a], names[b]) for a, b in re.findall(r"^\s*(\d+) -> (\d+)", graph, re.M)}
    readers = {rule for src, rule in edges if src == "hub_cache"}
    assert readers == {"tokenize", "base_ppl", "train", "evaluate"}
    assert {rule for src, rule in edges if src == "dataset"} >= {"tokenize", "train"}


def test_the_prefetch_target_runs_only_the_downloads() -> None:
    out = snakemake("-n", "prefetch", "--configfile", str(PAPER))
    stats = dict(re.findall(r"^(\w+)\s+(\d+)$", out[out.index("Job stats"):], re.M))
    assert stats == {"dataset": "4", "hub_cache": "1", "mt_bench_data": "1", "prefetch": "1", "total": "7"}
