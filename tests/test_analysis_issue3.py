"""Tests of the Table 3 / Table 5 / Figure 2 / Figure 4 analyses and the replication scorecard.

    .venv/bin/pytest tests/test_analysis_issue3.py

A small summary (2 backbones, 3 seeds) with known numbers is written to tmp_path; the tests check
that the right runs are picked by their paper labels, the seed statistics and µALL arithmetic, the
per-step averaging of the learned weights, and the notes for what was not run.
"""

from __future__ import annotations

import hashlib
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from analysis import common, fig2_weights, fig4_mospec_weights, table3_priors, table5_mospec

ROOT = Path(__file__).resolve().parent.parent
T975_2, T975_4 = 4.30265273, 2.77644511  # Student t, 97.5%, 2 and 4 degrees of freedom
SEEDS = (0, 1, 2)
PAPER_BACKBONE = {"tiny-llama": "LLaMA-3-8B", "tiny-qwen": "Qwen1.5-0.5B"}
# (backbone, mixture) -> (paper_method, µMU at seed 0 as a fraction); µMU rises by 0.01 per seed.
RUNS = {
    ("tiny-qwen", "temperature"): ("TEMP. (τ=10)", 0.20),
    ("tiny-qwen", "mos_diff_ema"): ("MoS + DIFF + EMA", 0.22),
    ("tiny-llama", "temperature"): ("TEMP. (τ=10)", 0.30),
    ("tiny-llama", "mos_cossim"): ("MoS + COSSIM", 0.50),  # a decoy: no EMA, must not be the τ = ∞ row
    ("tiny-llama", "mos_cossim_ema"): ("MoS + COSSIM + EMA", 0.34),
    ("tiny-llama", "mos_diff_ema"): ("MoS + DIFF + EMA", 0.36),
    ("tiny-llama", "mos_cossim_ema_prior1"): ("MoS + COSSIM + EMA, prior τ = 1", 0.31),
    ("tiny-llama", "mos_diff_ema_prior10"): ("MoS + DIFF + EMA, prior τ = 10", 0.38),
    ("tiny-llama", "math_only"): ("MATHLLAMA-3-8B", 0.25),
    ("tiny-llama", "mospec_cossim_ema"): ("MoSpec + COSSIM + EMA", 0.33),
    ("tiny-llama", "mospec_diff_ema"): ("MoSpec + DIFF + EMA", 0.35),
}
SKILL_OFFSET = {"Mathematics": -0.04, "Medicine": 0.02, "General": 0.03, "NLP": -0.01}
DATASETS = ("NLP", "General", "Medicine", "Mathematics")  # not the paper's order, on purpose


def math_em(mixture: str, seed: int) -> tuple[float, float]:
    """testbed_math (one_step, two_step) exact match: anti-correlated over seeds for math_only."""
    if mixture == "math_only":
        return 0.50 + 0.10 * seed, 0.20 - 0.10 * seed
    return 0.40 + 0.01 * seed, 0.10 + 0.02 * seed


def metric_rows(backbone: str, mixture: str, seed: int, mu: float) -> list[dict]:
    key = {"backbone": backbone, "mixture": mixture, "seed": seed, "n_items": 20}
    mc = [("overall", "all", mu), ("group", "Mathematics", mu - 0.04 if mixture != "math_only" else 0.30),
          ("group", "Medicine", mu + 0.02), ("group", "Others", mu + 0.01)]
    mc += [("skill", s, mu + d) for s, d in SKILL_OFFSET.items()]
    one, two = math_em(mixture, seed)
    em = [("subject", "one_step", one), ("subject", "two_step", two), ("overall", "all", (one + two) / 2)]
    return ([{**key, "benchmark": "testbed_mc", "scope": sc, "name": n, "metric": "acc", "value": v} for sc, n, v in mc]
            + [{**key, "benchmark": "testbed_math", "scope": sc, "name": n, "metric": "exact_match", "value": v}
               for sc, n, v in em])


def weight(mixture: str, dataset: str, step: int, seed: int) -> float:
    """A trajectory in which Mathematics rises and NLP falls by a seed-dependent amount."""
    slope = {"Mathematics": 1, "Medicine": 0, "General": 0, "NLP": -1}[dataset] * (0.001 + 0.0005 * seed)
    if mixture.startswith("mospec"):
        slope *= 2
    return 0.25 + slope * step


