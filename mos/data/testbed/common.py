"""Small helpers shared by the skill generators: records, multiple-choice items, sizes."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

# Paper Table 1: examples per skill dataset after the authors' 10% sampling.
PAPER_SIZES = {"Mathematics": 26_200, "Medicine": 5_200, "General": 9_300, "NLP": 62_600}
SKILLS = tuple(PAPER_SIZES)
# The paper's MMLU grouping (Table 7): skills map onto the groups Mathematics / Medicine / Others.
SKILL_GROUP = {"Mathematics": "Mathematics", "Medicine": "Medicine", "General": "Others", "NLP": "Others"}


def skill_sizes(scale: float) -> dict[str, int]:
    """Examples per skill: the paper's counts times `scale` (0.1 -> 2620 / 520 / 930 / 6260)."""
    return {k: max(1, round(n * scale)) for k, n in PAPER_SIZES.items()}


def record(skill: str, index: int, source: str, turns: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """A training record in the shared format from (user, assistant) pairs."""
    conversations = []
    for user, assistant in turns:
        conversations += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    return {"id": f"{skill}-{index:06d}", "conversations": conversations, "source": source}


def mc_item(skill: str, subject: str, index: int, messages: list[dict[str, str]], correct: str,
            distractors: Sequence[str], rng: random.Random) -> dict[str, Any]:
    """A multiple-choice item: the correct answer among distinct distractors, in random order."""
    options = [correct] + [d for d in dict.fromkeys(distractors) if d != correct]
    if len(options) < 2:
        raise ValueError(f"{subject}: need at least one distractor for {correct!r}")
    order = list(range(len(options)))
    rng.shuffle(order)
    choices = [options[i] for i in order]
    return {"id": f"{skill}-mc-{index:05d}", "skill": skill, "subject": subject,
            "group": SKILL_GROUP[skill], "messages": messages, "choices": choices,
            "answer": choices.index(correct)}


def user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def assistant(text: str) -> dict[str, str]:
    return {"role": "assistant", "content": text}


def listing(words: Sequence[str]) -> str:
    return ", ".join(words)
