"""Medicine skill (the MedInstruct stand-in): facts about invented diseases.

Each disease of the world has a symptom, a treatment and an affected organ (3 facts per disease).
Every fact can be asked in four phrasings; one phrasing per fact is held out for evaluation and
training uses the other three. The answer restates the disease and the fact, so a model that
learned the fact can recognise it under the unseen question. The facts are not in the
pretraining corpus: this skill is knowledge the model can only get from its fine-tuning data.

Shared sub-skill (designed transfer): a share of the training examples (`DOSE_SHARE`) are dosage
word problems about a disease's usual drug, answered with the treatment fact and then the
arithmetic in the Mathematics skill's equation style, one or two steps ("Torlymi disease is
treated with ranol. 3 * 4 = 12."). The multiple-choice items ask the facts only.
"""

from __future__ import annotations

import random
from typing import Any

from mos.data.testbed.common import mc_item, record, user
from mos.data.testbed.world import ORGANS, SYMPTOMS, Disease, World

SKILL = "Medicine"
QUESTIONS = {
    "symptom": [
        "What symptom is typical of {d}?",
        "Which symptom do people with {d} usually have?",
        "Name the main symptom of {d}.",
        "If someone has {d}, what symptom would you expect?",
    ],
    "treatment": [
        "How is {d} treated?",
        "Which drug is used against {d}?",
        "What medicine do doctors give for {d}?",
        "What is the standard treatment for {d}?",
    ],
    "organ": [
        "Which organ does {d} affect?",
        "What part of the body is harmed by {d}?",
        "{d} damages which organ?",
        "Where in the body does {d} do its damage?",
    ],
}
ATTRIBUTES = tuple(QUESTIONS)


def answer(attribute: str, disease: str, value: str) -> str:
    if attribute == "symptom":
        return f"Patients with {disease} usually have {value}."
    if attribute == "treatment":
        return f"{disease} is treated with {value}."
    return f"{disease} affects the {value}."


def held_out_phrasing(disease_index: int, attribute: str) -> int:
    """Which of the four phrasings of a fact is reserved for evaluation (rotates over facts)."""
    return (disease_index + ATTRIBUTES.index(attribute)) % len(QUESTIONS[attribute])


def facts(world: World) -> list[tuple[int, Disease, str]]:
    return [(i, d, a) for i, d in enumerate(world.diseases) for a in ATTRIBUTES]


DOSE_SHARE = 0.125
DOSE_PROBLEMS = {
    "dose_times": "{d}: {a} tablets a day for {b} days. How many tablets?",
    "dose_add": "{d}: {a} doses, then {b} more. How many doses?",
    "dose_left": "{d}: {a} boxes of its drug, {b} used. How many left?",
    "dose_two_step": "{d}: {a} tablets a day for {b} days, {c} taken. How many left?",
}


def dose_problem(rng: random.Random, disease: Disease) -> tuple[str, str, str]:
    """(kind, question, answer): the treatment fact, then the arithmetic (operand ranges of the
    Mathematics skill's defaults: sums of 1..10, differences below 15, products of 2..5)."""
    kind = rng.choice(list(DOSE_PROBLEMS))
    fact = answer("treatment", disease.name, disease.treatment)
    if kind == "dose_times":
        a, b = rng.randint(2, 5), rng.randint(2, 5)
        c, equation = 0, f"{a} * {b} = {a * b}."
    elif kind == "dose_add":
        a, b = rng.randint(1, 10), rng.randint(1, 10)
        c, equation = 0, f"{a} + {b} = {a + b}."
    elif kind == "dose_left":
        a = rng.randint(5, 15)
        b = rng.randint(1, a - 1)
        c, equation = 0, f"{a} - {b} = {a - b}."
    else:
        a, b = rng.randint(2, 5), rng.randint(2, 5)
        c = rng.randint(1, a * b - 1)
        equation = f"{a} * {b} = {a * b}. {a * b} - {c} = {a * b - c}."
    return kind, DOSE_PROBLEMS[kind].format(d=disease.name, a=a, b=b, c=c), f"{fact} {equation}"


def _even_order(rng: random.Random, n_items: int, n: int) -> list[int]:
    """n indices into n_items, every index about n / n_items times, in shuffled blocks."""
    order: list[int] = []
    while len(order) < n:
        block = list(range(n_items))
        rng.shuffle(block)
        order += block
    return order[:n]


def train_records(rng: random.Random, n: int, world: World) -> list[dict[str, Any]]:
    """n examples: fact questions spread evenly over the facts (each about (1 - DOSE_SHARE) n /
    #facts times), and DOSE_SHARE n dosage problems spread evenly over the diseases."""
    all_facts = facts(world)
    n_dose = round(DOSE_SHARE * n)
    out = []
    for f in _even_order(rng, len(all_facts), n - n_dose):
        i, disease, attr = all_facts[f]
        held = held_out_phrasing(i, attr)
        phrasing = rng.choice([j for j in range(len(QUESTIONS[attr])) if j != held])
        question = QUESTIONS[attr][phrasing].format(d=disease.name)
        out.append(record(SKILL, len(out), f"medicine/{attr}",
                          [(question, answer(attr, disease.name, getattr(disease, attr)))]))
    for d in _even_order(rng, len(world.diseases), n_dose):
        kind, question, reply = dose_problem(rng, world.diseases[d])
        out.append(record(SKILL, len(out), f"medicine/{kind}", [(question, reply)]))
    rng.shuffle(out)
    return out


def mc_items(rng: random.Random, world: World, seen: set[str]) -> list[dict[str, Any]]:
    """One item per fact, asked in its held-out phrasing; distractors swap in other values."""
    pools = {"symptom": SYMPTOMS, "treatment": world.drugs, "organ": ORGANS}
    items = []
    for i, disease, attr in facts(world):
        question = QUESTIONS[attr][held_out_phrasing(i, attr)].format(d=disease.name)
        if question in seen:
            raise AssertionError(f"held-out question appears in training: {question}")
        seen.add(question)
        value = getattr(disease, attr)
        wrong = rng.sample([v for v in pools[attr] if v != value], 3)
        items.append(mc_item(SKILL, f"medicine_{attr}", len(items), [user(question)],
                             answer(attr, disease.name, value), [answer(attr, disease.name, w) for w in wrong], rng))
    return items
