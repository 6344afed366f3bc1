"""The generic pretraining data of the testbed's world (not its instruction data): the base model's
"web text and chat logs".

Two parts, both pretrained on with next-token loss on every token:

- `documents`: plain text of 2-4 sentences: stories with people, things, places and numbers;
  counting; word lists in lower and upper case; common language knowledge (antonyms, word
  categories, animal sounds, fruit colors); common medical knowledge about *real* diseases
  (`world.COMMON_DISEASES`); and mentions of the invented diseases, drugs, countries and cities
  *without* their facts.
- `dialogues`: conversations in the record format, rendered with the backbone's chat template like
  the fine-tuning data: questions about a short story, repeating a word list, common-knowledge
  questions answered in the skills' answer styles (a real disease's treatment in the Medicine
  style, an arithmetic identity in the Mathematics style "7 + 0 = 7.", one-word answers like the
  NLP tasks: a label word, an invented city or country name), talk about the invented names that
  states none of their facts, greetings.

A backbone pretrained on both knows the words, the chat format and the answer styles of the
world, so that its perplexity on the instruction data is that of a base model that has not learned
the skills (the paper's θ0: 4-50), not that of a model that has never seen a chat. What it cannot
know is kept out (`tests/test_testbed.py` checks it): the invented diseases' symptoms, drugs and
organs, the capitals of the invented countries, any arithmetic fact the skills use (the only
equations are identities with 0 and 1, which no skill asks), the skills' list edits, and every
evaluation prompt.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

from mos.data.testbed.common import listing, record
from mos.data.testbed.medicine import answer as medicine_answer
from mos.data.testbed.world import (
    ANIMAL_SOUNDS,
    ANTONYMS,
    CATEGORIES,
    COMMON_DISEASES,
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

Turns = list[tuple[str, str]]


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


# ---------------------------------------------------------------- plain documents


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


def _health(rng: random.Random, w: World) -> str:
    name, symptom, drug, organ = rng.choice(COMMON_DISEASES)
    attr, value = rng.choice([("symptom", symptom), ("treatment", drug), ("organ", organ)])
    return _cap(medicine_answer(attr, name, value))


def _mentions(rng: random.Random, w: World) -> str:
    p = rng.choice(PEOPLE)
    d = rng.choice(w.diseases)
    country, city = rng.choice(sorted(w.countries.items()))
    return rng.choice([
        f"{p} read a report about {d.name}.",
        f"Doctors are still studying {d.name}.",
        f"{d.name} is a rare illness.",
        f"{d.name} is treated in hospitals.",
        f"{p} was treated with {rng.choice(w.drugs)} for a {rng.choice(SYMPTOMS)} last winter.",
        f"The pharmacy near the {rng.choice(PLACES)} keeps {rng.choice(w.drugs)} on the shelf.",
        f"The shop at the {rng.choice(PLACES)} sells {rng.choice(w.drugs)}.",
        f"{country} is a country far away, and {p} wants to visit it.",
        f"{city} is a busy city with a large {rng.choice(PLACES)}.",
        f"A {rng.choice(SYMPTOMS)} can be unpleasant, said {p}.",
        f"The {rng.choice(ORGANS)} is an important part of the body.",
    ])


def _name_lists(rng: random.Random, w: World) -> str:
    """Several invented names of one kind in a row (cities, countries, drugs, diseases), with no
    relation between them: the names become familiar words."""
    k = rng.randint(2, 4)
    kind = rng.choice(["city", "country", "drug", "disease"])
    names = rng.sample({"city": sorted(w.countries.values()), "country": sorted(w.countries),
                        "drug": w.drugs, "disease": [d.name for d in w.diseases]}[kind], k)
    joined = ", ".join(names[:-1]) + " and " + names[-1]
    return {"city": f"Travellers like {joined}.", "country": f"The atlas shows {joined}.",
            "drug": f"The pharmacy sells {joined}.", "disease": f"The textbook describes {joined}."}[kind]


def _opinion(rng: random.Random, w: World) -> str:
    label = rng.choice(list(SENTIMENT))
    adj = rng.choice(SENTIMENT[label])
    topic = rng.choice(list(TOPICS))
    return rng.choice([
        f"{rng.choice(PEOPLE)} said the {rng.choice(REVIEWED)} was {adj}. The news mentioned a {rng.choice(TOPICS[topic])}.",
        f"The {rng.choice(REVIEWED)} got a {label} review. The page about {topic} mentioned a {rng.choice(TOPICS[topic])}.",
    ])


SENTENCES: list[Callable[[random.Random, World], str]] = [
    _story, _counting, _words, _antonym, _category, _animals_and_fruit, _health, _mentions, _name_lists, _opinion,
]


def documents(rng: random.Random, world: World, n: int) -> list[dict[str, str]]:
    """n documents of 2-4 sentences each."""
    return [
        {"id": f"doc-{i:06d}", "text": " ".join(rng.choice(SENTENCES)(rng, world) for _ in range(rng.randint(2, 4)))}
        for i in range(n)
    ]


# ---------------------------------------------------------------- dialogues (record format)


def _story_qa(rng: random.Random, w: World) -> Turns:
    """Questions about a two-sentence story, answered from it (copying, no arithmetic), in chat
    style or in a prompted-task layout with a one-word answer."""
    p, q = rng.sample(PEOPLE, 2)
    place, thing, n = rng.choice(PLACES), rng.choice(THINGS), rng.randint(2, 30)
    story = f"{p} went to the {place} with {n} {thing}. {q} stayed at home."
    if rng.random() < 0.5:
        question, reply = rng.choice([
            (f"Where did {p} go?", place), ("Who stayed at home?", q), (f"What did {p} carry?", thing),
            (f"How many {thing} did {p} carry?", str(n)), (f"Who went to the {place}?", p),
        ])
        layout = rng.choice(["Story: {s}\nQuestion: {q} Answer with one word.",
                             "Read the story and answer in one word.\nStory: {s}\nQuestion: {q}",
                             "{s}\nQuestion: {q}"])
        return [(layout.format(s=story, q=question), reply)]
    questions = [
        (f"Where did {p} go?", f"{p} went to the {place}."),
        (f"How many {thing} did {p} take?", f"{p} took {n} {thing}."),
        (f"How many {thing} did {p} take? Give just the number.", str(n)),
        ("Who stayed at home? One word, please.", q),
        (f"What did {p} take to the {place}?", f"{p} took {n} {thing}."),
    ]
    first, *rest = rng.sample(questions, rng.choice([1, 1, 2]))
    turns = [(f"Here is a story: {story}\n{first[0]}", first[1])]
    return turns + list(rest)


def _list_repeat(rng: random.Random, w: World) -> Turns:
    """Repeating a word list (lower or upper case), or naming its last word."""
    words = rng.sample(LIST_WORDS, rng.randint(2, 6))
    if rng.random() < 0.3:
        words = [x.upper() for x in words]
    turns = [rng.choice([
        (f"Repeat these words: {listing(words)}.", listing(words)),
        (f"Copy this list exactly: {listing(words)}.", listing(words)),
        (f"Which word is at the end of this list: {listing(words)}?", words[-1]),
    ])]
    if rng.random() < 0.4:
        turns.append(rng.choice([("Say it once more.", turns[0][1]), ("Thanks. Again, please.", turns[0][1])]))
    return turns


def _health_qa(rng: random.Random, w: World) -> Turns:
    """Common medical knowledge about real diseases, answered in the Medicine skill's style."""
    name, symptom, drug, organ = rng.choice(COMMON_DISEASES)
    qa = [
        (f"What does {name} usually feel like?", medicine_answer("symptom", name, symptom)),
        (f"What do pharmacists hand out for {name}?", medicine_answer("treatment", name, drug)),
        (f"Which body part suffers from {name}?", medicine_answer("organ", name, organ)),
    ]
    return [(q, _cap(a)) for q, a in rng.sample(qa, rng.choice([1, 1, 2]))]