def trajectory_rows(backbone: str, mixture: str, seed: int) -> list[dict]:
    if not mixture.startswith(("mos_diff_ema", "mospec_diff")) or "prior" in mixture:
        return []
    return [{"backbone": backbone, "mixture": mixture, "seed": seed, "step": step, "dataset": d,
             "weight": weight(mixture, d, step, seed), "reward": "", "smoothed_reward": "", "drawn": 4}
            for step in (0, 10, 20) for d in DATASETS]


@pytest.fixture
def exp(tmp_path: Path) -> Path:
    """results/<exp>/summary with the RUNS above x 3 seeds, plus a copy of results/paper/."""
    exp = tmp_path / "results" / "demo"
    (exp / "summary").mkdir(parents=True)
    shutil.copytree(ROOT / "results" / "paper", tmp_path / "results" / "paper")
    runs, metrics, traj = [], [], []
    for (backbone, mixture), (label, mu0) in RUNS.items():
        for seed in SEEDS:
            runs.append({"backbone": backbone, "mixture": mixture, "seed": seed, "strategy": "x", "params": "{}",
                         "paper_backbone": PAPER_BACKBONE[backbone], "paper_method": label})
            metrics += metric_rows(backbone, mixture, seed, mu0 + 0.01 * seed)
            traj += trajectory_rows(backbone, mixture, seed)
    pd.DataFrame(runs).to_csv(exp / "summary" / "runs.csv", index=False)
    pd.DataFrame(metrics).to_csv(exp / "summary" / "metrics.csv", index=False)
    pd.DataFrame(traj).to_csv(exp / "summary" / "trajectory.csv", index=False)
    return exp


