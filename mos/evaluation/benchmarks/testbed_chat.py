"""testbed_chat: the testbed's two-turn prompts (the MT-Bench analogue; `eval/chat.jsonl`: id,
category, turns, references), answered turn by turn and graded by `mos judge` (the reference judge
can grade them: every question has exact references).

Answers are greedy (`eval.generation.temperature`, 0 by default), unlike MT-Bench's per-category
sampling: every testbed question has one exact reference answer, which the reference judge scores,
so sampling would only add noise within a model to the comparisons between mixtures — whose
variation the design measures over θ0s and seeds — and greedy answers keep reruns, the judgment
cache and the committed snapshots identical bit for bit. Its categories are not FastChat's either.
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
