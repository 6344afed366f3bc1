"""NLP skill (the P3 stand-in): many small tasks with long prompts and one-word answers.

Like P3, every example is a prompted task instance — an instruction, an input passage and a
question — answered with a label or a single word. Tasks: sentiment, topic, antonym, animal
sound, fruit color, capital of a country, country of a capital, counting words, and arithmetic
questions about a passage answered with a bare number (the shared sub-skill with Mathematics:
the same sums and differences, without the worked equation). The
`source` of a record names its task, as P3 subsets do. Antonyms, animal sounds and fruit colors
are common knowledge that the pretraining corpus also states; capitals of the invented countries
are only here.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from mos.data.testbed.common import listing, mc_item, record, user
from mos.data.testbed.world import (
    ANIMAL_SOUNDS,
    FRUIT_COLORS,
    LIST_WORDS,
    PEOPLE,
    PLACES,
    REVIEWED,
    SENTIMENT,
    THINGS,
    TOPICS,
    World,
)

SKILL = "NLP"
Instance = tuple[str, str, list[str]]  # prompt, answer, distractors


def passage(rng: random.Random) -> str:
    p, q = rng.sample(PEOPLE, 2)
    return rng.choice([
        f"{p} walked to the {rng.choice(PLACES)} with {q}.",
        f"{p} counted the {rng.choice(THINGS)} near the {rng.choice(PLACES)}.",
        f"{p} met {q} at the {rng.choice(PLACES)}.",
    ])


def sentiment(rng: random.Random, world: World) -> Instance:
    label = rng.choice(list(SENTIMENT))
    a, b = rng.sample(SENTIMENT[label], 2)
    review = f"The {rng.choice(REVIEWED)} was {a} and {b}."
    prompt = rng.choice([
        "Read the review below and decide whether it is positive or negative.\nReview: {r}\nAnswer:",
        "Here is a short review: \"{r}\" Is the reviewer's opinion positive or negative?",
    ]).format(r=review)
    return prompt, label, [x for x in SENTIMENT if x != label]


def topic(rng: random.Random, world: World) -> Instance:
    label = rng.choice(list(TOPICS))
    w1, w2 = rng.sample(TOPICS[label], 2)
    headline = f"{rng.choice(PEOPLE)} on the {w1} and the {w2}"
    prompt = rng.choice([
        "Classify the headline into one topic: sports, weather, food or music.\nHeadline: {h}\nTopic:",
        "Headline: \"{h}\". Which topic is this headline about: sports, weather, food or music?",
    ]).format(h=headline)
    return prompt, label, [x for x in TOPICS if x != label]


def antonym(rng: random.Random, world: World) -> Instance:
    pairs = world.antonyms
    word = rng.choice(sorted(pairs))
    prompt = rng.choice([
        "{s}\nQuestion: What is the opposite of the word \"{w}\"?",
        "Passage: {s}\nGive the antonym of \"{w}\".",
        "Which word means the opposite of \"{w}\"?",
    ]).format(s=passage(rng), w=word)
    return prompt, pairs[word], rng.sample(sorted({v for v in pairs.values() if v not in (pairs[word], word)}), 3)


def animal_sound(rng: random.Random, world: World) -> Instance:
    animal = rng.choice(sorted(ANIMAL_SOUNDS))
    prompt = rng.choice([
        "{s}\nQuestion: What sound does a {a} make?",
        "Which sound does a {a} make? Answer with one word.",
    ]).format(s=passage(rng), a=animal)
    answer = ANIMAL_SOUNDS[animal]
    return prompt, answer, rng.sample([v for v in ANIMAL_SOUNDS.values() if v != answer], 3)


def fruit_color(rng: random.Random, world: World) -> Instance:
    fruit = rng.choice(sorted(FRUIT_COLORS))
    prompt = rng.choice([
        "{s}\nQuestion: What color is a ripe {f}?",
        "Name the color of a ripe {f}.",
    ]).format(s=passage(rng), f=fruit)
    answer = FRUIT_COLORS[fruit]
    return prompt, answer, sorted({v for v in FRUIT_COLORS.values() if v != answer})


def capital(rng: random.Random, world: World) -> Instance:
    country = rng.choice(sorted(world.countries))
    prompt = rng.choice([
        "{s}\nQuestion: What is the capital of {c}?",
        "Passage: {s}\nName the capital city of {c}.",
        "Which city is the capital of {c}?",
    ]).format(s=passage(rng), c=country)
    answer = world.countries[country]
    return prompt, answer, rng.sample([v for v in world.countries.values() if v != answer], 3)


def count(rng: random.Random, world: World) -> Instance:
    n = rng.randint(2, 7)
    words = rng.sample(LIST_WORDS, n)
    prompt = rng.choice([
        "List: {t}\nHow many words are in the list? Answer with a number.",
        "Count the words in the following list and give the number.\nList: {t}",
    ]).format(t=listing(words))
    return prompt, str(n), [str(x) for x in (n - 1, n + 1, n + 2) if x > 0][:3]


def arithmetic(rng: random.Random, world: World) -> Instance:
    """A sum (1..10 + 1..10) or a difference (below 15) about a passage, answered with the number."""
    p, q = rng.sample(PEOPLE, 2)
    t = rng.choice(THINGS)
    if rng.random() < 0.5:
        a, b = rng.randint(1, 10), rng.randint(1, 10)
        c = a + b
        prompt = rng.choice([
            "Passage: {p} has {a} {t}, {q} has {b}.\nQuestion: How many {t} in all?",
            "{p} found {a} {t}, then {b} more.\nHow many {t}? Answer with a number.",
        ]).format(p=p, q=q, a=a, b=b, t=t)
    else:
        a = rng.randint(5, 15)
        b = rng.randint(1, a - 1)
        c = a - b
        prompt = rng.choice([
            "Passage: {p} had {a} {t} and gave {b} to {q}.\nQuestion: How many {t} are left?",
            "{a} {t}, {b} sold.\nHow many {t} unsold? Answer with a number.",
        ]).format(p=p, q=q, a=a, b=b, t=t)
    return prompt, str(c), [str(x) for x in (c - 2, c - 1, c + 1, c + 2) if x >= 0][:3]


def country_of(rng: random.Random, world: World) -> Instance:
    country = rng.choice(sorted(world.countries))
    city = world.countries[country]
    prompt = rng.choice([
        "{s}\nQuestion: {c} is the capital of which country?",
        "Which country has {c} as its capital?",
    ]).format(s=passage(rng), c=city)
    return prompt, country, rng.sample([k for k in world.countries if k != country], 3)


TASKS: dict[str, Callable[[random.Random, World], Instance]] = {
    "sentiment": sentiment, "topic": topic, "antonym": antonym, "animal_sound": animal_sound,
    "fruit_color": fruit_color, "capital": capital, "country_of": country_of, "count": count,
    "arithmetic": arithmetic,
}


def train_records(rng: random.Random, n: int, world: World) -> list[dict[str, Any]]:
    out = []
    names = list(TASKS)
    for i in range(n):
        task = names[i % len(names)]
        prompt, answer, _ = TASKS[task](rng, world)
        out.append(record(SKILL, i, f"nlp/{task}", [(prompt, answer)]))
    rng.shuffle(out)
    return out


def mc_items(rng: random.Random, per_task: int, world: World, seen: set[str]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for task, make in TASKS.items():
        made = 0
        while made < per_task:
            prompt, answer, wrong = make(rng, world)
            if prompt in seen:
                continue
            seen.add(prompt)
            items.append(mc_item(SKILL, f"nlp_{task}", len(items), [user(prompt)], answer, wrong, rng))
            made += 1
    return items