def load(exp: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    return common.load_runs(exp), common.load_summary(exp, "metrics")


CI_1PCT = T975_2 * 1.0 / math.sqrt(3)  # CI of the values x, x + 1, x + 2 (in %): s = 1


# ---------------------------------------------------------------- difference of means


def test_mean_diff_ci_welch() -> None:
    diff, ci = table3_priors.mean_diff_ci([1.0, 2.0, 3.0], [2.0, 4.0, 6.0])
    assert diff == pytest.approx(-2.0)
    # se² = 1/3 + 4/3; Welch dof = (5/3)² / ((1/3)²/2 + (4/3)²/2) = 2.94 -> 2
    assert ci == pytest.approx(T975_2 * math.sqrt(5 / 3))
    assert table3_priors.mean_diff_ci([1.0, 1.0], [0.0, 0.0]) == (1.0, 0.0)
    diff, ci = table3_priors.mean_diff_ci([1.0], [0.0, 1.0])
    assert diff == 0.5 and math.isnan(ci)
    assert table3_priors.significant(1.0, 0.5) and not table3_priors.significant(1.0, 1.5)
    assert not table3_priors.significant(1.0, math.nan)


# ---------------------------------------------------------------- Table 3


def test_table3_rows_values_and_paper(exp: Path) -> None:
    runs, metrics = load(exp)
    paper = pd.read_csv(exp.parent / "paper" / table3_priors.PAPER_FILE)
    table, display, facts = table3_priors.build(metrics, runs, paper)
    assert facts["backbones"] == ["tiny-llama"] and facts["benchmark"] == "testbed_mc"  # qwen has no prior runs
    assert list(table["mixture"]) == ["temperature", "mos_cossim_ema_prior1", "", "mos_cossim_ema", "",
                                      "mos_diff_ema_prior10", "mos_diff_ema"]
    assert list(table["method"]) == list(paper["method"])
    row = table.set_index("mixture").loc["mos_cossim_ema"]
    assert row["mu_mmlu_mean"] == pytest.approx(35.0) and row["mu_mmlu_ci"] == pytest.approx(CI_1PCT)
    assert row["skill_general_mean"] == pytest.approx(38.0) and row["skill_nlp_mean"] == pytest.approx(34.0)
    # two sets with s = 1: se² = 1/3 + 1/3 and Welch dof = 4 (exactly, despite float noise in the % values)
    assert row["delta_temp_mean"] == pytest.approx(4.0)
    assert row["delta_temp_ci"] == pytest.approx(T975_4 * math.sqrt(2 / 3))
    assert row["paper_mu_mmlu"] == 58.08 and row["paper_delta_temp"] == pytest.approx(58.08 - 56.17)
    assert table.set_index("mixture").loc["temperature", "delta_temp_mean"] == 0.0
    assert facts["missing"] == ["tiny-llama: MoS + COSSIM + EMA, prior τ = 10",
                                "tiny-llama: MoS + DIFF + EMA, prior τ = 1"]
    assert display.loc[5, "µMU"].startswith("**39.00 ± ")  # prior τ = 10 DIFF is the best µMU
    assert display.loc[1, "µMU − TEMP."].startswith("+1.00 ± ")
    assert list(display.columns[4:9]) == ["µMU", "Mathematics", "Medicine", "General", "NLP"]


def test_table3_without_prior_runs_writes_paper_rows(exp: Path) -> None:
    runs = pd.read_csv(exp / "summary" / "runs.csv")
    runs = runs[~runs["mixture"].str.contains("prior")]
    runs.to_csv(exp / "summary" / "runs.csv", index=False)
    written = table3_priors.write_all(exp)
    assert [p.name for p in written] == ["table3_priors.md", "table3_priors.tex", "table3_priors.csv"]
    md = (exp / "tables" / "table3_priors.md").read_text()
    assert "No run of this experiment has a prior-study mixture" in md and "63.94" in md
    assert len(pd.read_csv(exp / "tables" / "table3_priors.csv")) == 7


# ---------------------------------------------------------------- Table 5


def test_table5_rows_and_mu_all(exp: Path) -> None:
    runs, metrics = load(exp)
    paper = pd.read_csv(exp.parent / "paper" / table5_mospec.PAPER_FILE)
    table, display, facts = table5_mospec.build(metrics, runs, paper)
    assert facts["backbones"] == ["tiny-llama"] and not facts["absent"] and not facts["missing"]
    assert list(table["mixture"]) == ["temperature", "mos_cossim_ema", "mos_diff_ema", "math_only",
                                      "mospec_cossim_ema", "mospec_diff_ema"]
    assert list(table["group"]) == ["Generalist"] * 3 + ["Math Specialist"] * 3
    math_only = table.set_index("mixture").loc["math_only"]
    # one_step 50/60/70 and two_step 20/10/0 cancel: µALL is (60 + 10 + 30) / 3 on every seed, so no spread
    assert math_only["gsm8k_mean"] == pytest.approx(60.0) and math_only["math_mean"] == pytest.approx(10.0)
    assert math_only["mmlu_math_mean"] == pytest.approx(30.0)
    assert math_only["mu_all_mean"] == pytest.approx(100 / 3) and math_only["mu_all_ci"] == pytest.approx(0.0)
    assert math_only["paper_mu_all"] == 27.04 and math_only["model"] == "MATHLLAMA-3-8B"
    spec = table.set_index("mixture").loc["mospec_diff_ema"]  # 40+s, 10+2s, 31+s: µALL = 27 + 4s/3
    assert spec["mu_all_mean"] == pytest.approx(27 + 4 / 3)
    assert spec["mu_all_ci"] == pytest.approx(T975_2 * (4 / 3) / math.sqrt(3))
    assert spec["paper_gsm8k"] == 52.10 and spec["paper_mmlu_math"] == 32.24
    assert display.loc[3, "µALL"] == "**33.33 ± 0.00**"


def test_table5_missing_benchmark_is_a_note(exp: Path) -> None:
    metrics = pd.read_csv(exp / "summary" / "metrics.csv")
    metrics[metrics["benchmark"] != "testbed_math"].to_csv(exp / "summary" / "metrics.csv", index=False)
    table5_mospec.write_all(exp)
    table = pd.read_csv(exp / "tables" / "table5_mospec.csv")
    assert table["mu_all_mean"].isna().all() and table["gsm8k_mean"].isna().all()
    assert table["mmlu_math_mean"].notna().all() and (table["n_seeds"] == 3).all()
    md = (exp / "tables" / "table5_mospec.md").read_text()
    assert "NOTE: testbed_math is not in summary/metrics.csv, so GSM8K-an. and MATH-an. and µALL are empty" in md


def test_table5_script_runs(exp: Path) -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "analysis" / "table5_mospec.py"), str(exp)],
                          capture_output=True, text=True, cwd=exp.parent.parent)
    assert proc.returncode == 0, proc.stderr
    for suffix in (".md", ".csv", ".tex"):
        assert (exp / "tables" / f"table5_mospec{suffix}").stat().st_size > 0
    assert r"\pm" in (exp / "tables" / "table5_mospec.tex").read_text()


