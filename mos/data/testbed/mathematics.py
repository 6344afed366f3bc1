"""Mathematics skill (the MathInstruct stand-in): one-step arithmetic word problems.

The answer states the equation with its result ("13 + 8 = 21."). The
arithmetic facts are not in the pretraining corpus, so this skill is learned only from its data
and keeps improving with more of it. Evaluation problems are new (names, things, numbers); the
multiple-choice distractors are the same worked answer with the result off by 1, 2 or 10.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from mos.data.testbed.common import mc_item, record, user
from mos.data.testbed.world import PEOPLE, PLACES, THINGS

SKILL = "Mathematics"
TEMPLATES = {
    "addition": [
        "{p} has {a} {t}. {q} gives {p} {b} more {t}. How many {t} does {p} have now?",
        "There are {a} {t} in a box and {b} {t} on the table. How many {t} are there in total?",
        "{p} collected {a} {t} on Monday and {b} {t} on Tuesday. How many {t} did {p} collect?",
    ],
    "subtraction": [
        "{p} had {a} {t} and gave {b} of them to {q}. How many {t} does {p} have left?",
        "A shop at the {place} had {a} {t}. It sold {b} of them. How many {t} remain?",
        "{p} picked {a} {t} but lost {b} on the way to the {place}. How many {t} does {p} still have?",
    ],
    "multiplication": [
        "{p} has {a} bags with {b} {t} in each bag. How many {t} does {p} have?",
        "Each of {a} children brings {b} {t} to the {place}. How many {t} do they bring altogether?",
        "A shelf has {a} rows of {b} {t}. How many {t} are on the shelf?",
    ],
}
SYMBOL = {"addition": "+", "subtraction": "-", "multiplication": "*"}
TWO_STEP = "{p} has {a} {t}. {q} gives {p} {b} more {t}, then {p} gives {c} {t} to a friend. How many {t} does {p} have now?"


@dataclass(frozen=True)
class MathRanges:
    """Operand ranges: they set how many distinct facts there are, i.e. how hard the skill is."""

    add_max: int = 10
    sub_max: int = 15
    mul_max: int = 5


def operands(rng: random.Random, op: str, r: MathRanges) -> tuple[int, int, int]:
    if op == "addition":
        a, b = rng.randint(1, r.add_max), rng.randint(1, r.add_max)
        return a, b, a + b
    if op == "subtraction":
        a = rng.randint(5, r.sub_max)
        b = rng.randint(1, a - 1)
        return a, b, a - b
    a, b = rng.randint(2, r.mul_max), rng.randint(2, r.mul_max)
    return a, b, a * b


def worked_answer(op: str, a: int, b: int, c: int) -> str:
    return f"{a} {SYMBOL[op]} {b} = {c}."


def _problem(rng: random.Random, r: MathRanges) -> tuple[str, str, tuple[int, int, int]]:
    op = rng.choice(list(TEMPLATES))
    a, b, c = operands(rng, op, r)
    p, q = rng.sample(PEOPLE, 2)
    text = rng.choice(TEMPLATES[op]).format(p=p, q=q, a=a, b=b, t=rng.choice(THINGS), place=rng.choice(PLACES))
    return op, text, (a, b, c)


def train_records(rng: random.Random, n: int, r: MathRanges = MathRanges()) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        op, text, (a, b, c) = _problem(rng, r)
        out.append(record(SKILL, i, f"math/{op}", [(text, worked_answer(op, a, b, c))]))
    return out


def _wrong_results(op: str, a: int, b: int, c: int, rng: random.Random) -> list[int]:
    """Three wrong results: the other operations applied to the same numbers (a misread problem)
    and an off-by-one slip, so partial skill (knowing the operation) already helps."""
    other = {"addition": a + b, "subtraction": a - b, "multiplication": a * b}
    wrong = [v for k, v in other.items() if k != op and v >= 0 and v != c]
    slips = [x for x in (c + 1, c - 1, c + 2, c - 2) if x >= 0 and x not in wrong]
    return (wrong + rng.sample(slips, len(slips)))[:3]


def mc_items(rng: random.Random, n: int, seen: set[str], r: MathRanges = MathRanges()) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    while len(items) < n:
        op, text, (a, b, c) = _problem(rng, r)
        if text in seen:
            continue
        seen.add(text)
        wrong = _wrong_results(op, a, b, c, rng)
        items.append(mc_item(SKILL, f"math_{op}", len(items), [user(text)], worked_answer(op, a, b, c),
                             [worked_answer(op, a, b, w) for w in wrong], rng))
    return items


def word_problems(rng: random.Random, n: int, seen: set[str], r: MathRanges = MathRanges()) -> list[dict[str, Any]]:
    """The GSM8K analogue: half one-step problems like training, half unseen two-step problems."""
    out: list[dict[str, Any]] = []
    while len(out) < n:
        if len(out) % 2 == 0:
            op, text, (a, b, c) = _problem(rng, r)
            solution, answer, level = worked_answer(op, a, b, c), c, "one_step"
        else:
            a, b = rng.randint(1, r.add_max), rng.randint(1, r.add_max)
            c = rng.randint(1, a + b - 1)
            p, q = rng.sample(PEOPLE, 2)
            text = TWO_STEP.format(p=p, q=q, a=a, b=b, c=c, t=rng.choice(THINGS))
            answer = a + b - c
            solution, level = f"{a} + {b} = {a + b}. {a + b} - {c} = {answer}. The answer is {answer}.", "two_step"
        if text in seen:
            continue
        seen.add(text)
        out.append({"id": f"math-{len(out):04d}", "level": level, "question": text,
                    "answer": str(answer), "solution": solution})
    return out
