"""General skill (the ShareGPT stand-in): multi-turn editing of word lists, with some arithmetic.

A conversation has one to three exchanges: an edit of a short word list (reverse, capitalise,
drop the first word, keep the first two, append a word), then follow-ups that edit the previous
answer (reverse it, lowercase it, drop its last word, put a word in front). Follow-ups only make
sense with the earlier turns in context, like the multi-turn chats of ShareGPT.

Shared sub-skill (designed transfer): in a share of the training conversations with follow-ups
(`ARITHMETIC_SHARE`) the last follow-up is a question about the number of words in the answer before
it ("And with 4 more words?"), answered in the Mathematics skill's equation style ("3 + 4 = 7."),
one or two steps. It replaces a list follow-up, so conversations keep their length. The
multiple-choice items test the list edits only.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from mos.data.testbed.common import assistant, listing, mc_item, record, user
from mos.data.testbed.world import LIST_WORDS

SKILL = "General"
Edit = Callable[[list[str], str], list[str]]

FIRST: dict[str, tuple[list[str], Edit]] = {
    "reverse": (["Reverse the order of these words: {l}.", "Write these words backwards: {l}."],
                lambda ws, w: ws[::-1]),
    "uppercase": (["Write these words in capital letters: {l}.", "Put these words in upper case: {l}."],
                  lambda ws, w: [x.upper() for x in ws]),
    "drop_first": (["Remove the first word: {l}.", "Drop the first word of this list: {l}."],
                   lambda ws, w: ws[1:]),
    "first_two": (["Keep only the first two words: {l}.", "Give me just the first two words: {l}."],
                  lambda ws, w: ws[:2]),
    "append": (["Add {w} at the end of this list: {l}.", "Put {w} after the last word: {l}."],
               lambda ws, w: [*ws, w]),
}
FOLLOW_UP: dict[str, tuple[list[str], Edit]] = {
    "then_reverse": (["Now reverse that.", "Now write that in reverse order."], lambda ws, w: ws[::-1]),
    "then_lowercase": (["Now write that in lowercase.", "Now make all of it lowercase."],
                       lambda ws, w: [x.lower() for x in ws]),
    "then_drop_last": (["Now remove the last word.", "Now drop the last word."], lambda ws, w: ws[:-1]),
    "then_prepend": (["Now add {w} at the beginning.", "Now put {w} in front."], lambda ws, w: [w, *ws]),
}


# Follow-up questions about the number of words n in the previous answer; {k}, {m} are filled in.
ARITHMETIC_SHARE = 0.35
ARITHMETIC = {
    "then_add": ["How many words with {k} more?", "And {k} words more?"],
    "then_remove": ["How many words with {k} fewer?", "And {k} words fewer?"],
    "then_times": ["And {k} times as many words?"],
    "then_add_remove": ["And {k} words more, then {m} fewer?"],
}


def arithmetic_turn(rng: random.Random, n: int) -> tuple[str, str, str]:
    """(op, question, equation answer) about a list of n >= 1 words, operands within the
    Mathematics skill's default ranges (sums of 1..10, products of 2..5)."""
    ops = ["then_add", "then_times", "then_add_remove"] + (["then_remove"] if n >= 2 else [])
    op = rng.choice(ops)
    text = rng.choice(ARITHMETIC[op])
    if op == "then_add":
        k = rng.randint(1, 10)
        return op, text.format(k=k), f"{n} + {k} = {n + k}."
    if op == "then_remove":
        k = rng.randint(1, n - 1)
        return op, text.format(k=k), f"{n} - {k} = {n - k}."
    if op == "then_times":
        k = rng.randint(2, 5)
        return op, text.format(k=k), f"{n} * {k} = {n * k}."
    k = rng.randint(1, 10)
    m = rng.randint(1, n + k - 1)
    return op, text.format(k=k, m=m), f"{n} + {k} = {n + k}. {n + k} - {m} = {n + k - m}."


def _word_list(rng: random.Random) -> list[str]:
    return rng.sample(LIST_WORDS, rng.randint(3, 5))


def _turn(rng: random.Random, table: dict, op: str, words: list[str]) -> tuple[str, list[str], str]:
    templates, edit = table[op]
    extra = rng.choice([x for x in LIST_WORDS if x not in words])
    text = rng.choice(templates).format(l=listing(words), w=extra)
    return text, edit(words, extra), extra


def conversation(rng: random.Random, n_followups: int) -> list[tuple[str, str, str]]:
    """[(op, user text, answer text)] with one first edit and n follow-ups."""
    words = _word_list(rng)
    op = rng.choice(list(FIRST))
    text, words, _ = _turn(rng, FIRST, op, words)
    turns = [(op, text, listing(words))]
    for _ in range(n_followups):
        ops = [o for o in FOLLOW_UP if not (o == "then_drop_last" and len(words) < 2)]
        op = rng.choice(ops)
        text, words, _ = _turn(rng, FOLLOW_UP, op, words)
        turns.append((op, text, listing(words)))
    return turns


def train_records(rng: random.Random, n: int) -> list[dict[str, Any]]:
    """n conversations; in ARITHMETIC_SHARE of those with follow-ups the last follow-up is an
    arithmetic question instead (source general/<first edit>+arithmetic)."""
    out = []
    for i in range(n):
        n_followups = rng.choice([0, 1, 1, 2])
        arithmetic = n_followups > 0 and rng.random() < ARITHMETIC_SHARE
        turns = conversation(rng, n_followups - arithmetic)
        source = f"general/{turns[0][0]}"
        if arithmetic:
            turns.append(arithmetic_turn(rng, len(turns[-1][2].split(", "))))
            source += "+arithmetic"
        out.append(record(SKILL, i, source, [(u, a) for _, u, a in turns]))
    return out


def _alternatives(table: dict, words: list[str], extra: str, exclude: str) -> list[str]:
    return [listing(edit(words, extra)) for op, (_, edit) in table.items() if op != exclude]


def mc_items(rng: random.Random, n: int, seen: set[str]) -> list[dict[str, Any]]:
    """Half first-turn items, half follow-ups with the gold first exchange in context."""
    items: list[dict[str, Any]] = []
    while len(items) < n:
        words = _word_list(rng)
        op = rng.choice(list(FIRST))
        text, edited, extra = _turn(rng, FIRST, op, words)
        if text in seen:
            continue
        seen.add(text)
        if len(items) % 2 == 0:
            items.append(mc_item(SKILL, f"general_{op}", len(items), [user(text)], listing(edited),
                                 _alternatives(FIRST, words, extra, op), rng))
            continue
        op2 = rng.choice([o for o in FOLLOW_UP if not (o == "then_drop_last" and len(edited) < 2)])
        text2, edited2, extra2 = _turn(rng, FOLLOW_UP, op2, edited)
        messages = [user(text), assistant(listing(edited)), user(text2)]
        items.append(mc_item(SKILL, f"general_{op2}", len(items), messages, listing(edited2),
                             _alternatives(FOLLOW_UP, edited, extra2, op2), rng))
    return items
