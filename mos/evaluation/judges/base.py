"""What every judge shares: the grading tasks, the judgments, prompt templates and rating parsing.

Two kinds of questions are put to a judge, as in MT-Bench and AlpacaEval:

- single-answer grading (`GradingTask` -> `Judgment`): a rating from 1 to 10 of the model's answer
  at one turn of a conversation, seeing the earlier turns; reference-guided when the question
  carries reference answers (MT-Bench does this for math, reasoning and coding);
- pairwise comparison (`PairTask` -> `Preference`): which of two answers to the same instruction
  is better, in AlpacaEval's encoding (1: the first/reference answer, 2: the second/model answer,
  1.5: a tie).

Prompt templates are plain text with `{placeholders}` in an editable YAML file
(`config/judge_templates.yaml`); `load_templates("fastchat")` takes FastChat's MT-Bench judge
prompts instead (from the file that `python -m mos mt-bench-data` extracts). A rating is read
from the judge's reply as `[[7]]` (or `[7]`, or `Rating: 7`); a reply without one, or with a value
outside 1-10, is recorded as unparseable (rating None), never guessed.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

from mos.data.records import read_jsonl

TEMPLATE_KEYS = ("single", "single_reference", "single_multi_turn", "single_reference_multi_turn",
                 "pairwise", "pairwise_reference")
# FastChat's judge_prompts.jsonl names for the same six prompts.
FASTCHAT_NAMES = {"single": "single-v1", "single_reference": "single-math-v1",
                  "single_multi_turn": "single-v1-multi-turn",
                  "single_reference_multi_turn": "single-math-v1-multi-turn",
                  "pairwise": "pair-v2", "pairwise_reference": "pair-math-v1"}
DEFAULT_TEMPLATES = Path(__file__).resolve().parents[3] / "config" / "judge_templates.yaml"
FASTCHAT_PROMPTS = Path("resources/mt_bench/judge_prompts.jsonl")  # where `python -m mos mt-bench-data` puts them

_RATING = (re.compile(r"\[\[\s*(\d+(?:\.\d+)?)\s*\]\]"), re.compile(r"\[\s*(\d+(?:\.\d+)?)\s*\]"),
           re.compile(r"[Rr]ating\s*[:=]\s*(\d+(?:\.\d+)?)"))
_VERDICT = re.compile(r"\[\[\s*([ABC])\s*\]\]")


class JudgeError(RuntimeError):
    """A judge could not produce a judgment (after retries); nothing is recorded for it."""


@dataclass(frozen=True)
class GradingTask:
    """Grade `answers[turn-1]`, the model's reply at `turn`, given the conversation before it."""

    question_id: str
    category: str
    turn: int
    questions: tuple[str, ...]
    answers: tuple[str, ...]
    references: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.turn <= len(self.questions) or len(self.answers) < self.turn:
            raise ValueError(f"question {self.question_id}: turn {self.turn} needs that many questions and answers")

    @property
    def reference(self) -> str | None:
        if not self.references or len(self.references) < self.turn:
            return None
        return self.references[self.turn - 1]


@dataclass(frozen=True)
class PairTask:
    """Which of two answers to `instruction` is better (a: the reference model's, b: the model's)."""

    question_id: str
    instruction: str
    answer_a: str
    answer_b: str
    reference: str | None = None


@dataclass
class Judgment:
    """One rating (None when the reply held no valid rating) and the judge's raw reply."""

    rating: float | None
    raw: str
    sample: int = 0
    cached: bool = False


@dataclass
class Preference:
    """AlpacaEval's encoding: 1 = answer a (reference) better, 2 = answer b (model) better, 1.5 = tie;
    None when the reply held no verdict."""

    preference: float | None
    raw: str
    cached: bool = False


@dataclass
class Graded:
    """All k judgments of one task and what they add up to."""

    task: GradingTask
    judgments: list[Judgment] = field(default_factory=list)

    @property
    def ratings(self) -> list[float]:
        return [j.rating for j in self.judgments if j.rating is not None]

    @property
    def score(self) -> float | None:
        """The median of the valid ratings (None if there is none)."""
        return statistics.median(self.ratings) if self.ratings else None

    @property
    def spread(self) -> float | None:
        """Largest minus smallest valid rating (0 for one judgment)."""
        return max(self.ratings) - min(self.ratings) if self.ratings else None

    @property
    def unparseable(self) -> int:
        return sum(j.rating is None for j in self.judgments)


class Judge(Protocol):
    """A judge grades answers and compares pairs; `name` identifies it in file names and caches."""

    name: str

    def grade(self, tasks: Sequence[GradingTask], samples: int = 1) -> list[list[Judgment]]:
        """`samples` judgments per task, in task order."""
        ...

    def compare(self, pairs: Sequence[PairTask]) -> list[Preference]:
        """One preference per pair, in pair order."""
        ...


# ---------------------------------------------------------------- templates


@dataclass(frozen=True)
class Template:
    name: str
    system: str
    user: str


