"""gsm8k: lm-eval's own GSM8K task, 5-shot as the paper's Table 5, over the hub dataset openai/gsm8k
or a local JSONL copy with its columns (question, answer with "#### n"). Reports `exact_match`
(strict "#### n" answers) and `exact_match_flexible` (the last number); one subject, "all".
"""

from __future__ import annotations

from dataclasses import dataclass

from mos.evaluation.benchmarks.base import Builtin
from mos.evaluation.builtin_tasks import HUB_DATASETS


@dataclass
class GSM8K(Builtin):
    """Grade-school math word problems, lm-eval's gsm8k task, 5-shot."""

    name = "gsm8k"
    path = "{eval[gsm8k]}"
    hub = HUB_DATASETS["gsm8k"]
    hub_config = "main"
    metrics = ("exact_match", "exact_match_flexible")
    columns = ("question", "answer")
