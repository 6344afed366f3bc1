"""The leaderboard (analysis/leaderboard.py) on constructed runs: Δ against the declared baseline
by hand, ranks, verdicts only beyond the interval, the field's methods marked, the largest weight
movement and the no-op rows (not ranked), the cost from the controlled benchmark.

    pytest tests/test_leaderboard.py
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import leaderboard

SEEDS = range(6)


def write_experiment(exp: Path, shifts: dict[str, float], noise: float = 0.5, moves: dict | None = None) -> None:
    """One backbone, MC accuracy only: per mixture a fixed shift of µMU plus seed noise (fixed numbers)."""
    (exp / "summary").mkdir(parents=True)
    rng = np.random.default_rng(0)
    runs, metrics = [], []
    strategy = {"proportional": "temperature", "uniform": "temperature", "odm": "odm", "doremi": "doremi",
                "aioli": "aioli"}
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
    pd.DataFrame(trajectory_rows(shifts, MOVES if moves is None else moves)).to_csv(
        exp / "summary" / "trajectory.csv", index=False)
    pd.DataFrame(metrics).to_csv(exp / "summary" / "metrics.csv", index=False)
    (exp / "summary" / "claims.json").write_text(json.dumps({"baseline": "proportional", "list": []}))


MOVES = {"odm": 0.02, "doremi": 0.1, "aioli": 0.03}  # the largest |w - w0| each dynamic mixture reaches


def trajectory_rows(shifts, moves):
    """Weights over four datasets: static rows at their prior; a dynamic row moves Mathematics by up to
    MOVES[m] (seed 1 half as far); Aioli's bursts (0.75 on one dataset, no smoothed reward) in between."""
    rows = []
    names = ["Mathematics", "Medicine", "General", "NLP"]
    for mixture in shifts:
        for s in SEEDS:
            move = moves.get(mixture, 0.0) / (2 if s == 1 else 1)
            steps = [(0, 0.0, False), (50, move / 2, True), (100, -move, True), (150, 0.0, False)]
            if mixture == "aioli":
                steps = [(0, 0.5, False), (5, 0.5, False), (10, move, True), (15, 0.5, False)]
            for step, d, updated in steps:
                updated = updated and mixture in moves  # a static mixture logs no reward
                for k, n in enumerate(names):
                    if mixture == "aioli" and not updated:  # a burst: 0.75 on one dataset
                        w = 0.75 if k == step // 5 % 4 else 0.25 / 3
                    else:
                        w = 0.25 + (d if k == 0 else -d / 3)
                    rows.append({"backbone": "b", "mixture": mixture, "seed": s, "step": step, "dataset": n,
                                 "weight": w, "reward": 1.0 if updated else None,
                                 "smoothed_reward": 1.0 if updated and mixture != "doremi" else None,
                                 "drawn": 4})
    return rows


def test_differences_ranks_and_verdicts(tmp_path):
    exp = tmp_path / "exp"
    write_experiment(exp, {"proportional": 0.0, "uniform": 10.0, "odm": 0.2, "doremi": -10.0},
                     moves={"odm": 0.05, "doremi": 0.1})  # both moved
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
    assert rows.loc["doremi", "extra_examples"] == 1600


def test_rows_whose_weights_never_moved_are_marked_and_not_ranked(tmp_path):
    exp = tmp_path / "exp"
    write_experiment(exp, {"proportional": 0.0, "uniform": 10.0, "odm": 12.0, "doremi": -10.0, "aioli": 1.0})
    table, _ = leaderboard.build(exp, overhead=tmp_path / "none.json")
    rows = table.set_index("mixture")
    # the largest |w - w0| over steps, datasets and seeds: Mathematics's move (seed 0 moves furthest)
    assert rows.loc["odm", "max_weight_change"] == pytest.approx(0.02)
    assert rows.loc["doremi", "max_weight_change"] == pytest.approx(0.1)
    assert rows.loc["aioli", "max_weight_change"] == pytest.approx(0.03)  # bursts left out, against 1/K
    assert math.isnan(rows.loc["uniform", "max_weight_change"])  # static: nothing to move
    assert rows.loc["odm", "no_op_threshold"] == pytest.approx(0.025)  # NO_OP_FRACTION / K
    assert rows.loc["odm", "no_op"] == 1.0 and rows.loc["doremi", "no_op"] == 0.0 and rows.loc["aioli", "no_op"] == 0.0
    # odm has the best µMU but moved 0.02 < 0.025: a no-op, not ranked, its verdict says so
    assert math.isnan(rows.loc["odm", "rank"]) and rows.loc["uniform", "rank"] == 1
    assert rows.loc["odm", "verdict"] == "no-op: weights never moved"
    assert sorted(table["rank"].dropna()) == [1, 2, 3, 4]
    shown = leaderboard.display(table, "µMU").set_index("Mixture")
    assert shown.loc["odm †", "Rank"] == "–" and shown.loc["odm †", "Max |Δ weight|"] == "0.020 (no-op)"
    assert shown.loc["uniform", "Max |Δ weight|"] == "static"


def test_cost_is_the_controlled_benchmarks_ratio(tmp_path):
    exp = tmp_path / "exp"
    write_experiment(exp, {"proportional": 0.0, "uniform": 1.0, "odm": 0.0, "doremi": 0.0, "aioli": 0.0})
    bench = tmp_path / "field_overhead.json"
    bench.write_text(json.dumps({"arms": {"uniform": {"loop_seconds": [20.0, 30.0]},
                                          "odm": {"ratio": 1.0646},
                                          "doremi": {"ratio": 1.2591, "prepass_seconds": 5.0}}}))
    table, _ = leaderboard.build(exp, overhead=bench)
    rows = table.set_index("mixture")
    assert rows.loc["odm", "cost_ratio"] == 1.0646 and rows.loc["doremi", "cost_ratio"] == 1.2591
    assert rows.loc["doremi", "prepass_ratio"] == pytest.approx(5.0 / 25.0)  # over uniform's mean loop time
    assert rows.loc["uniform", "cost_ratio"] == 1.0 and rows.loc["uniform", "cost_note"] == "reference"
    assert math.isnan(rows.loc["aioli", "cost_ratio"]) and rows.loc["aioli", "cost_note"] == "not benchmarked"
    assert rows.loc["proportional", "cost_note"] == "static"
    shown = leaderboard.display(table, "µMU").set_index("Mixture")["Cost vs UNI. (controlled)"]
    assert shown["odm †"] == "1.06×" and shown["doremi †"] == "1.26× + 0.20× θ0 pre-pass"
    assert shown["aioli †"] == "not benchmarked"
    assert leaderboard.overhead_file(exp) == leaderboard.REPO_RESULTS / "benchmarks" / "field_overhead.json"
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "field_overhead.json").write_text("{}")
    assert leaderboard.overhead_file(exp) == tmp_path / "benchmarks" / "field_overhead.json"  # beside results/<exp>


def test_writes_tables_and_figure(tmp_path):
    exp = tmp_path / "exp"
    write_experiment(exp, {"proportional": 0.0, "uniform": 1.0, "odm": 0.0, "doremi": 0.0})
    paths = leaderboard.write_all(exp)
    assert {p.name for p in paths} == {"leaderboard.md", "leaderboard.csv", "leaderboard.tex", "leaderboard.png",
                                       "leaderboard.pdf"}
    md = (exp / "tables" / "leaderboard.md").read_text()
    assert "odm †" in md and "ref." in md
