"""Per-item scores -> the tidy rows of `eval/metrics.csv` (docs/interfaces.md, "Run outputs").

Scores are first averaged per subject; every coarser scope (group, skill, overall) is the
unweighted mean of its subjects' accuracies, as the paper's µMU is over MMLU subjects. `n_items`
counts the items behind each row. A subject must belong to one group (and one skill) only.

    rows = metric_rows("mmlu_dev", scored_items, metrics=["acc"], scopes=("group",))
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

COLUMNS = ("benchmark", "scope", "name", "metric", "value", "n_items")
# Per-item scores beside the metrics (eval/items.csv: one row per item and metric; the judge adds
# eval/judge_items.csv, one row per question and turn), for item-level analysis.
ITEM_COLUMNS = ("benchmark", "item", "subject", "turn", "metric", "value")


def macro_average(values: Iterable[float]) -> float:
    """Unweighted mean; an empty input is an error (a scope with no subject has no score)."""
    values = list(values)
    if not values:
        raise ValueError("macro average of no values")
    return sum(values) / len(values)


def subject_means(items: Sequence[Mapping[str, Any]], metric: str) -> dict[str, tuple[float, int]]:
    """subject -> (mean of `metric` over its items, number of items), in first-seen order."""
    sums: dict[str, list[float]] = {}
    for item in items:
        sums.setdefault(str(item["subject"]), []).append(float(item[metric]))
    return {s: (sum(v) / len(v), len(v)) for s, v in sums.items()}


def subject_labels(items: Sequence[Mapping[str, Any]], key: str) -> dict[str, str]:
    """subject -> its `key` label (group or skill); a subject with two labels is an error."""
    labels: dict[str, str] = {}
    for item in items:
        subject, label = str(item["subject"]), str(item[key])
        if labels.setdefault(subject, label) != label:
            raise ValueError(f"subject {subject!r} has two {key}s: {labels[subject]!r} and {label!r}")
    return labels


def scope_rows(benchmark: str, scope: str, metric: str, means: Mapping[str, tuple[float, int]],
               labels: Mapping[str, str]) -> list[dict[str, Any]]:
    """One row per label: the macro-average over the subjects carrying that label."""
    members: dict[str, list[str]] = {}
    for subject in means:
        members.setdefault(labels[subject], []).append(subject)
    return [
        {"benchmark": benchmark, "scope": scope, "name": label, "metric": metric,
         "value": macro_average(means[s][0] for s in subjects), "n_items": sum(means[s][1] for s in subjects)}
        for label, subjects in members.items()
    ]


def metric_rows(benchmark: str, items: Sequence[Mapping[str, Any]], metrics: Sequence[str],
                scopes: Sequence[str] = ("group",)) -> list[dict[str, Any]]:
    """Rows overall, then per scope in `scopes` (item keys such as group or skill), then per subject."""
    if not items:
        raise ValueError(f"{benchmark}: no scored items")
    rows: list[dict[str, Any]] = []
    for metric in metrics:
        means = subject_means(items, metric)
        rows.append({"benchmark": benchmark, "scope": "overall", "name": "all", "metric": metric,
                     "value": macro_average(m for m, _ in means.values()), "n_items": len(items)})
        for scope in scopes:
            rows += scope_rows(benchmark, scope, metric, means, subject_labels(items, scope))
        rows += [{"benchmark": benchmark, "scope": "subject", "name": s, "metric": metric, "value": m, "n_items": n}
                 for s, (m, n) in means.items()]
    return rows
