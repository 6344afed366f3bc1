"""testbed_math: the testbed's math word problems (the GSM8K/MATH analogue of MoSpec, paper Table 5),
by greedy generation.

`prompt` is the chat template applied to the question as a user turn (after `fewshot` solved
problems as earlier user/assistant turns: the next problems of the file, cyclically, never the item
itself), with the generation prompt. Generation stops at the end token or after `max_gen_toks`
tokens; the last integer of the reply (regex filter, then take_first) is compared with `answer`
(exact_match). Subjects are the problems' levels (one_step, two_step); the raw generations are in
lm-eval's samples file. Spec options: `testbed_math_fewshot` (default 0: the tiny models are trained
zero-shot), `testbed_math_max_gen_toks` (default 32).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mos.data.records import DataError
from mos.evaluation.benchmarks.base import JsonlItems, Samples, SpecError, option
from mos.evaluation.tasks import json_dataset, metric, write_docs

MATH_FIELDS = ("id", "level", "question", "answer")
LAST_INTEGER = r"-?\d+"
INTEGER = re.compile(LAST_INTEGER)  # an answer: an integer, or a string holding one


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


def render_testbed_math(items: Sequence[Mapping[str, Any]], tokenizer: Any,
                        num_fewshot: int = 0) -> list[dict[str, Any]]:
    """All word problems rendered for `tokenizer`; item i's shots are items i+1 … i+num_fewshot (cyclic)."""
    if not 0 <= num_fewshot < len(items):
        raise ValueError(f"num_fewshot must be in [0, {len(items) - 1}] for {len(items)} problems, "
                         f"got {num_fewshot}")
    n = len(items)
    return [render_math_item(item, tokenizer, [items[(i + j) % n] for j in range(1, num_fewshot + 1)])
            for i, item in enumerate(items)]


def testbed_math_task(data_file: str | Path, stop: Sequence[str], max_gen_toks: int = 32,
                      name: str = "testbed_math", cache_dir: str | Path | None = None,
                      num_fewshot: int = 0) -> dict[str, Any]:
    """Greedy generation from `prompt` until a `stop` string; exact match of the reply's last integer.

    `num_fewshot` only records how many solved problems the rendered prompts hold (lm-eval itself
    adds none: its `num_fewshot` is 0).
    """
    return {
        "task": name,
        **json_dataset(data_file, cache_dir),
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
        "metric_list": [{**metric("exact_match"), "ignore_case": False, "ignore_punctuation": False}],
        "metadata": {"version": 1.0, "shots_in_prompt": int(num_fewshot)},
    }


@dataclass
class TestbedMath(JsonlItems):
    """The testbed's math word problems, generated greedily; exact match of the last integer."""

    name = "testbed_math"
    path = "{testbed}/eval/math.jsonl"
    metrics = ("exact_match",)
    keys = ("id", "question", "answer", "solution")
    fewshot: int = option(0, least=0)
    max_gen_toks: int = option(32, least=1)

    def check_item(self, obj: Mapping[str, Any], where: str) -> None:
        """`question` and `solution` are strings and `answer` an integer (or a string holding one)."""
        if not isinstance(obj["question"], str) or not isinstance(obj["solution"], str):
            raise DataError(f"{where}: 'question' and 'solution' must be strings")
        answer = obj["answer"]
        if type(answer) not in (int, str) or not INTEGER.fullmatch(str(answer)):  # bool is not an int here
            raise DataError(f"{where}: 'answer' {answer!r} is not an integer")

    def check(self, loaded: Sequence[Any]) -> None:
        if self.fewshot >= len(loaded):
            raise SpecError(f"spec.{self.name}_fewshot: {self.fewshot} shots need more than "
                            f"{len(loaded)} problems")

    def tasks(self, loaded: Any, tokenizer: Any, folder: Path, cache_dir: Path) -> list[Any]:
        docs = write_docs(folder / f"{self.name}.jsonl", render_testbed_math(loaded, tokenizer, self.fewshot))
        stop = [tokenizer.eos_token] if tokenizer.eos_token else []
        return [testbed_math_task(docs, stop, self.max_gen_toks, name=self.name, cache_dir=cache_dir,
                                  num_fewshot=self.fewshot)]

    def items(self, samples: Samples) -> list[dict[str, Any]]:
        return [{"item": str(s["doc_id"]), "subject": s["doc"].get("level") or "all",
                 **{m: s[m] for m in self.metrics}} for s in samples[self.name]]
