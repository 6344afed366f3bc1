"""The fresh-θ0 replication (scripts/fresh_theta0.py): the config it runs, the comparison it reports and the
θ0-level half-widths it pools over the original's and the fresh θ0s.

    .venv/bin/pytest tests/test_fresh_theta0.py
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

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


def test_the_extension_config_runs_only_the_named_arms_on_as_many_new_theta0s() -> None:
    cfg = load_config(fresh.fresh_config(ROOT / "config" / "config.yaml", 12, ["mospec_cossim_ema", "math_only"], 16,
                                         "theta0_extension"))
    assert {m for _, m, _ in runs(cfg)} == {"mospec_cossim_ema", "math_only"}
    assert [c["id"] for c in cfg["claims"]["list"]] == ["mospec_vs_math_only"]  # the only claim among these arms
    assert sorted({theta_of(cfg, b, s) for b, _, s in runs(cfg)}) == list(range(12, 28))  # next to the default's 0-11
    assert len(runs(cfg)) == 32 and cfg["experiment"] == "theta0_extension"
    with pytest.raises(ValueError, match="no primary claim"):
        fresh.fresh_config(ROOT / "config" / "config.yaml", 12, ["uniform"], 4)


def test_the_half_width_is_the_paired_t_interval() -> None:
    d = np.array([1.2, -0.4, 2.2, 0.9, 3.1, 0.0, 1.7])
    lo, hi = stats.ttest_1samp(d, 0.0).confidence_interval(0.95)
    assert fresh.half_width(d) == pytest.approx((hi - lo) / 2, rel=1e-12)


def test_the_theta0_differences_of_the_snapshot_give_power_md_half_width() -> None:
    """The same θ0-level half-width as tables/power.csv, which analysis/power.py computes its own way."""
    power = pd.read_csv(ROOT / "snapshots" / "default" / "tables" / "power.csv")
    row = power[(power["id"] == "mospec_vs_math_only") & (power["metric"] == "µBOTH")].iloc[0]
    d = fresh.theta0_differences(ROOT / "snapshots" / "default", "mospec_cossim_ema", "math_only", "mu_both")
    assert len(d) == row["theta0s"] == 12
    assert d.mean() == pytest.approx(row["effect"], abs=1e-4)
    assert fresh.half_width(d.to_numpy()) == pytest.approx(row["half_width"], abs=1e-4)


def test_pooling_adds_the_fresh_theta0s_and_refuses_shared_ones(monkeypatch) -> None:
    per_exp = {"orig": pd.Series([1.0, 2.0, 0.5], index=["0", "1", "2"]),
               "new": pd.Series([1.5, 0.0, 2.5, 1.0], index=["12", "13", "14", "15"])}
    monkeypatch.setattr(fresh, "theta0_differences", lambda exp, a, b, metric: per_exp[exp.name])
    claims = [{"id": "x", "a": "a", "b": "b", "metric": "mu_all"}, {"id": "best", "a": "a", "b": ["b", "c"]}]
    rows = fresh.pooled_precision(Path("orig"), Path("new"), claims, {"mu_both": 1.0, "mu_mmlu": 2.0})
    assert [(r["id"], r["metric"]) for r in rows] == [("x", "mu_both"), ("x", "mu_mmlu"), ("x", "mu_all")]
    both = np.concatenate([per_exp["orig"], per_exp["new"]])
    r = rows[0]
    assert (r["theta0s_original"], r["theta0s_fresh"], r["theta0s_pooled"]) == (3, 4, 7)
    assert r["half_width_pooled"] == pytest.approx(fresh.half_width(both)) and r["effect_pooled"] == pytest.approx(both.mean())
    assert r["target_met_pooled"] == (fresh.half_width(both) <= 1.0) and rows[2]["target"] is None
    per_exp["new"] = pd.Series([1.0, 2.0], index=["2", "3"])
    with pytest.raises(ValueError, match="share θ0s"):
        fresh.pooled_precision(Path("orig"), Path("new"), claims, {"mu_both": 1.0})


def test_theta0s_for_is_the_fewest_reaching_the_target() -> None:
    var, target = 2.95 ** 2, 1.0
    n = fresh.theta0s_for(var, target)
    width = lambda k: stats.t.ppf(0.975, k - 1) * np.sqrt(var / k)  # noqa: E731
    assert width(n) <= target < width(n - 1) and n == 36


def test_the_committed_extension_report_is_recomputed_from_the_committed_snapshots() -> None:
    """results/benchmarks/theta0_extension.json's pooled half-widths follow from snapshots/default and
    snapshots/theta0_extension alone (what README quotes)."""
    import json

    report = json.loads((ROOT / "results" / "benchmarks" / "theta0_extension.json").read_text(encoding="utf-8"))
    claims = [{"id": "mospec_vs_math_only", "a": "mospec_cossim_ema", "b": "math_only", "metric": "mu_all"}]
    rows = fresh.pooled_precision(ROOT / "snapshots" / "default", ROOT / "snapshots" / "theta0_extension", claims,
                                  fresh.TARGETS)
    assert len(rows) == len(report["pooled_precision"]) == 3
    for got, want in zip(rows, report["pooled_precision"], strict=True):
        assert got["metric"] == want["metric"] and got["theta0s_pooled"] == want["theta0s_pooled"] == 28
        assert got["half_width_pooled"] == pytest.approx(want["half_width_pooled"], abs=1e-9)
        assert got["theta0s_needed"] == want["theta0s_needed"]
