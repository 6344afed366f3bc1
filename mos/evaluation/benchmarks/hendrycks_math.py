"""math: lm-eval's own MATH tasks (`hendrycks_math`, Hendrycks et al.'s seven subjects), `math_fewshot`
shots (default 5, as the paper's Table 5), over the hub dataset EleutherAI/hendrycks_math or a local
JSONL copy with its columns (problem, solution with \\boxed{}, type). Reports `exact_match` per
subject and overall over all problems (as lm-eval weights subjects by size), not as a mean of subjects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mos.evaluation.benchmarks.base import Builtin, option
from mos.evaluation.builtin_tasks import HUB_DATASETS


@dataclass
class MATH(Builtin):
    """Competition mathematics (MATH), lm-eval's hendrycks_math tasks."""

    name = "math"
    path = "{eval[math]}"
    hub = HUB_DATASETS["math"]
    hub_config = "algebra"
    metrics = ("exact_match",)
    columns = ("problem", "solution", "type")
    fewshot: int = option(5, least=0)

    def subject(self, task: str) -> str:
        return task.removeprefix("hendrycks_math_")

    def rows(self, items: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        rows = super().rows(items)
        for row in rows:  # MATH's accuracy is over all problems
            if row["scope"] == "overall":
                row["value"] = sum(i[row["metric"]] for i in items) / len(items)
        return rows
