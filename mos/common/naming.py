"""Names a user typed, checked against the names that exist: the one "did you mean" of every error
message (config keys, strategies, benchmarks, commands).

    raise ValueError(f"unknown strategy {name!r}.{did_you_mean(name, known)} Available: ...")
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any


def did_you_mean(word: Any, choices: Iterable[str], cutoff: float = 0.6) -> str:
    """` Did you mean 'x'?` for the closest of `choices` to `word`, or "" when none is close (or `word` is
    not a string)."""
    if not isinstance(word, str):
        return ""
    guess = difflib.get_close_matches(word, [str(c) for c in choices], n=1, cutoff=cutoff)
    return f" Did you mean {guess[0]!r}?" if guess else ""
