"""mmlu: full MMLU through lm-eval's built-in `mmlu_<subject>` tasks, zero-shot, acc per subject and
paper Table 7 group. It reads the hub dataset cais/mmlu (or its local Hugging Face cache); offline
it stops with a message pointing to `mmlu_dev`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mos.evaluation.benchmarks.base import Benchmark, Samples, SpecError, check_hub
from mos.evaluation.mmlu_dev import subject_groups

MMLU_HUB_DATASET = "cais/mmlu"


def mmlu_task_names() -> dict[str, str]:
    """lm-eval's built-in task name -> MMLU subject, for the 57 subjects of paper Table 7."""
    return {f"mmlu_{subject}": subject for subject in subject_groups()}


def check_mmlu_hub(dataset: str) -> None:
    """Fail early, with a clear message, when the MMLU hub dataset cannot be loaded."""
    if dataset != MMLU_HUB_DATASET:
        raise SpecError(f"benchmarks.mmlu: lm-eval's built-in MMLU tasks read {MMLU_HUB_DATASET!r}; "
                        f"got {dataset!r}")
    check_hub("mmlu", MMLU_HUB_DATASET, next(iter(subject_groups())),
              "use the mmlu_dev benchmark (MMLU dev questions shipped with lm-eval) instead.")


@dataclass
class MMLU(Benchmark):
    """Full MMLU, zero-shot, through lm-eval's own tasks (needs the hub)."""

    name = "mmlu"
    path = MMLU_HUB_DATASET
    hub = MMLU_HUB_DATASET
    metrics = ("acc",)
    scopes = ("group",)

    def load(self, data: str) -> None:
        check_mmlu_hub(data)

    def tasks(self, loaded: Any, tokenizer: Any, folder: Path, cache_dir: Path) -> list[Any]:
        return list(mmlu_task_names())

    def items(self, samples: Samples) -> list[dict[str, Any]]:
        groups = subject_groups()
        return [{"item": f"{subject}:{s['doc_id']}", "subject": subject, "group": groups[subject],
                 **{m: s[m] for m in self.metrics}}
                for task, subject in mmlu_task_names().items() for s in samples[task]]
