"""lm-eval task configurations (plain dicts) for the suite's benchmarks, and the data rendering they need.

- `testbed_mc`: the testbed's MC items rendered with the evaluated model's own chat template. Each
  item becomes `{"prompt", "choices", ...}` where `prompt` is `apply_chat_template(messages,
  add_generation_prompt=True)` and every choice is the reply text followed by the tokenizer's end
  token; the task scores `prompt + choice` with an empty target delimiter, so any backbone's
  template works unchanged.
- `mmlu_dev`: the MMLU dev questions parsed from lm-eval (`mos.evaluation.mmlu_dev`) in lm-eval's
  standard zero-shot MMLU prompt, as one task over all subjects. `mmlu_dev_task` keeps lm-eval's
  Jinja templates (for the `lm-eval run` CLI); `render_mmlu_dev` + `mmlu_dev_prompt_task` give the
  same prompts rendered once into a `prompt` column (lm-eval compiles the templates for every
  question, which costs more than scoring them with a tiny model).
- `testbed_math`: the testbed's math word problems (the GSM8K analogue), generated greedily.
  `prompt` is the chat template applied to the question as a user turn (after `num_fewshot` solved
  problems as earlier user/assistant turns: the next problems of the file, cyclically, never the
  item itself), with the generation prompt. Generation stops at the end token or after
  `max_gen_toks` tokens; the last integer of the reply (regex filter, then take_first) is compared
  with `answer` (exact_match).
- `mmlu`: lm-eval's built-in `mmlu_<subject>` tasks (hub dataset cais/mmlu).

The dicts go to `lm_eval.simple_evaluate(tasks=[...])`; `write_task_yaml` writes the same config as
a YAML file for the `lm-eval run` CLI (see `mos.evaluation.export_task`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from mos.common.io import atomic_write_text
from mos.evaluation.mmlu_dev import subject_groups

TESTBED_FIELDS = ("id", "skill", "subject", "group", "answer")
MMLU_DESCRIPTION = "The following are multiple choice questions (with answers) about {{subject.replace('_', ' ')}}.\n\n"
MMLU_DOC_TO_TEXT = (
    "{{question.strip()}}\nA. {{choices[0]}}\nB. {{choices[1]}}\nC. {{choices[2]}}\nD. {{choices[3]}}\nAnswer:"
)
MMLU_HUB_DATASET = "cais/mmlu"
MATH_FIELDS = ("id", "level", "question", "answer")
LAST_INTEGER = r"-?\d+"


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


def render_math_item(item: Mapping[str, Any], tokenizer: Any,
                     shots: Iterable[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """One word problem as lm-eval generates from it: solved `shots` as earlier turns, then the question."""
    messages: list[dict[str, str]] = []
    for shot in shots:
        messages += [{"role": "user", "content": str(shot["question"])},
                     {"role": "assistant", "content": str(shot["solution"])}]
    messages.append({"role": "user", "content": str(item["question"])})
    doc = {k: str(item[k]) for k in MATH_FIELDS if k in item}
    doc["prompt"] = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return doc


def render_testbed_math(items: Sequence[Mapping[str, Any]], tokenizer: Any, num_fewshot: int = 0) -> list[dict[str, Any]]:
    """All word problems rendered for `tokenizer`; item i's shots are items i+1 … i+num_fewshot (cyclic)."""
    if not 0 <= num_fewshot < len(items):
        raise ValueError(f"num_fewshot must be in [0, {len(items) - 1}] for {len(items)} problems, got {num_fewshot}")
    n = len(items)
    return [render_math_item(item, tokenizer, [items[(i + j) % n] for j in range(1, num_fewshot + 1)])
            for i, item in enumerate(items)]


def testbed_math_task(data_file: str | Path, stop: Sequence[str], max_gen_toks: int = 32, name: str = "testbed_math",
                      cache_dir: str | Path | None = None, num_fewshot: int = 0) -> dict[str, Any]:
    """Greedy generation from `prompt` until a `stop` string; exact match of the reply's last integer.

    `num_fewshot` only records how many solved problems the rendered prompts hold (lm-eval itself
    adds none: its `num_fewshot` is 0).
    """
    return {
        "task": name,
        **_json_dataset(data_file, cache_dir),
        "output_type": "generate_until",
        "doc_to_text": "prompt",
        "doc_to_target": "answer",
        "target_delimiter": "",
        "num_fewshot": 0,
        "generation_kwargs": {"until": list(stop), "max_gen_toks": int(max_gen_toks), "do_sample": False,
                              "temperature": 0.0},
        "filter_list": [{"name": "last_integer", "filter": [
            {"function": "regex", "regex_pattern": LAST_INTEGER, "group_select": -1},
            {"function": "take_first"}]}],
        "metric_list": [{**_metric("exact_match"), "ignore_case": False, "ignore_punctuation": False}],
        "metadata": {"version": 1.0, "shots_in_prompt": int(num_fewshot)},
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
