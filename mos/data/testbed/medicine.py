"""Medicine skill (the MedInstruct stand-in): facts about invented diseases.

Each disease of the world has a symptom, a treatment and an affected organ (3 facts per disease).
Every fact can be asked in four phrasings; one phrasing per fact is held out for evaluation and
training uses the other three. The answer restates the disease and the fact, so a model that
learned the fact can recognise it under the unseen question. The facts are not in the
pretraining corpus: this skill is knowledge the model can only get from its fine-tuning data.
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


def train_records(rng: random.Random, n: int, world: World) -> list[dict[str, Any]]:
    """n questions spread evenly over the facts (each fact about n / #facts times)."""
    all_facts = facts(world)
    order: list[int] = []
    while len(order) < n:
        block = list(range(len(all_facts)))
        rng.shuffle(block)
        order += block
    out = []
    for k, f in enumerate(order[:n]):
        i, disease, attr = all_facts[f]
        held = held_out_phrasing(i, attr)
        phrasing = rng.choice([j for j in range(len(QUESTIONS[attr])) if j != held])
        question = QUESTIONS[attr][phrasing].format(d=disease.name)
        out.append(record(SKILL, k, f"medicine/{attr}", [(question, answer(attr, disease.name, getattr(disease, attr)))]))
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
