"""mmlu_dev: the MMLU dev questions that lm-eval ships (`python -m mos mmlu-dev`), zero-shot in
lm-eval's standard MMLU prompt, as one task over all subjects; acc per subject and paper Table 7 group.

`mmlu_dev_task` keeps lm-eval's Jinja templates (for the `lm-eval run` CLI, `mos export-task`);
`render_mmlu_dev` + `mmlu_dev_prompt_task` give the same prompts rendered once into a `prompt`
column (lm-eval compiles the templates for every question, which costs more than scoring them with
a tiny model).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mos.evaluation.benchmarks.base import JsonlItems
from mos.evaluation.tasks import json_dataset, metric, write_docs

MMLU_DESCRIPTION = ("The following are multiple choice questions (with answers) about "
                    "{{subject.replace('_', ' ')}}.\n\n")
MMLU_DOC_TO_TEXT = ("{{question.strip()}}\nA. {{choices[0]}}\nB. {{choices[1]}}\nC. {{choices[2]}}\n"
                    "D. {{choices[3]}}\nAnswer:")


def mmlu_dev_task(data_file: str | Path, name: str = "mmlu_dev",
                  cache_dir: str | Path | None = None) -> dict[str, Any]:
    """Zero-shot MMLU prompt of lm-eval's default MMLU tasks, over the parsed dev questions."""
    return {
        "task": name,
        **json_dataset(data_file, cache_dir),
        "output_type": "multiple_choice",
        "description": MMLU_DESCRIPTION,
        "doc_to_text": MMLU_DOC_TO_TEXT,
        "doc_to_choice": ["A", "B", "C", "D"],
        "doc_to_target": "answer",
        "target_delimiter": " ",
        "num_fewshot": 0,
        "metric_list": [metric("acc")],
        "metadata": {"version": 1.0},
    }


def render_mmlu_dev(items: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """MMLU dev items with their zero-shot prompt (`mmlu_dev_task`'s description + question) as `prompt`."""
    from lm_eval.utils import env  # lm-eval's own Jinja environment, so the text is identical

    description, question = env.from_string(MMLU_DESCRIPTION), env.from_string(MMLU_DOC_TO_TEXT)
    return [{**item, "prompt": description.render(**item) + question.render(**item)} for item in items]


def mmlu_dev_prompt_task(data_file: str | Path, name: str = "mmlu_dev",
                         cache_dir: str | Path | None = None) -> dict[str, Any]:
    """`mmlu_dev_task` over a file rendered by `render_mmlu_dev` (the `prompt` column is the context)."""
    config = mmlu_dev_task(data_file, name=name, cache_dir=cache_dir)
    del config["description"]
    config["doc_to_text"] = "prompt"
    return config


@dataclass
class MMLUDev(JsonlItems):
    """MMLU's dev questions as lm-eval ships them, zero-shot (offline)."""

    name = "mmlu_dev"
    path = "resources/mmlu_dev/mmlu_dev.jsonl"  # shared by every experiment (rule mmlu_dev)
    metrics = ("acc",)
    scopes = ("group",)
    keys = ("id", "subject", "group", "question", "choices", "answer")

    def tasks(self, loaded: Any, tokenizer: Any, folder: Path, cache_dir: Path) -> list[Any]:
        docs = write_docs(folder / f"{self.name}.jsonl", render_mmlu_dev(loaded))
        return [mmlu_dev_prompt_task(docs, name=self.name, cache_dir=cache_dir)]
