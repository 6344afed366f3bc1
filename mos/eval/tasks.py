"""lm-eval task configurations (plain dicts) for the suite's multiple-choice benchmarks.

- `testbed_mc`: the testbed's MC items rendered with the evaluated model's own chat template. Each
  item becomes `{"prompt", "choices", ...}` where `prompt` is `apply_chat_template(messages,
  add_generation_prompt=True)` and every choice is the reply text followed by the tokenizer's end
  token; the task scores `prompt + choice` with an empty target delimiter, so any backbone's
  template works unchanged.
- `mmlu_dev`: the MMLU dev questions parsed from lm-eval (`mos.eval.mmlu_dev`) in lm-eval's
  standard zero-shot MMLU prompt, as one task over all subjects.
- `mmlu`: lm-eval's built-in `mmlu_<subject>` tasks (hub dataset cais/mmlu).

The dicts go to `lm_eval.simple_evaluate(tasks=[...])`; `write_task_yaml` writes the same config as
a YAML file for the `lm-eval run` CLI (see `mos.eval.export_task`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from mos.eval.mmlu_dev import subject_groups
from mos.io import atomic_write_text

TESTBED_FIELDS = ("id", "skill", "subject", "group", "answer")
MMLU_DESCRIPTION = "The following are multiple choice questions (with answers) about {{subject.replace('_', ' ')}}.\n\n"
MMLU_DOC_TO_TEXT = (
    "{{question.strip()}}\nA. {{choices[0]}}\nB. {{choices[1]}}\nC. {{choices[2]}}\nD. {{choices[3]}}\nAnswer:"
)
MMLU_HUB_DATASET = "cais/mmlu"


def _metric(name: str) -> dict[str, Any]:
    return {"metric": name, "aggregation": "mean", "higher_is_better": True}


def _json_dataset(data_file: str | Path, cache_dir: str | Path | None) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"data_files": {"test": str(Path(data_file).resolve())}}
    if cache_dir is not None:
        kwargs["cache_dir"] = str(cache_dir)
    return {"dataset_path": "json", "dataset_name": None, "dataset_kwargs": kwargs, "test_split": "test"}


def render_testbed_item(item: Mapping[str, Any], tokenizer: Any) -> dict[str, Any]:
    """One MC item as lm-eval scores it: chat-template prompt, choices ending in the end token."""
    prompt = tokenizer.apply_chat_template(list(item["messages"]), tokenize=False, add_generation_prompt=True)
    eos = tokenizer.eos_token or ""
    doc = {k: item[k] for k in TESTBED_FIELDS if k in item}
    doc["prompt"] = prompt
    doc["choices"] = [str(c) + eos for c in item["choices"]]
    return doc


def render_testbed_mc(items: Iterable[Mapping[str, Any]], tokenizer: Any) -> list[dict[str, Any]]:
    """All MC items rendered for `tokenizer` (see `render_testbed_item`)."""
    return [render_testbed_item(item, tokenizer) for item in items]


def testbed_mc_task(data_file: str | Path, name: str = "testbed_mc",
                    cache_dir: str | Path | None = None) -> dict[str, Any]:
    """Task over a rendered testbed MC file: score `prompt + choice` (no delimiter); acc, acc_norm.

    `prompt` and `choices` are dataset columns, so lm-eval reads them as they are (the same as the
    templates "{{prompt}}" / "{{choices}}", without compiling a Jinja template per item).
    """
    return {
        "task": name,
        **_json_dataset(data_file, cache_dir),
        "output_type": "multiple_choice",
        "doc_to_text": "prompt",
        "doc_to_choice": "choices",
        "doc_to_target": "answer",
        "target_delimiter": "",
        "metric_list": [_metric("acc"), _metric("acc_norm")],
        "metadata": {"version": 1.0},
    }


def mmlu_dev_task(data_file: str | Path, name: str = "mmlu_dev",
                  cache_dir: str | Path | None = None) -> dict[str, Any]:
    """Zero-shot MMLU prompt of lm-eval's default MMLU tasks, over the parsed dev questions."""
    return {
        "task": name,
        **_json_dataset(data_file, cache_dir),
        "output_type": "multiple_choice",
        "description": MMLU_DESCRIPTION,
        "doc_to_text": MMLU_DOC_TO_TEXT,
        "doc_to_choice": ["A", "B", "C", "D"],
        "doc_to_target": "answer",
        "target_delimiter": " ",
        "num_fewshot": 0,
        "metric_list": [_metric("acc")],
        "metadata": {"version": 1.0},
    }


def mmlu_task_names() -> dict[str, str]:
    """lm-eval's built-in task name -> MMLU subject, for the 57 subjects of paper Table 7."""
    return {f"mmlu_{subject}": subject for subject in subject_groups()}


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