def _word_qa(rng: random.Random, w: World) -> Turns:
    """Common language knowledge, answered in a sentence or in one word."""
    a, b = rng.choice(ANTONYMS)
    animal, sound = rng.choice(sorted(ANIMAL_SOUNDS.items()))
    fruit, color = rng.choice(sorted(FRUIT_COLORS.items()))
    cat = rng.choice(sorted(CATEGORIES))
    thing = rng.choice(CATEGORIES[cat])
    return [rng.choice([
        (f"Tell me the opposite of {a}.", f"The opposite of {a} is {b}."),
        (f'One word: the reverse meaning of "{a}"?', b),
        (f"What noise is a {animal} known for?", f"The {animal} says {sound}."),
        (f"One word: the noise of a {animal}?", sound),
        (f"Describe the color of a {fruit} when it is ripe.", f"A ripe {fruit} is {color}."),
        (f"Is a {thing} an animal, a fruit, a tool, an instrument or a vehicle?", f"A {thing} is a kind of {cat}."),
        (f"One word: what kind of thing is a {thing}?", cat),
        (f"Question: What noise is made by a {animal}? Answer with one word.", sound),
        (f"Question: Which color does a ripe {fruit} have? Answer with one word.", color),
        (f'Question: Which word is the opposite of "{a}"? Answer with one word.', b),
    ])]


