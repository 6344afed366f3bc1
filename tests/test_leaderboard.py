"""The leaderboard (analysis/leaderboard.py) on constructed runs: Δ against the declared baseline
by hand, ranks, verdicts only beyond the interval, the field's methods marked, the step-time ratio.

    pytest tests/test_leaderboard.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import leaderboard

SEEDS = range(6)


def write_experiment(exp: Path, shifts: dict[str, float], noise: float = 0.5) -> None:
    """One backbone, MC accuracy only: per mixture a fixed shift of µMU plus seed noise (fixed numbers)."""
    (exp / "summary").mkdir(parents=True)
    rng = np.random.default_rng(0)
    runs, metrics = [], []
    strategy = {"proportional": "temperature", "uniform": "temperature", "odm": "odm", "doremi": "doremi"}
    for mixture, shift in shifts.items():
        for s in SEEDS:
            runs.append({"backbone": "b", "mixture": mixture, "seed": s, "strategy": strategy[mixture],
                         "params": "{}", "paper_backbone": "B", "paper_method": mixture, "steps": 100,
                         "examples": 1600, "extra_examples": 1600 if mixture == "doremi" else 0,
                         "train_seconds": 10.0 * (1.5 if mixture == "doremi" else 1.0), "tokens_per_second": 1,
                         "git_commit": "x"})
            value = 0.5 + (shift + rng.normal(0, noise)) / 100
            for scope, name in (("overall", "all"), ("group", "Mathematics")):  # a group row marks an MMLU-like MC
                metrics.append({"backbone": "b", "mixture": mixture, "seed": s, "benchmark": "testbed_mc",
                                "scope": scope, "name": name, "metric": "acc", "value": value, "n_items": 100})
    pd.DataFrame(runs).to_csv(exp / "summary" / "runs.csv", index=False)
    pd.DataFrame(metrics).to_csv(exp / "summary" / "metrics.csv", index=False)
    (exp / "summary" / "claims.json").write_text(json.dumps({"baseline": "proportional", "list": []}))


def test_differences_ranks_and_verdicts(tmp_path):
    exp = tmp_path / "exp"
    write_experiment(exp, {"proportional": 0.0, "uniform": 10.0, "odm": 0.2, "doremi": -10.0})
    table, headline = leaderboard.build(exp)
    assert headline == "µMU"
    rows = table.set_index("mixture")
    metrics = pd.read_csv(exp / "summary" / "metrics.csv")
    means = metrics[metrics["scope"] == "overall"].groupby("mixture")["value"].mean() * 100
    assert rows.loc["uniform", "delta"] == pytest.approx(means["uniform"] - means["proportional"], abs=1e-9)
    assert list(table["mixture"]) == ["uniform", "odm", "proportional", "doremi"] or \
        list(table["mixture"]) == ["uniform", "proportional", "odm", "doremi"]
    assert rows.loc["uniform", "verdict"] == "better" and rows.loc["doremi", "verdict"] == "worse"
    assert rows.loc["odm", "verdict"].startswith("inconclusive (MDE = ")  # +0.2 inside the noise
    assert rows.loc["proportional", "verdict"] == "baseline" and rows.loc["uniform", "rank"] == 1
    assert bool(rows.loc["odm", "beyond_paper"]) and not bool(rows.loc["uniform", "beyond_paper"])
    assert rows.loc["doremi", "step_time_ratio"] == pytest.approx(1.5)
    assert rows.loc["doremi", "extra_examples"] == 1600


def test_writes_tables_and_figure(tmp_path):
    exp = tmp_path / "exp"
    write_experiment(exp, {"proportional": 0.0, "uniform": 1.0, "odm": 0.0, "doremi": 0.0})
    paths = leaderboard.write_all(exp)
    assert {p.name for p in paths} == {"leaderboard.md", "leaderboard.csv", "leaderboard.tex", "leaderboard.png",
                                       "leaderboard.pdf"}
    md = (exp / "tables" / "leaderboard.md").read_text()
    assert "odm †" in md and "ref." in md