# ---------------------------------------------------------------- Figures 2 and 4


def test_weight_curves_average_over_seeds(exp: Path) -> None:
    runs = common.load_runs(exp)
    traj = common.load_summary(exp, "trajectory")
    selected = fig2_weights.select_mixtures(runs, "mos+")
    assert "mospec_diff_ema" not in set(selected["mixture"]) and "mos_cossim" in set(selected["mixture"])
    curves = fig2_weights.weight_curves(traj, selected)
    assert list(dict.fromkeys(zip(curves["backbone"], curves["mixture"], strict=True))) == [
        ("tiny-qwen", "mos_diff_ema"), ("tiny-llama", "mos_diff_ema")]  # runs.csv order
    assert list(curves["dataset"][:4]) == ["Mathematics", "Medicine", "General", "NLP"]  # the paper's order
    row = curves[(curves["backbone"] == "tiny-llama") & (curves["step"] == 10) & (curves["dataset"] == "Mathematics")]
    # slopes 0.001, 0.0015, 0.002 over seeds -> weights 0.26, 0.265, 0.27 at step 10
    assert row["mean"].item() == pytest.approx(0.265) and row["n"].item() == 3
    assert row["ci"].item() == pytest.approx(T975_2 * 0.005 / math.sqrt(3))
    table, display = fig2_weights.final_table(traj, selected, {})
    nlp = table[(table["backbone"] == "tiny-llama") & (table["dataset"] == "NLP")].iloc[0]
    assert nlp["start_mean"] == pytest.approx(0.25) and nlp["change_mean"] == pytest.approx(-0.03)
    assert nlp["change_ci"] == pytest.approx(T975_2 * 0.01 / math.sqrt(3))


def test_fig2_files_paper_values_and_determinism(exp: Path) -> None:
    written = fig2_weights.write_all(exp)
    names = sorted(p.relative_to(exp).as_posix() for p in written)
    assert names == ["figures/fig2_weights.csv", "figures/fig2_weights.pdf", "figures/fig2_weights.png",
                     "tables/fig2_final_weights.csv", "tables/fig2_final_weights.md", "tables/fig2_final_weights.tex"]
    data = pd.read_csv(exp / "figures" / "fig2_weights.csv")
    assert set(data["source"]) == {"ours", "paper Fig. 2a", "paper Fig. 2b"}
    table = pd.read_csv(exp / "tables" / "fig2_final_weights.csv")
    llama_math = table[(table["backbone"] == "tiny-llama") & (table["dataset"] == "Mathematics")].iloc[0]
    assert llama_math["paper_end"] == pytest.approx(0.2831)  # Fig. 2b, last point
    assert table[table["backbone"] == "tiny-qwen"]["paper_end"].isna().all()  # the paper plots LLaMA only
    digest = hashlib.sha256((exp / "figures" / "fig2_weights.png").read_bytes()).hexdigest()
    fig2_weights.write_all(exp)
    assert hashlib.sha256((exp / "figures" / "fig2_weights.png").read_bytes()).hexdigest() == digest


def test_fig4_selects_mospec(exp: Path) -> None:
    fig4_mospec_weights.write_all(exp)
    table = pd.read_csv(exp / "tables" / "fig4_final_weights.csv")
    assert set(table["mixture"]) == {"mospec_diff_ema"}
    math_row = table[table["dataset"] == "Mathematics"].iloc[0]
    assert math_row["change_mean"] == pytest.approx(0.06)  # doubled slope, mean 0.0015 x 20 steps x 2
    assert math_row["paper_end"] == pytest.approx(0.3933)
    assert (exp / "figures" / "fig4_mospec_weights.pdf").stat().st_size > 0


