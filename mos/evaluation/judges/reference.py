"""A deterministic judge for questions whose reference answers are exactly right (the testbed's
two-turn prompts): no model, no network, the same rating every time.

    ReferenceJudge().grade([GradingTask("chat-000", "arithmetic", 1, ("Zoe has ...",), ("15 - 9 = 6.",),
                                        ("15 - 9 = 6.", "6 * 2 = 12."))])   # -> [[Judgment(10.0, ...)]]

A reply is compared with the reference of its turn after normalising both (lower case, single
spaces, no trailing full stop). Equal: 10. Otherwise the rating is 1 + 9 * s on MT-Bench's 1-10
scale, where s is the token F1 between reply and reference (words and numbers, as multisets). When
the reference ends with a number (a result), the result decides first: s = 0.6 + 0.4 * F1 if the
reply's last number is that result, else s = 0.4 * F1 — a right result in other words rates above
6.4, a well-worded wrong result below 4.6. Pairwise, the answer with the higher rating wins and equal
ratings tie. Questions without a reference cannot be graded by this judge (an error says so).
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


def reference_rating(reply: str, reference: str) -> float:
    """The 1-10 rating of `reply` against `reference` (see the module docstring)."""
    if normalise(reply) == normalise(reference):
        return 10.0
    s = token_f1(reply, reference)
    ref_numbers, reply_numbers = _NUMBER.findall(reference), _NUMBER.findall(reply)
    if ref_numbers and reference.rstrip(" .").endswith(ref_numbers[-1]):
        right = bool(reply_numbers) and float(reply_numbers[-1]) == float(ref_numbers[-1])
        s = 0.6 + 0.4 * s if right else 0.4 * s
    return round(1.0 + 9.0 * s, 4)


class ReferenceJudge:
    """Rates replies against reference answers; instant and deterministic."""

    name = "reference"
    public_config = {"kind": "reference"}

    def grade(self, tasks: Sequence[GradingTask], samples: int = 1) -> list[list[Judgment]]:
        out = []
        for task in tasks:
            if task.reference is None:
                raise JudgeError(f"the reference judge needs reference answers; question {task.question_id} "
                                 f"(turn {task.turn}) has none: use an LLM judge (eval.judge.kind: http or local)")
            rating = reference_rating(task.answers[task.turn - 1], task.reference)
            out.append([Judgment(rating, f"reference rating {rating}", 0)])  # deterministic: one judgment
        return out

    def compare(self, pairs: Sequence[PairTask]) -> list[Preference]:
        out = []
        for pair in pairs:
            if pair.reference is None:
                raise JudgeError(f"the reference judge needs a reference answer for question {pair.question_id}")
            a, b = reference_rating(pair.answer_a, pair.reference), reference_rating(pair.answer_b, pair.reference)
            out.append(Preference(1.0 if a > b else 2.0 if b > a else 1.5, f"reference ratings a={a} b={b}"))
        return out
