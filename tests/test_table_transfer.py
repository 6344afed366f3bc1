"""Tests of analysis/table_transfer.py: rows per training set, per-skill columns, intervals, budgets.

    .venv/bin/pytest tests/test_table_transfer.py
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from analysis import inference, table_transfer

SKILLS = ("Mathematics", "Medicine", "General", "NLP")
# mixture -> (datasets it samples, paper label, per-seed accuracy on its own skill)
CELLS = {"proportional": (SKILLS, "PROP. (τ=1)", None), "nlp_only": (("NLP",), "NLP only", [0.9, 0.8, 0.85]),
         "math_only": (("Mathematics",), "Mathematics only", [0.95, 0.97, 0.99]),
         "mos_diff": (SKILLS, "MoS + DIFF", None)}  # a learned mixture: Table 2's, not the matrix's


def write_summary(exp: Path, examples: dict[str, int] | None = None) -> None:
    """runs, metrics and trajectory CSVs of one backbone: PROP. first, then two single-skill cells."""
    (exp / "summary").mkdir(parents=True)
    runs, metrics, trajectory = [], [], []
    for mixture, (datasets, label, own) in CELLS.items():
        for seed in range(3):
            runs.append({"backbone": "tiny-llama", "mixture": mixture, "seed": seed, "paper_backbone": "LLaMA-3-8B",
                         "strategy": "mos" if mixture == "mos_diff" else "temperature",
                         "paper_method": label, "examples": (examples or {}).get(mixture, 9600)})
            trajectory += [{"backbone": "tiny-llama", "mixture": mixture, "seed": seed, "step": 0, "dataset": d,
                            "weight": 1 / len(datasets)} for d in datasets]
            for k, skill in enumerate(("NLP", "General", "Medicine", "Mathematics")):  # not the dataset order
                value = own[seed] if own and (skill,) == datasets else 0.25 + 0.01 * (k + seed)
                metrics.append({"backbone": "tiny-llama", "mixture": mixture, "seed": seed, "benchmark": "testbed_mc",
                                "scope": "skill", "name": skill, "metric": "acc", "value": value})
            for name, value in (("one_step", 0.5 + 0.1 * seed), ("two_step", 0.1)):
                metrics.append({"backbone": "tiny-llama", "mixture": mixture, "seed": seed,
                                "benchmark": "testbed_math", "scope": "subject", "name": name,
                                "metric": "exact_match", "value": value})
    for name, rows in (("runs", runs), ("metrics", metrics), ("trajectory", trajectory)):
        pd.DataFrame(rows).to_csv(exp / "summary" / f"{name}.csv", index=False)


def test_rows_columns_and_intervals(tmp_path: Path) -> None:
    exp = tmp_path / "results" / "transfer"
    write_summary(exp)
    paths = table_transfer.write_all(exp)
    assert sorted(p.name for p in paths) == ["transfer_matrix.csv", "transfer_matrix.md", "transfer_matrix.tex"]
    table = pd.read_csv(exp / "tables" / "transfer_matrix.csv")
    # single-skill rows first, in the order of the datasets' columns, then the mixture
    assert list(table["trained_on"]) == ["Mathematics only", "NLP only", "PROP. (τ=1)"]
    assert list(table["single"]) == [True, True, False]
    nlp = table.set_index("trained_on").loc["NLP only"]
    assert (nlp["mc_NLP_mean"], nlp["n_seeds"]) == (pytest.approx(85.0), 3)
    # the interval is the project's (the cell's own replicates, t with 2 df, on the logit scale): inside
    # [0, 100], around the mean, and the one of the NLP-only cell's three values alone
    own = inference.cell_intervals(pd.DataFrame({"backbone": "b", "mixture": "m", "seed": [0, 1, 2],
                                                 "value": [90.0, 80.0, 85.0]}), scale=inference.PERCENT).iloc[0]
    assert 0 <= nlp["mc_NLP_lo"] < 85.0 < nlp["mc_NLP_hi"] <= 100
    assert (nlp["mc_NLP_lo"], nlp["mc_NLP_hi"]) == (pytest.approx(own["lo"]), pytest.approx(own["hi"]))
    assert table.set_index("trained_on").loc["PROP. (τ=1)", "math_one_step_mean"] == pytest.approx(60.0)
    md = (exp / "tables" / "transfer_matrix.md").read_text()
    header = next(line for line in md.splitlines() if line.startswith("| Backbone"))
    # skill columns follow the training datasets' order, then the math word problems
    assert header.split(" | ")[4:] == ["Mathematics", "Medicine", "General", "NLP", "GSM8K-an.", "MATH-an. |"]
    math_row = next(line for line in md.splitlines() if "| Mathematics only |" in line)
    assert "**97.00 [" in math_row  # the diagonal is bold, nothing else in the row
    assert math_row.count("**") == 2


def test_unequal_budgets_are_refused(tmp_path: Path) -> None:
    exp = tmp_path / "results" / "transfer"
    write_summary(exp, examples={"nlp_only": 4800})
    with pytest.raises(ValueError, match="different budgets"):
        table_transfer.write_all(exp)


def test_experiment_without_single_skill_runs_gets_a_note(tmp_path: Path) -> None:
    exp = tmp_path / "results" / "transfer"
    write_summary(exp)
    for name in ("runs", "metrics", "trajectory"):
        df = pd.read_csv(exp / "summary" / f"{name}.csv")
        df[df["mixture"] == "proportional"].to_csv(exp / "summary" / f"{name}.csv", index=False)
    table_transfer.write_all(exp)
    assert "no run of this experiment trained on a single dataset" in (exp / "tables" / "transfer_matrix.md").read_text()
