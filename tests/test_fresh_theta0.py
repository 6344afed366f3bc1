"""The fresh-θ0 replication (scripts/fresh_theta0.py): the config it runs and the comparison it reports.

    .venv/bin/pytest tests/test_fresh_theta0.py
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pandas as pd

from mos.pipeline.config import load_config
from mos.pipeline.grid import runs, theta_of

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("fresh_theta0", ROOT / "scripts" / "fresh_theta0.py")
fresh = importlib.util.module_from_spec(spec)
sys.modules["fresh_theta0"] = fresh
spec.loader.exec_module(fresh)


def test_the_fresh_config_moves_the_theta0s_and_keeps_the_primary_arms() -> None:
    cfg = load_config(fresh.fresh_config(ROOT / "config" / "config.yaml", 100))
    original = load_config(ROOT / "config" / "config.yaml")
    ids = [c["id"] for c in cfg["claims"]["list"]]
    assert all(c["family"] in ("primary", "check") for c in cfg["claims"]["list"]) and "mos_diff_ema_vs_temp" in ids
    assert {m for _, m, _ in runs(cfg)} == {"temperature", "temperature_copy", "mos_cossim_ema", "mos_diff_ema",
                                            "mospec_cossim_ema", "math_only"}
    new = {theta_of(cfg, b, s) for b, _, s in runs(cfg)}
    old = {theta_of(original, b, s) for b, _, s in runs(original)}
    assert new == set(range(100, 112)) and not new & old  # pretrained anew, none shared
    assert cfg["experiment"] == "fresh_theta0" and cfg["claims"]["alpha"] == 0.04


def test_the_comparison_reports_coverage_and_repeated_verdicts(tmp_path: Path) -> None:
    columns = ["id", "scope", "claim", "family", "metric", "effect", "ci_lo", "ci_hi", "df", "verdict", "same_verdict"]
    original = pd.DataFrame([["a", "b0", "A", "primary", "mu_both", 1.0, 0.2, 1.8, 11, "held", 0.7],
                             ["c", "b0", "C", "primary", "mu_both", 0.1, -0.9, 1.1, 11, "inconclusive (MDE = 2)", 0.9],
                             ["w", "b0", "W", "secondary", "mu_both", 0.1, -0.9, 1.1, 1, "inconclusive", 0.9]],
                            columns=columns)
    again = original.assign(effect=[2.5, 0.3, 0.0], ci_lo=[1.0, -0.7, -1], ci_hi=[4.0, 1.3, 1],
                            verdict=["held", "contradicted", "inconclusive"])
    for name, frame in (("orig", original), ("fresh", again)):
        (tmp_path / name / "tables").mkdir(parents=True)
        frame.to_csv(tmp_path / name / "tables" / "scorecard.csv", index=False)
    rows = {r["id"]: r for r in fresh.compare(tmp_path / "orig", tmp_path / "fresh")}
    assert set(rows) == {"a", "c"}  # only the primary family and the checks
    assert not rows["a"]["inside_original_interval"] and rows["a"]["same_verdict"]
    assert rows["c"]["inside_original_interval"] and not rows["c"]["same_verdict"]
    assert 0.80 < rows["a"]["expected_inside_rate"] < 0.86  # P(|T| < t_.975 / √2) at 11 df
