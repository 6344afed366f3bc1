"""From a run's answers to grading tasks, and from graded answers to the tidy metric rows (µMB).

    tasks = grading_tasks(questions, read_answers(path), path)        # one task per question and turn
    rows = chat_metric_rows("mt_bench", [Graded(t, js) for t, js in zip(tasks, judge.grade(tasks))])

Shared by `mos judge grade` (`mos.evaluation.judge`) and the judge-sensitivity report
(`mos.evaluation.sensitivity`), so both compute a run's µMB the same way: per benchmark
`overall/all/score` (µMB = the mean of the turn means, as the paper's (Turn 1 + Turn 2) / 2),
`turn/turn1|turn2/score`, `category/<c>/score`, and `overall/all/spread` and
`overall/all/unparseable` (fraction of replies without a rating).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mos.data.records import DataError
from mos.evaluation.chat_bench import Question
from mos.evaluation.judges.base import Graded, GradingTask


def grading_tasks(questions: Sequence[Question], answers: Mapping[str, list[str]], source: Path) -> list[GradingTask]:
    tasks = []
    for q in questions:
        turns = answers.get(q.question_id)
        if turns is None or len(turns) < len(q.turns):
            raise DataError(f"{source}: no complete answer to question {q.question_id}")
        for t in range(1, len(q.turns) + 1):
            tasks.append(GradingTask(q.question_id, q.category, t, q.turns[:t], tuple(turns[:t]), q.references))
    return tasks


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def chat_metric_rows(benchmark: str, graded: Sequence[Graded]) -> list[dict[str, Any]]:
    """The tidy metric rows of one run's graded answers (see the module docstring)."""
    scored = [g for g in graded if g.score is not None]
    by_turn: dict[int, list[float]] = {}
    by_category: dict[str, list[float]] = {}
    for g in scored:
        by_turn.setdefault(g.task.turn, []).append(g.score)
        by_category.setdefault(g.task.category, []).append(g.score)
    turn_means = {t: _mean(v) for t, v in sorted(by_turn.items())}
    rows = [{"benchmark": benchmark, "scope": "overall", "name": "all", "metric": "score",
             "value": _mean(list(turn_means.values())), "n_items": len(scored)}]
    rows += [{"benchmark": benchmark, "scope": "turn", "name": f"turn{t}", "metric": "score", "value": m,
              "n_items": len(by_turn[t])} for t, m in turn_means.items()]
    rows += [{"benchmark": benchmark, "scope": "category", "name": c, "metric": "score", "value": _mean(v),
              "n_items": len(v)} for c, v in by_category.items()]
    n_judgments = sum(len(g.judgments) for g in graded)
    rows.append({"benchmark": benchmark, "scope": "overall", "name": "all", "metric": "spread",
                 "value": _mean([g.spread for g in scored]), "n_items": len(scored)})
    rows.append({"benchmark": benchmark, "scope": "overall", "name": "all", "metric": "unparseable",
                 "value": sum(g.unparseable for g in graded) / max(1, n_judgments), "n_items": n_judgments})
    return rows
