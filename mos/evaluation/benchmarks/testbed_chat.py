"""testbed_chat: the testbed's two-turn prompts (the MT-Bench analogue; `eval/chat.jsonl`: id,
category, turns, references), answered turn by turn and graded by `mos judge` (the reference judge
can grade them: every question has exact references).
"""

from __future__ import annotations

from dataclasses import dataclass

from mos.evaluation.benchmarks.base import TwoTurnChat


@dataclass
class TestbedChat(TwoTurnChat):
    """The testbed's two-turn prompts, judged."""

    name = "testbed_chat"
    path = "{testbed}/eval/chat.jsonl"
    references = True
