"""testbed_mc: the testbed's multiple-choice set (the MMLU analogue), scored with the evaluated
model's own chat template.

Each item (`eval/mc.jsonl`: id, skill, subject, group, messages, choices, answer) becomes
`{"prompt", "choices", ...}`: `prompt` is `apply_chat_template(messages, add_generation_prompt=True)`
and every choice is the reply text followed by the tokenizer's end token; the task scores
`prompt + choice` with an empty target delimiter, so any backbone's template works unchanged.
Reports acc and acc_norm per subject, group (paper Table 7's) and skill.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mos.evaluation.benchmarks.base import JsonlItems
from mos.evaluation.tasks import json_dataset, metric, write_docs

TESTBED_FIELDS = ("id", "skill", "subject", "group", "answer")


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
        **json_dataset(data_file, cache_dir),
        "output_type": "multiple_choice",
        "doc_to_text": "prompt",
        "doc_to_choice": "choices",
        "doc_to_target": "answer",
        "target_delimiter": "",
        "metric_list": [metric("acc"), metric("acc_norm")],
        "metadata": {"version": 1.0},
    }


@dataclass
class TestbedMC(JsonlItems):
    """The testbed's multiple-choice set, prompted with the model's own chat template."""

    name = "testbed_mc"
    path = "{testbed}/eval/mc.jsonl"
    metrics = ("acc", "acc_norm")
    scopes = ("group", "skill")
    keys = ("id", "skill", "subject", "group", "messages", "choices", "answer")

    def tasks(self, loaded: Any, tokenizer: Any, folder: Path, cache_dir: Path) -> list[Any]:
        docs = write_docs(folder / f"{self.name}.jsonl", render_testbed_mc(loaded, tokenizer))
        return [testbed_mc_task(docs, name=self.name, cache_dir=cache_dir)]
