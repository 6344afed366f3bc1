"""Shared pieces of the benchmarks' lm-eval task configurations (plain dicts; the benchmarks
themselves are in `mos.evaluation.benchmarks`): a metric entry, a local JSONL dataset, the rendered
data file, and the same config as YAML for the `lm-eval run` CLI (`mos.evaluation.export_task`).

    config = {"task": "my_mc", **json_dataset("rendered.jsonl", None), "metric_list": [metric("acc")], ...}
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from mos.common.io import atomic_write_text


def metric(name: str) -> dict[str, Any]:
    """A `metric_list` entry: mean over items, higher is better."""
    return {"metric": name, "aggregation": "mean", "higher_is_better": True}


def json_dataset(data_file: str | Path, cache_dir: str | Path | None) -> dict[str, Any]:
    """Dataset keys of a task over a local JSONL file (its one split is `test`)."""
    kwargs: dict[str, Any] = {"data_files": {"test": str(Path(data_file).resolve())}}
    if cache_dir is not None:
        kwargs["cache_dir"] = str(cache_dir)
    return {"dataset_path": "json", "dataset_name": None, "dataset_kwargs": kwargs, "test_split": "test"}


def write_task_yaml(path: str | Path, config: Mapping[str, Any]) -> Path:
    """Write a task config as YAML (`lm-eval run --tasks <path>` or `--include_path <folder>`)."""
    path = Path(path)
    atomic_write_text(path, yaml.safe_dump(dict(config), sort_keys=False, allow_unicode=True))
    return path


def write_docs(path: str | Path, docs: Iterable[Mapping[str, Any]]) -> Path:
    """Write rendered docs as JSONL (atomic)."""
    path = Path(path)
    atomic_write_text(path, "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs))
    return path
