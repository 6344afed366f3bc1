"""The reproduction table (`analysis/reproduction.py`, the end of `make run`): a run compared with
the committed snapshot of its experiment.

    pytest tests/test_reproduction.py
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import reproduction

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOT = ROOT / "snapshots" / "default"


def copy_of_snapshot(tmp_path: Path) -> Path:
    exp = tmp_path / "results" / "default"
    shutil.copytree(SNAPSHOT / "summary", exp / "summary")
    shutil.copytree(SNAPSHOT / "tables", exp / "tables")
    shutil.copytree(ROOT / "results" / "paper", tmp_path / "results" / "paper")
    return exp


def test_an_experiment_without_claims_compares_its_cells(tmp_path):
    """snapshots/real declares no claims: its scorecard.csv has no claim ids, and no verdict is compared."""
    real = ROOT / "snapshots" / "real"
    exp = tmp_path / "results" / "real"
    shutil.copytree(real / "summary", exp / "summary")
    shutil.copytree(real / "tables", exp / "tables")
    reproduction.write_all(exp, real)
    table = pd.read_csv(exp / "tables" / "reproduction.csv")
    assert len(table) and (table["delta"].abs() < 1e-9).all()
    assert "Verdicts of the pre-declared claims" not in (exp / "tables" / "reproduction.md").read_text()


def test_the_snapshot_reproduces_itself(tmp_path):
    exp = copy_of_snapshot(tmp_path)
    reproduction.write_all(exp, SNAPSHOT)
    table = pd.read_csv(exp / "tables" / "reproduction.csv")
    cells = pd.read_csv(exp / "summary" / "runs.csv")[["backbone", "mixture"]].drop_duplicates()
    assert set(table["metric"]) == {"µMU", "µMB", "µBOTH"} and len(table) == 3 * len(cells)
    assert (table["delta"].abs() < 1e-9).all() and not table["moved"].any()
    assert (table["identical_runs"] == table["n_snapshot"]).all()
    md = (exp / "tables" / "reproduction.md").read_text()
    n = len(pd.read_csv(exp / "summary" / "runs.csv"))
    assert f"{n} of {n} runs gave exactly the snapshot's value" in md
    assert "Same machine: yes; same commit: yes" in md and "Expected: every run bit-identical" in md
    assert "the same as the snapshot's" in md and "Claims whose verdict differs: none." in md


def test_a_moved_cell_is_flagged_and_others_are_not(tmp_path):
    exp = copy_of_snapshot(tmp_path)
    metrics = pd.read_csv(exp / "summary" / "metrics.csv")
    cell = (metrics["backbone"] == "tiny-llama") & (metrics["mixture"] == "uniform") & (
        metrics["benchmark"] == "testbed_mc")
    metrics.loc[cell, "value"] = (metrics.loc[cell, "value"] - 0.15).clip(lower=0)  # 15 points of µMU lost
    metrics.to_csv(exp / "summary" / "metrics.csv", index=False)
    reproduction.write_all(exp, SNAPSHOT)
    table = pd.read_csv(exp / "tables" / "reproduction.csv")
    mu = table[table["metric"] == "µMU"].set_index(["backbone", "mixture"])
    assert mu.loc[("tiny-llama", "uniform"), "moved"] and mu.loc[("tiny-llama", "uniform"), "hi"] < -10
    assert mu.loc[("tiny-llama", "uniform"), "identical_runs"] == 0
    assert not mu.drop(index=("tiny-llama", "uniform"))["moved"].any()


def test_without_a_snapshot_it_says_so(tmp_path):
    exp = copy_of_snapshot(tmp_path)
    reproduction.write_all(exp, tmp_path / "nowhere")
    assert "No committed snapshot" in (exp / "tables" / "reproduction.md").read_text()


def test_on_another_cpu_it_says_what_carries_over(tmp_path):
    """Another vendor's CPU: no run is identical, so the notes say what to expect instead and report the cell
    means within their intervals and the verdicts (the fingerprint decides, mos.common.provenance)."""
    exp = copy_of_snapshot(tmp_path)
    runs = pd.read_csv(exp / "summary" / "runs.csv")
    runs["machine"] = "x86_64 | GenuineIntel 6/143/8 | Intel Xeon Platinum | sse4_2+avx+avx2+fma+avx512f | AVX512"
    runs.to_csv(exp / "summary" / "runs.csv", index=False)
    metrics = pd.read_csv(exp / "summary" / "metrics.csv")
    sign = np.where(metrics["seed"] % 2 == 0, 1.0, -1.0)  # last-bit differences everywhere, up and down
    metrics["value"] = metrics["value"] * (1 + 1e-7 * sign)
    metrics.to_csv(exp / "summary" / "metrics.csv", index=False)
    reproduction.write_all(exp, SNAPSHOT)
    md = (exp / "tables" / "reproduction.md").read_text()
    table = pd.read_csv(exp / "tables" / "reproduction.csv").query("metric == 'µBOTH'")
    testable = int(table["lo"].notna().sum())
    assert "Same machine: no" in md and "Expected: no run identical to the snapshot's" in md
    assert f"µBOTH: {testable} of {testable} cell means within seed-and-θ0 noise" in md
    untestable = len(table) - testable  # cells on one θ0 (none in a design with two θ0s or more per cell)
    assert (f"{untestable} cell(s) on one θ0 have no interval" in md) == (untestable > 0)
    assert f"0 of {len(runs)} runs gave exactly the snapshot's value" in md