def test_fig4_without_mospec_runs_draws_paper_only(exp: Path) -> None:
    runs = pd.read_csv(exp / "summary" / "runs.csv")
    runs[~runs["mixture"].str.startswith("mospec")].to_csv(exp / "summary" / "runs.csv", index=False)
    fig4_mospec_weights.write_all(exp)
    assert set(pd.read_csv(exp / "figures" / "fig4_mospec_weights.csv")["source"]) == {
        "paper Fig. 4 left", "paper Fig. 4 right"}
    assert "No run has a paper_method starting with 'mospec+'" in (exp / "tables" / "fig4_final_weights.md").read_text()


# ---------------------------------------------------------------- scorecard


def test_scorecard_verdicts(exp: Path) -> None:
    from analysis import scorecard

    table = scorecard.build(scorecard.load(exp)).set_index(["claim", "scope"])
    ema = table.loc[("EMA helps (MoS + X + EMA vs MoS + X, µMU)", "tiny-llama COSSIM")]
    assert ema["reproduced"] == "no" and ema["beyond_ci"] == "yes"  # the decoy MoS + COSSIM is 16 points better
    assert ema["ours"].startswith("MoS + COSSIM + EMA vs MoS + COSSIM: Δ = −16.00 ± ")
    assert table.loc[("EMA helps (MoS + X + EMA vs MoS + X, µMU)", "tiny-qwen DIFF"), "reproduced"] == "n/a"
    best = table.loc[("Best MoS variant beats the best heuristic (µMU)", "tiny-llama")]
    assert best["ours"].startswith("MoS + COSSIM vs TEMP. (τ=10): Δ = +20.00")
    spec = table.loc[("MoSpec beats the math-only model (µALL)", "tiny-llama DIFF")]
    assert spec["reproduced"] == "no" and "Δ = +4.87" in spec["paper"]  # math_only's µALL is 33.33 here
    assert table.loc[("MoS + DIFF + EMA down-weights NLP (Fig. 2b)", "all"), "ours"] == (
        "2 of 2 hold (2 beyond the 95% CI)")
    priors = table.loc[("Every MoS prior beats TEMP. (τ = 10) (Table 3, µMU)", "all")]
    assert priors["ours"].startswith("4 of 4 hold") and priors["reproduced"] == "yes"


def test_scorecard_without_math_benchmark(exp: Path) -> None:
    from analysis import scorecard

    metrics = pd.read_csv(exp / "summary" / "metrics.csv")
    metrics[metrics["benchmark"] != "testbed_math"].to_csv(exp / "summary" / "metrics.csv", index=False)
    written = scorecard.write_all(exp)
    assert [p.name for p in written] == ["scorecard.md", "scorecard.csv", "scorecard.tex"]
    md = (exp / "tables" / "scorecard.md").read_text()
    assert "testbed_math not evaluated" in md
    table = pd.read_csv(exp / "tables" / "scorecard.csv", keep_default_na=False)
    mospec = table[table["claim"] == "MoSpec beats the math-only model (µALL)"]
    assert set(mospec["reproduced"]) == {"n/a"}


def test_scripts_read_what_aggregate_writes(tmp_path: Path) -> None:
    """Run folders as mos.training.loop / mos.evaluation.evaluate write them, without any MoS, MoSpec or testbed_math run."""
    from test_aggregate import make_run  # the run-folder fixture of tests/test_aggregate.py

    from analysis import scorecard
    from mos.pipeline.aggregate import aggregate

    exp = tmp_path / "results" / "demo"
    shutil.copytree(ROOT / "results" / "paper", tmp_path / "results" / "paper")
    aggregate([make_run(tmp_path, "tiny-llama", m, s) for m in ("uniform", "other") for s in (0, 1)], exp / "summary")
    for module in (table3_priors, table5_mospec, fig2_weights, scorecard):
        assert all(p.stat().st_size > 0 for p in module.write_all(exp))
    assert "testbed_math is not in summary/metrics.csv" in (exp / "tables" / "table5_mospec.md").read_text()