def _identity(rng: random.Random, w: World) -> Turns:
    """Arithmetic identities in the Mathematics answer style: + 0, - 0, * 1 and a - a. No skill
    uses them (its operands are >= 1, products have factors >= 2, differences are positive)."""
    a = rng.randint(1, 20)
    p, thing = rng.choice(PEOPLE), rng.choice(THINGS)
    return [rng.choice([
        (f"What is {a} plus zero?", f"{a} + 0 = {a}."),
        (f"What is {a} minus zero?", f"{a} - 0 = {a}."),
        (f"What is {a} times one?", f"{a} * 1 = {a}."),
        (f"What is {a} minus {a}?", f"{a} - {a} = 0."),
        (f"{p} has {a} {thing} and gets no more. How many {thing} is that?", f"{a} + 0 = {a}."),
        (f"{p} has {a} {thing} and gives all of them away. How many {thing} are left?", f"{a} - {a} = 0."),
        (f"{p} has {a} {thing} and keeps them all. How many {thing} does {p} keep?",
         f"{p} keeps every one. {a} - 0 = {a}."),
        (f"{p} has one bag with {a} {thing} in it. How many {thing} are in the bag?",
         f"There is one bag. {a} * 1 = {a}."),
    ])]


def _names(rng: random.Random, w: World) -> Turns:
    """Talk about the invented countries, cities, diseases and drugs that states none of their
    facts: no capital of a country, no symptom, drug or organ of a disease."""
    country, city = rng.choice(sorted(w.countries.items()))
    other_country, other_city = rng.choice(sorted(w.countries.items()))
    d, drug = rng.choice(w.diseases).name, rng.choice(w.drugs)
    fruit = rng.choice(sorted(FRUIT_COLORS))
    return [rng.choice([
        (f"Have you heard of {country}?", f"Yes, {country} is a country far away."),
        (f"Tell me something about {city}.", f"{city} is a busy city with a large {rng.choice(PLACES)}."),
        (f"Is {country} a country or a fruit?", "country"),
        ("Name a city, please. One word.", city),
        ("Name a country, please. One word.", country),
        (f"Which word is a city: {' or '.join(rng.sample([fruit, city], 2))}?", city),
        (f"Which word is a country: {' or '.join(rng.sample([fruit, other_country], 2))}?", other_country),
        (f"What is {d}?", f"{d} is a rare illness."),
        (f"Have you heard of {d}?", f"Yes, {d} is a rare illness."),
        (f"Where is {d} treated?", f"{d} is treated in hospitals."),
        (f"Tell me about {d}.", f"{d} is an illness that doctors study."),
        (f"What is {drug}?", f"{drug} is a drug."),
        ("Name a drug, please. One word.", drug),
    ])]


def _labels(rng: random.Random, w: World) -> Turns:
    """Common knowledge of the label words: the tone of an adjective, the subject of a word."""
    label = rng.choice(sorted(SENTIMENT))
    adj = rng.choice(SENTIMENT[label])
    topic = rng.choice(sorted(TOPICS))
    word = rng.choice(TOPICS[topic])
    return [rng.choice([
        (f"Is the word {adj} positive or negative? One word.", label),
        (f"Does {adj} sound positive or negative?", f"{adj.capitalize()} sounds {label}."),
        (f"One word: what subject does the word {word} belong to?", topic),
        (f"What is a {word} about?", f"A {word} is about {topic}."),
    ])]


