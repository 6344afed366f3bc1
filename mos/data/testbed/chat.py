"""Two-turn evaluation prompts with reference answers: the testbed's MT-Bench analogue.

Eight categories (MT-Bench has eight too), ten prompts each. Every second turn depends on the
first, and every reference is exactly computable, so a reference judge can grade answers; an LLM
judge can grade them as MT-Bench does.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from mos.data.testbed import general, mathematics, medicine, nlp
from mos.data.testbed.common import listing
from mos.data.testbed.world import PEOPLE, THINGS, World

Pair = tuple[str, str, str, str]  # turn 1, reference 1, turn 2, reference 2


def _arithmetic(rng: random.Random, w: World) -> Pair:
    op, text, (a, b, c) = mathematics._problem(rng, mathematics.MathRanges())
    return text, mathematics.worked_answer(op, a, b, c), "Now double that number.", f"{c} * 2 = {2 * c}."


# Turn 1 asks one fact of an invented disease, turn 2 another, in phrasings never used in training
# ("Tell me ..."; the training questions are medicine.QUESTIONS): 3 x 2 orders per disease.
MEDICINE_ASKS = {"treatment": "Tell me which drug doctors prescribe for {d}.",
                 "symptom": "Tell me the usual symptom of {d}.",
                 "organ": "Tell me which organ {d} affects."}
MEDICINE_FOLLOW_UPS = {"treatment": "And which drug treats it?", "symptom": "And what is its usual symptom?",
                       "organ": "And which organ does it affect?"}


def _medicine(rng: random.Random, w: World) -> Pair:
    d = w.diseases[rng.randrange(len(w.diseases))]
    first, second = rng.sample(list(MEDICINE_ASKS), 2)
    return (MEDICINE_ASKS[first].format(d=d.name), medicine.answer(first, d.name, getattr(d, first)),
            MEDICINE_FOLLOW_UPS[second], medicine.answer(second, d.name, getattr(d, second)))


def _list_editing(rng: random.Random, w: World) -> Pair:
    turns = general.conversation(rng, 1)
    return turns[0][1], turns[0][2], turns[1][1], turns[1][2]


def _two_of(task: Callable, follow: str) -> Callable[[random.Random, World], Pair]:
    def make(rng: random.Random, w: World) -> Pair:
        p1, a1, _ = task(rng, w)
        p2, a2, _ = task(rng, w)
        return p1, a1, f"{follow}\n{p2}", a2
    return make


def _extraction(rng: random.Random, w: World) -> Pair:
    p = rng.choice(PEOPLE)
    n, thing = rng.randint(3, 9), rng.choice(THINGS)
    words = rng.sample(PEOPLE, 3)
    return (f"Read: \"{p} met {listing(words)} and shared {n} {thing}.\" Who did {p} meet?",
            listing(words), "How many things did they share?", str(n))


CATEGORIES: dict[str, Callable[[random.Random, World], Pair]] = {
    "arithmetic": _arithmetic,
    "medicine": _medicine,
    "list_editing": _list_editing,
    "extraction": _extraction,
    "sentiment": _two_of(nlp.sentiment, "Now the same for this one."),
    "vocabulary": _two_of(nlp.antonym, "Another one, please."),
    "geography": _two_of(nlp.capital, "And this one?"),
    "counting": _two_of(nlp.count, "One more."),
}


MAX_MISSES = 10_000  # repeated draws of a category before it counts as exhausted


def prompts(rng: random.Random, world: World, per_category: int, seen: set[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for category, make in CATEGORIES.items():
        made = misses = 0
        while made < per_category:
            t1, r1, t2, r2 = make(rng, world)
            if t1 in seen:
                misses += 1
                if misses > MAX_MISSES:  # the category has fewer distinct first turns than asked for
                    raise ValueError(f"testbed chat: only {made} distinct '{category}' prompts could be made, "
                                     f"{per_category} asked (testbed.eval.chat_per_category): lower it")
                continue
            seen.add(t1)
            out.append({"id": f"chat-{len(out):03d}", "category": category, "turns": [t1, t2],
                        "references": [r1, r2]})
            made += 1
    return out