def load_templates(source: str | Path | None = None) -> dict[str, Template]:
    """The six judge prompts from our YAML file (default), another YAML file of the same keys, or
    "fastchat" / a judge_prompts.jsonl path for FastChat's MT-Bench prompts."""
    if source in (None, "", "default"):
        source = DEFAULT_TEMPLATES
    if str(source) == "fastchat":
        if not FASTCHAT_PROMPTS.is_file():
            raise FileNotFoundError(f"{FASTCHAT_PROMPTS} not found (templates: fastchat): run `python -m mos "
                                    f"mt-bench-data --out {FASTCHAT_PROMPTS.parent}` (with --source path: "
                                    "--judge-prompts <FastChat data/judge_prompts.jsonl>)")
        source = FASTCHAT_PROMPTS
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"judge templates {path} not found")
    if path.suffix == ".jsonl":
        return _fastchat_templates(path)
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    missing = [k for k in TEMPLATE_KEYS if k not in data]
    if missing:
        raise ValueError(f"{path}: missing template(s) {', '.join(missing)}; expected keys {', '.join(TEMPLATE_KEYS)}")
    out = {}
    for key in TEMPLATE_KEYS:
        entry = data[key]
        if not isinstance(entry, dict) or not isinstance(entry.get("user"), str):
            raise ValueError(f"{path}: {key}: expected a mapping with a 'user' text (and an optional 'system')")
        out[key] = Template(f"{path.stem}/{key}", str(entry.get("system", "")), entry["user"])
    return out


def _fastchat_templates(path: Path) -> dict[str, Template]:
    prompts = {}
    for lineno, d in read_jsonl(path):  # DataError (a ValueError) names the line of bad JSON or bytes
        if not isinstance(d, dict) or "name" not in d:
            raise ValueError(f"{path}:{lineno}: expected an object with a 'name'")
        prompts[d["name"]] = d
    missing = [n for n in FASTCHAT_NAMES.values() if n not in prompts]
    if missing:
        raise ValueError(f"{path}: missing FastChat prompt(s) {', '.join(missing)}")
    return {key: Template(f"fastchat/{name}", prompts[name]["system_prompt"], prompts[name]["prompt_template"])
            for key, name in FASTCHAT_NAMES.items()}


class _Fields(dict):
    def __missing__(self, key: str) -> str:
        raise KeyError(f"judge template placeholder {{{key}}} is not one of {', '.join(sorted(self))}")


def grading_messages(templates: Mapping[str, Template], task: GradingTask) -> tuple[Template, list[dict[str, str]]]:
    """The template used for a grading task and the chat messages it renders to."""
    multi = task.turn > 1
    ref = task.references is not None and task.reference is not None
    key = ("single_reference" if ref else "single") + ("_multi_turn" if multi else "")
    refs = list(task.references or [])
    fields = _Fields(question=task.questions[task.turn - 1], answer=task.answers[task.turn - 1],
                     reference=task.reference or "")
    for k in range(len(task.questions)):
        fields[f"question_{k + 1}"] = task.questions[k]
        fields[f"answer_{k + 1}"] = task.answers[k] if k < len(task.answers) else ""
    for k, r in enumerate(refs):
        fields[f"reference_{k + 1}"] = fields[f"ref_answer_{k + 1}"] = r
    fields["ref_answer"] = fields["reference"]
    return templates[key], _render(templates[key], fields)


def pairwise_messages(templates: Mapping[str, Template], pair: PairTask) -> tuple[Template, list[dict[str, str]]]:
    key = "pairwise_reference" if pair.reference else "pairwise"
    fields = _Fields(question=pair.instruction, answer_a=pair.answer_a, answer_b=pair.answer_b,
                     reference=pair.reference or "", ref_answer_1=pair.reference or "")
    return templates[key], _render(templates[key], fields)


def _render(template: Template, fields: _Fields) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": template.system}] if template.system else []
    return messages + [{"role": "user", "content": template.user.format_map(fields)}]


# ---------------------------------------------------------------- parsing


def parse_rating(text: str) -> float | None:
    """The first `[[n]]` (else `[n]`, else `Rating: n`) with 1 <= n <= 10; None otherwise."""
    for pattern in _RATING:
        m = pattern.search(text or "")
        if m:
            value = float(m.group(1))
            return value if 1 <= value <= 10 else None
    return None


def parse_verdict(text: str) -> float | None:
    """`[[A]]` -> 1 (first answer better), `[[B]]` -> 2, `[[C]]` -> 1.5 (tie); None otherwise."""
    m = _VERDICT.search(text or "")
    return None if m is None else {"A": 1.0, "B": 2.0, "C": 1.5}[m.group(1)]


def pin_of(judge: Any) -> dict[str, Any] | None:
    """The judge's model pin (revision, weight digests) as recorded with its judgments; None: no model."""
    pin = getattr(judge, "pin", None)
    return pin.record() if hasattr(pin, "record") else pin


def describe(judge: Any) -> dict[str, Any]:
    """What identifies a judge in results (never secrets)."""
    pin_of(judge)  # a served judge asks its server for the pin once, and then lists it in public_config
    return {"name": judge.name, **getattr(judge, "public_config", {})}