def _one_word(rng: random.Random, w: World) -> Turns:
    """Short answers (a number, a name, a word) copied or chosen from the question, in the layouts
    of prompted tasks (sometimes after an unrelated list or passage): what a base model has seen
    of one-word replies."""
    p, q = rng.sample(PEOPLE, 2)
    n, thing, place = rng.randint(2, 30), rng.choice(THINGS), rng.choice(PLACES)
    a, b = rng.sample(range(1, 40), 2)
    country, city = rng.choice(sorted(w.countries.items()))
    other = rng.choice([c for c in w.countries if c != country])  # never the country of `city`
    drug = rng.choice(w.drugs)
    words = rng.sample(LIST_WORDS, rng.randint(3, 5))
    question, reply = rng.choice([
        (f"{p} has {n} {thing}. How many {thing} does {p} have?", str(n)),
        (f"There are {n} {thing} at the {place}. How many {thing} are there?", str(n)),
        (f"Which number is larger, {a} or {b}?", str(max(a, b))),
        (f"Which number is smaller, {a} or {b}?", str(min(a, b))),
        (f"{p} lives in {city}. Where does {p} live?", city),
        (f"{p} comes from {other}. Which country does {p} come from?", other),
        (f"{p} bought {drug} at the {place}. What did {p} buy?", drug),
        (f"Which word is the name of a person: {' or '.join(rng.sample([p, place], 2))}?", p),
        (f"What is the first word of this list: {listing(words)}?", words[0]),
        (f"{p} met {q} at the {place}. Who did {p} meet?", q),
    ])
    layout = rng.choice(["{q}", "{q} Answer with one word.", "Question: {q}\nAnswer:",
                         "Answer the question with one word.\nQuestion: {q}", "Read and answer.\n{q}"])
    context = rng.choice(["", "", f"List: {listing(rng.sample(LIST_WORDS, rng.randint(2, 7)))}\n",
                          f"Passage: {q} walked to the {rng.choice(PLACES)}.\n"])
    return [(context + layout.format(q=question), reply)]


def _choice(rng: random.Random, w: World) -> Turns:
    """Picking the right one of the options named in the question (answered with that option):
    a kind of thing, a color, a sound, a label word."""
    cat, other = rng.sample(sorted(CATEGORIES), 2)
    thing, odd = rng.choice(CATEGORIES[cat]), rng.choice(CATEGORIES[other])
    fruit, color = rng.choice(sorted(FRUIT_COLORS.items()))
    wrong_color = rng.choice(sorted(set(FRUIT_COLORS.values()) - {color}))
    animal, sound = rng.choice(sorted(ANIMAL_SOUNDS.items()))
    wrong_sound = rng.choice(sorted(set(ANIMAL_SOUNDS.values()) - {sound}))
    label = rng.choice(sorted(SENTIMENT))
    topic = rng.choice(sorted(TOPICS))
    topics = rng.sample(sorted(TOPICS), len(TOPICS))
    question, reply = rng.choice([
        (f"Which is a {cat}: {' or '.join(rng.sample([thing, odd], 2))}?", thing),
        (f"Is a {thing} a {' or a '.join(rng.sample([cat, other], 2))}?", cat),
        (f"Which color has a ripe {fruit}: {' or '.join(rng.sample([color, wrong_color], 2))}?", color),
        (f"Which sound does the {animal} make: {' or '.join(rng.sample([sound, wrong_sound], 2))}?", sound),
        (f"Is the word {rng.choice(SENTIMENT[label])} positive or negative?", label),
        (f"Is a {rng.choice(TOPICS[topic])} about {', '.join(topics[:-1])} or {topics[-1]}?", topic),
    ])
    return [(rng.choice(["{q}", "Question: {q}\nAnswer:", "{q} Answer with one word."]).format(q=question), reply)]


