"""A deterministic judge for questions whose reference answers are exactly right (the testbed's
two-turn prompts): no model, no network, the same rating every time.

    ReferenceJudge().grade([GradingTask("chat-000", "arithmetic", 1, ("Zoe has ...",), ("15 - 9 = 6.",),
                                        ("15 - 9 = 6.", "6 * 2 = 12."))])   # -> [[Judgment(10.0, ...)]]

A reply is compared with the reference of its turn after normalising both (lower case, single
spaces, no trailing full stop). Equal: 10. Otherwise the rating is 1 + 9 * s on MT-Bench's 1-10
scale, with s in [0, 1] from one of two scorings (`scoring`, the config's `eval.judge.scoring`):

- `graded` (the default): partial credit in three parts, so near misses are told apart from
  nonsense. F = token F1 between reply and reference (words and numbers, as multisets); C = the
  Dice overlap of their character trigrams (a misspelt or half-right word earns some); and, when the
  reference ends with a number (a result), R = 1 if the reply's last number is that result (else 0)
  and N = its closeness to it, 1 / (1 + |x - y| / max(1, |y|)) (1 when right, 1/2 when off by the
  result's own size, 0 without a number). With a result: s = 0.6 R + 0.2 N + 0.1 F + 0.1 C (a right
  result always rates above a wrong one: at least 6.4 against at most 4.6), else s = 0.6 F + 0.4 C.
- `f1` (the suite's first reference judge, kept to re-grade old runs): s = F; when the reference
  ends with a result, s = 0.6 + 0.4 F if the reply's last number is that result, else 0.4 F. On
  tiny models this rates most replies exactly 1 or 10 (REVIEW §2: 60% and 21% of turns).

Pairwise, the answer with the higher rating wins and equal ratings tie. Questions without a
reference cannot be graded by this judge (an error says so).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from mos.evaluation.judges.base import GradingTask, JudgeError, Judgment, PairTask, Preference

_TOKEN = re.compile(r"-?\d+(?:\.\d+)?|[^\W\d_]+", re.UNICODE)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def normalise(text: str) -> str:
    return " ".join(text.lower().split()).rstrip(".").strip()


def token_f1(reply: str, reference: str) -> float:
    """F1 of the multiset overlap of word and number tokens (case-insensitive)."""
    a, b = Counter(_TOKEN.findall(reply.lower())), Counter(_TOKEN.findall(reference.lower()))
    common = sum((a & b).values())
    if common == 0:
        return 0.0
    precision, recall = common / sum(a.values()), common / sum(b.values())
    return 2 * precision * recall / (precision + recall)


SCORINGS = ("graded", "f1")


def char_dice(reply: str, reference: str, n: int = 3) -> float:
    """Dice overlap of the character n-gram multisets of the normalised texts (0 when either is empty)."""
    def grams(text: str) -> Counter:
        t = f" {normalise(text)} "
        return Counter(t[i:i + n] for i in range(max(0, len(t) - n + 1)))
    a, b = grams(reply), grams(reference)
    total = sum(a.values()) + sum(b.values())
    return 2 * sum((a & b).values()) / total if total else 0.0


def result_of(reference: str) -> float | None:
    """The number a reference ends with (its result), or None."""
    numbers = _NUMBER.findall(reference)
    return float(numbers[-1]) if numbers and reference.rstrip(" .").endswith(numbers[-1]) else None


def number_closeness(reply: str, result: float) -> float:
    """1 / (1 + relative error) of the reply's last number; 0 when the reply has no number."""
    numbers = _NUMBER.findall(reply)
    if not numbers:
        return 0.0
    return 1.0 / (1.0 + abs(float(numbers[-1]) - result) / max(1.0, abs(result)))


def reference_rating(reply: str, reference: str, scoring: str = "graded") -> float:
    """The 1-10 rating of `reply` against `reference` (see the module docstring)."""
    if scoring not in SCORINGS:
        raise ValueError(f"eval.judge.scoring: expected one of {SCORINGS}, got {scoring!r}")
    if normalise(reply) == normalise(reference):
        return 10.0
    f1, result = token_f1(reply, reference), result_of(reference)
    if scoring == "f1":
        s = f1
        if result is not None:
            numbers = _NUMBER.findall(reply)
            right = bool(numbers) and float(numbers[-1]) == result
            s = 0.6 + 0.4 * f1 if right else 0.4 * f1
    else:
        chars = char_dice(reply, reference)
        if result is None:
            s = 0.6 * f1 + 0.4 * chars
        else:
            closeness = number_closeness(reply, result)
            s = 0.6 * (closeness == 1.0) + 0.2 * closeness + 0.1 * f1 + 0.1 * chars
    return round(1.0 + 9.0 * min(1.0, s), 4)


class ReferenceJudge:
    """Rates replies against reference answers; instant and deterministic."""

    name = "reference"

    def __init__(self, scoring: str = "graded"):
        if scoring not in SCORINGS:
            raise ValueError(f"eval.judge.scoring: expected one of {SCORINGS}, got {scoring!r}")
        self.scoring = scoring
        self.public_config = {"kind": "reference", "scoring": scoring}

    def grade(self, tasks: Sequence[GradingTask], samples: int = 1) -> list[list[Judgment]]:
        out = []
        for task in tasks:
            if task.reference is None:
                raise JudgeError(f"the reference judge needs reference answers; question {task.question_id} "
                                 f"(turn {task.turn}) has none: use an LLM judge (eval.judge.kind: http or local)")
            rating = reference_rating(task.answers[task.turn - 1], task.reference, self.scoring)
            out.append([Judgment(rating, f"reference rating {rating}", 0)])  # deterministic: one judgment
        return out

    def compare(self, pairs: Sequence[PairTask]) -> list[Preference]:
        out = []
        for pair in pairs:
            if pair.reference is None:
                raise JudgeError(f"the reference judge needs a reference answer for question {pair.question_id}")
            a = reference_rating(pair.answer_a, pair.reference, self.scoring)
            b = reference_rating(pair.answer_b, pair.reference, self.scoring)
            out.append(Preference(1.0 if a > b else 2.0 if b > a else 1.5, f"reference ratings a={a} b={b}"))
        return out
