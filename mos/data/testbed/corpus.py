"""The generic pretraining corpus of the testbed's world (not its instruction data).

Short documents of plain sentences: stories with people, things, places and numbers; counting;
word lists in lower and upper case; common language knowledge (antonyms, word categories); and
mentions of the invented diseases, drugs, countries and cities *without* their facts. A backbone
pretrained on it knows the words of the world, so fine-tuning teaches skills and facts rather than
the vocabulary — the situation of the paper's pretrained backbones.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from mos.data.testbed.world import (
    ANIMAL_SOUNDS,
    ANTONYMS,
    CATEGORIES,
    FRUIT_COLORS,
    LIST_WORDS,
    ORGANS,
    PEOPLE,
    PLACES,
    REVIEWED,
    SENTIMENT,
    SYMPTOMS,
    THINGS,
    TOPICS,
    World,
)


def _story(rng: random.Random, w: World) -> str:
    p, q = rng.sample(PEOPLE, 2)
    return (f"{p} went to the {rng.choice(PLACES)} with {rng.randint(2, 60)} {rng.choice(THINGS)}. "
            f"{q} was there too and had {rng.randint(2, 60)} {rng.choice(THINGS)}.")


def _counting(rng: random.Random, w: World) -> str:
    start = rng.randint(0, 90)
    return "Counting: " + ", ".join(str(start + k) for k in range(rng.randint(4, 8))) + "."


def _words(rng: random.Random, w: World) -> str:
    words = rng.sample(LIST_WORDS, rng.randint(3, 6))
    if rng.random() < 0.4:
        return f"The sign said {' '.join(x.upper() for x in words)}."
    return f"The words on the card were {', '.join(words)}."


def _antonym(rng: random.Random, w: World) -> str:
    a, b = rng.choice(ANTONYMS)
    return rng.choice([f"The opposite of {a} is {b}.", f"{a.capitalize()} and {b} are opposites."])


def _category(rng: random.Random, w: World) -> str:
    cat = rng.choice(list(CATEGORIES))
    return f"A {rng.choice(CATEGORIES[cat])} is a kind of {cat}."


def _animals_and_fruit(rng: random.Random, w: World) -> str:
    animal, sound = rng.choice(sorted(ANIMAL_SOUNDS.items()))
    fruit, color = rng.choice(sorted(FRUIT_COLORS.items()))
    return rng.choice([f"The {animal} says {sound}.", f"A ripe {fruit} is {color}."])


def _mentions(rng: random.Random, w: World) -> str:
    p = rng.choice(PEOPLE)
    d = rng.choice(w.diseases)
    country, city = rng.choice(sorted(w.countries.items()))
    return rng.choice([
        f"{p} read a report about {d.name}.",
        f"The pharmacy near the {rng.choice(PLACES)} keeps {rng.choice(w.drugs)} on the shelf.",
        f"{country} is a country far away, and {p} wants to visit it.",
        f"{city} is a busy city with a large {rng.choice(PLACES)}.",
        f"A {rng.choice(SYMPTOMS)} can be unpleasant, said {p}.",
        f"The {rng.choice(ORGANS)} is an important part of the body.",
    ])


def _opinion(rng: random.Random, w: World) -> str:
    adj = rng.choice(SENTIMENT[rng.choice(list(SENTIMENT))])
    topic = rng.choice(list(TOPICS))
    return (f"{rng.choice(PEOPLE)} said the {rng.choice(REVIEWED)} was {adj}. "
            f"The news mentioned a {rng.choice(TOPICS[topic])}.")


SENTENCES: list[Callable[[random.Random, World], str]] = [
    _story, _counting, _words, _antonym, _category, _animals_and_fruit, _mentions, _opinion,
]


def documents(rng: random.Random, world: World, n: int) -> list[dict[str, str]]:
    """n documents of 2-4 sentences each."""
    return [
        {"id": f"doc-{i:06d}", "text": " ".join(rng.choice(SENTENCES)(rng, world) for _ in range(rng.randint(2, 4)))}
        for i in range(n)
    ]