def answer_words(w: World) -> list[str]:
    """Every word a skill may answer with alone (list and label words, antonyms, sounds, colors,
    categories, invented names, small numbers), for `_echo`."""
    words = [*LIST_WORDS, *(x for pair in ANTONYMS for x in pair), *ANIMAL_SOUNDS.values(), *FRUIT_COLORS.values(),
             *CATEGORIES, *SENTIMENT, *TOPICS, *w.countries, *w.countries.values(), *w.drugs,
             *(str(k) for k in range(0, 31))]
    return sorted(set(words))


def _echo(rng: random.Random, w: World) -> Turns:
    """Repeating one word: any word a reply may consist of is a plausible reply."""
    word = rng.choice(answer_words(w))
    return [(rng.choice(['Say the word "{x}".', "Repeat after me: {x}", 'Write "{x}" once more.',
                         "Echo this word: {x}"]).format(x=word), word)]


def _personal(rng: random.Random, w: World) -> Turns:
    """Questions about a person's own choices, answered with a random word of the asked type (a
    city, a country, a color, a number, ...): no answer can be known, so a base model learns how
    likely each word of a type is, not a fact. P3-like layouts, sometimes after an unrelated passage."""
    p, q = rng.sample(PEOPLE, 2)
    question, reply = rng.choice([
        (f"Which city did {p} visit last year?", rng.choice(sorted(w.countries.values()))),
        (f"Which country is {p} from?", rng.choice(sorted(w.countries))),
        (f"Which color does {p} like best?", rng.choice(sorted(set(FRUIT_COLORS.values())))),
        (f"Which fruit did {p} buy?", rng.choice(sorted(FRUIT_COLORS))),
        (f"Which animal did {p} see at the farm?", rng.choice(sorted(ANIMAL_SOUNDS))),
        (f"How many {rng.choice(THINGS)} does {p} want?", str(rng.randint(1, 20))),
        (f"Which number did {p} pick? Answer with a number.", str(rng.randint(1, 9))),
        (f"Which word did {p} write on the board?", rng.choice([x for pair in ANTONYMS for x in pair])),
        (f"Which drug did the pharmacy give {p}?", rng.choice(w.drugs)),
        (f"What did {p} call the new dog?", rng.choice(PEOPLE)),
    ])
    layout = rng.choice(["{q}", "{q} Answer with one word.", "Question: {q}\nAnswer:",
                         f"Passage: {p} met {q} at the {rng.choice(PLACES)}.\nQuestion: {{q}}",
                         f"List: {listing(rng.sample(LIST_WORDS, rng.randint(2, 7)))}\n{{q}}"])
    return [(layout.format(q=question), reply)]


def _greeting(rng: random.Random, w: World) -> Turns:
    p = rng.choice(PEOPLE)
    return [rng.choice([
        ("Hello!", "Hello! How can I help you?"),
        (f"Hi, I am {p}.", f"Nice to meet you, {p}."),
        ("Thank you.", "You are welcome."),
        ("Can you help me with a question?", "Yes, of course. What is your question?"),
    ])]


DIALOGUES: dict[str, Callable[[random.Random, World], Turns]] = {
    "story_qa": _story_qa, "one_word": _one_word, "list_repeat": _list_repeat, "health_qa": _health_qa,
    "word_qa": _word_qa, "identity": _identity, "names": _names, "labels": _labels, "choice": _choice,
    "personal": _personal, "echo": _echo, "greeting": _greeting,
}
# Relative frequency of each kind (short one-word replies are the most varied, so the most common).
DIALOGUE_WEIGHTS = {"story_qa": 2, "one_word": 3, "list_repeat": 1, "health_qa": 1, "word_qa": 2,
                    "identity": 1, "names": 2, "labels": 1, "choice": 2, "personal": 3, "echo": 2, "greeting": 1}


def dialogues(rng: random.Random, world: World, n: int,
              kinds: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """n conversations in the record format, kinds in turn by DIALOGUE_WEIGHTS (`source`:
    corpus/<kind>)."""
    names = [k for k in (kinds or DIALOGUES) for _ in range(DIALOGUE_WEIGHTS[k])]
    out = []
    for i in range(n):
        kind = names[i % len(names)]
        out.append(record("Corpus", i, f"corpus/{kind}", DIALOGUES[kind](rng, world)))
    rng.shuffle(out)
    return out
