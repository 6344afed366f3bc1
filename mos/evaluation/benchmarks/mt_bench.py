"""mt_bench: the 80 MT-Bench questions (`python -m mos mt-bench-data`, with GPT-4's reference answers
for math, reasoning and coding), answered in two turns (turn 2 sees the model's own turn-1 answer)
and graded by an LLM judge (`mos judge`).

Answers are sampled per category at FastChat's temperatures: writing and roleplay 0.7, extraction,
math, coding and reasoning 0 (greedy), stem and humanities 0.1, any other category 0.7 — the table
`temperature_config` in FastChat's fastchat/llm_judge/common.py, applied per question by
fastchat/llm_judge/gen_model_answer.py (lm-sys/FastChat at 0e6d3e4, 2025-04-12; it samples below
1e-4 greedily). Sampling is seeded per run, turn and temperature (`mos.evaluation.chat_bench.sampling_seed`),
so a rerun writes the same answers; each answer records its temperature and seeds. One difference
remains: FastChat leaves transformers' default top-k (50) in place, ours samples from the whole
distribution (top_k 0, top_p 1).
"""

from __future__ import annotations

from dataclasses import dataclass

from mos.evaluation.benchmarks.base import TwoTurnChat

# fastchat/llm_judge/common.py `temperature_config` (the MT-Bench categories)
FASTCHAT_TEMPERATURES = {"writing": 0.7, "roleplay": 0.7, "extraction": 0.0, "math": 0.0, "coding": 0.0,
                         "reasoning": 0.0, "stem": 0.1, "humanities": 0.1}


@dataclass
class MTBench(TwoTurnChat):
    """MT-Bench's 80 two-turn questions, sampled per category as FastChat does, judged by an LLM."""

    name = "mt_bench"
    path = "resources/mt_bench/question.jsonl"  # shared by every experiment (rule mt_bench_data)
    temperatures = FASTCHAT_TEMPERATURES
    default_temperature = 0.7  # gen_model_answer.py: a category not in the table
