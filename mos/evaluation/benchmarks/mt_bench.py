"""mt_bench: the 80 MT-Bench questions (`python -m mos mt-bench-data`, with GPT-4's reference answers
for math, reasoning and coding), answered in two turns (turn 2 sees the model's own turn-1 answer)
and graded by an LLM judge (`mos judge`).
"""

from __future__ import annotations

from dataclasses import dataclass

from mos.evaluation.benchmarks.base import TwoTurnChat


@dataclass
class MTBench(TwoTurnChat):
    """MT-Bench's 80 two-turn questions, judged by an LLM."""

    name = "mt_bench"
    path = "resources/mt_bench/question.jsonl"  # shared by every experiment (rule mt_bench_data)
