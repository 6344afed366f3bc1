"""Tests of analysis/: confidence intervals, macro-average check, Table 2 numbers and best row, Figure 3.

    .venv/bin/pytest tests/test_analysis.py
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from analysis import common, fig3_loss, inference, table2_main, values

ROOT = Path(__file__).resolve().parent.parent
T975 = {1: 12.7062047, 2: 4.30265273, 4: 2.77644511, 9: 2.26215716, 30: 2.04227246}  # Student t, 97.5%
MU = {("tiny-llama", "proportional"): [0.30, 0.32, 0.34], ("tiny-llama", "uniform"): [0.40, 0.41, 0.42],
      ("tiny-qwen", "proportional"): [0.28, 0.29, 0.30], ("tiny-qwen", "uniform"): [0.20, 0.21, 0.22]}
PAPER = {"tiny-llama": "LLaMA-3-8B", "tiny-qwen": "Qwen1.5-0.5B"}
METHOD = {"proportional": "PROP. (τ=1)", "uniform": "UNI. (τ=∞)"}


def subject_rows(mu: float) -> list[tuple[str, str, str, float]]:
    """Subjects whose unweighted mean is `mu` but whose group means average to something else."""
    return [("subject", "math/a", "Mathematics", mu - 0.05), ("subject", "med/a", "Medicine", mu + 0.01),
            ("subject", "gen/a", "General", mu + 0.02), ("subject", "gen/b", "General", mu + 0.02),
            ("subject", "nlp/a", "NLP", mu)]


def metric_rows(backbone: str, mixture: str, seed: int, mu: float) -> list[dict]:
    rows = subject_rows(mu)
    out = [{"scope": "overall", "name": "all", "value": mu}]
    groups = {"Mathematics": ["Mathematics"], "Medicine": ["Medicine"], "Others": ["General", "NLP"]}
    for group, skills in groups.items():
        vals = [v for _, _, s, v in rows if s in skills]
        out.append({"scope": "group", "name": group, "value": sum(vals) / len(vals)})
    for skill in ("NLP", "General", "Medicine", "Mathematics"):  # deliberately not the display order
        vals = [v for _, _, s, v in rows if s == skill]
        out.append({"scope": "skill", "name": skill, "value": sum(vals) / len(vals)})
    out += [{"scope": sc, "name": name, "value": v} for sc, name, _, v in rows]
    key = {"backbone": backbone, "mixture": mixture, "seed": seed, "benchmark": "testbed_mc", "metric": "acc",
           "n_items": 10}
    return [{**key, **r} for r in out]


@pytest.fixture
def exp(tmp_path: Path) -> Path:
    """results/<exp>/summary with 2 backbones x 2 mixtures x 3 seeds, plus results/paper/."""
    exp = tmp_path / "results" / "demo"
    (exp / "summary").mkdir(parents=True)
    shutil.copytree(ROOT / "results" / "paper", tmp_path / "results" / "paper")
    runs, metrics, logs = [], [], []
    for (backbone, mixture), mus in MU.items():
        for seed, mu in enumerate(mus):
            runs.append({"backbone": backbone, "mixture": mixture, "seed": seed, "strategy": "temperature",
                         "params": "{}", "paper_backbone": PAPER[backbone], "paper_method": METHOD[mixture]})
            metrics += metric_rows(backbone, mixture, seed, mu)
            logs += [{"backbone": backbone, "mixture": mixture, "seed": seed, "step": s,
                      "loss": 2.0 - s / 100 + seed / 10, "lr": 0.001, "tokens": 10 * s} for s in range(10, 110, 10)]
    pd.DataFrame(runs).to_csv(exp / "summary" / "runs.csv", index=False)
    pd.DataFrame(metrics).to_csv(exp / "summary" / "metrics.csv", index=False)
    pd.DataFrame(logs).to_csv(exp / "summary" / "train_log.csv", index=False)
    return exp


# ---------------------------------------------------------------- statistics


@pytest.mark.parametrize("dof", sorted(T975))
def test_t_quantile_matches_tables(dof: int) -> None:
    assert inference.t_crit(dof) == pytest.approx(T975[dof], abs=1e-6)


def test_seed_stats_use_each_cells_own_replicates() -> None:
    """Each cell's interval from its own replicates (seeds, or θ0s where the frame names them): s² = 1 for
    values 1, 2, 3 and 3 for 5, 5, 8, each on 2 df; nothing pooled across cells (their spreads differ)."""
    df = pd.DataFrame({"backbone": "b", "mixture": ["m"] * 3 + ["n"] * 3, "seed": [0, 1, 2] * 2,
                       "value": [1.0, 2.0, 3.0, 5.0, 5.0, 8.0]})
    stats = common.seed_stats(df, ["backbone", "mixture"]).set_index("mixture")
    t2 = stats_t975_2 = 4.302652729911275  # Student t, 0.975 quantile, 2 df
    assert (stats.loc["m", "mean"], stats.loc["m", "n"]) == (2.0, 3)
    assert stats.loc["m", "lo"] == pytest.approx(2.0 - t2 * 1.0 / math.sqrt(3))
    assert stats.loc["n", "hi"] == pytest.approx(6.0 + stats_t975_2 * math.sqrt(3.0) / math.sqrt(3))
    # seeds of one θ0 are averaged first: two θ0s of two seeds each are two replicates (1 df)
    theta = df.assign(theta0=["0", "0", "1", "0", "0", "1"], seed=[0, 1, 2, 0, 1, 2])
    st = common.seed_stats(theta, ["backbone", "mixture"]).set_index("mixture")
    assert st.loc["m", "n"] == 2 and st.loc["m", "mean"] == pytest.approx((1.5 + 3.0) / 2)
    one = common.seed_stats(df.iloc[[0, 3]], ["backbone", "mixture"])  # one seed per cell: no interval
    assert one["lo"].isna().all() and list(one["mean"]) == [1.0, 5.0]
    assert common.fmt_interval(5.0, math.nan, math.nan) == "5.00"
    assert common.fmt_interval(2.0, 0.5, 3.25) == "2.00 [0.50, 3.25]"
    assert common.fmt_signed(-1.0, -2.5, 0.25) == "−1.00 [−2.50, +0.25]"


def test_label_key_matches_paper_spellings() -> None:
    assert common.label_key("PROP (tau=1)") == common.label_key("PROP. (τ = 1)")
    assert common.label_key("UNI (tau=inf)") == common.label_key("UNI. (τ=∞)")
    assert common.label_key("MoS+DIFF+EMA") == common.label_key("MoS + DIFF + EMA")
    assert common.label_key("TEMP. (τ=10)") != common.label_key("TEMP. (τ=1)")


def test_macro_average_check_catches_group_mean(exp: Path) -> None:
    metrics = common.load_summary(exp, "metrics")
    assert common.macro_average_mismatches(metrics).empty
    # a wrong µMU: mean of the three group values instead of the mean over the five subjects
    wrong = metrics.copy()
    groups = wrong[wrong["scope"] == "group"].groupby(["backbone", "mixture", "seed"])["value"].mean()
    overall = wrong["scope"] == "overall"
    wrong.loc[overall, "value"] = [groups[k] for k in zip(wrong.loc[overall, "backbone"], wrong.loc[overall, "mixture"],
                                                          wrong.loc[overall, "seed"], strict=True)]
    assert len(common.macro_average_mismatches(wrong)) == 12


# ---------------------------------------------------------------- Table 2


def test_table2_numbers_best_and_paper(exp: Path) -> None:
    runs, metrics = common.load_runs(exp), common.load_summary(exp, "metrics")
    paper = pd.read_csv(exp.parent / "paper" / "table2_main.csv")
    table, display, metric = table2_main.build(metrics, runs, paper, "testbed_mc")
    assert metric == "acc"
    assert list(table["backbone"]) == ["tiny-llama", "tiny-llama", "tiny-qwen", "tiny-qwen"]  # runs.csv order
    row = table.iloc[0]
    assert row["mu_mmlu_mean"] == pytest.approx(32.0)
    # by hand: the cell's own three replicates on the scaled logit z = log((y + .5) / (100.5 − y)), 2 df,
    # centred on z(32)
    z = [math.log((100 * v + 0.5) / (100.5 - 100 * v)) for v in MU[next(iter(MU))]]
    s2 = sum((x - sum(z) / 3) ** 2 for x in z) / 2
    hw = 4.30265273 * math.sqrt(s2 / 3)  # t(0.975, 2)

    def back(x: float) -> float:
        return -0.5 + 101 / (1 + math.exp(-x))

    centre = math.log(32.5 / 68.5)
    assert (row["mu_mmlu_lo"], row["mu_mmlu_hi"]) == pytest.approx((back(centre - hw), back(centre + hw)))
    assert row["mmlu_math_mean"] == pytest.approx(27.0) and row["n_seeds"] == 3
    assert row["mmlu_others_mean"] == pytest.approx(32.0 + 4 / 3)  # mean of its three subjects 34, 34, 32
    assert list(table["best"]) == [False, True, True, False]
    assert (row["paper_mu_mmlu"], row["paper_mmlu_math"]) == (56.78, 26.61)  # LLaMA-3-8B, PROP. (τ=1)
    assert table.iloc[3]["paper_mu_mmlu"] == 31.52  # Qwen1.5-0.5B, UNI. (τ=∞)
    assert display.loc[1, "µMU"].startswith("**41.00 [") and not display.loc[0, "µMU"].startswith("**")
    assert list(display.columns[:7]) == ["Backbone", "Mixture", "Seeds", "µMU", "Math", "Med.", "Others"]


def test_skill_table_columns_in_canonical_order(exp: Path) -> None:
    runs, metrics = common.load_runs(exp), common.load_summary(exp, "metrics")
    table, display, _ = table2_main.build(metrics, runs, None, "testbed_mc", kind="skill")
    assert list(display.columns) == ["Backbone", "Mixture", "Seeds", "µMU", "Mathematics", "Medicine", "General", "NLP"]
    assert table.iloc[0]["skill_general_mean"] == pytest.approx(34.0)
    assert table.iloc[0]["skill_medicine_mean"] == pytest.approx(33.0)


def test_table2_script_writes_files(exp: Path) -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "analysis" / "table2_main.py"), str(exp)],
                          capture_output=True, text=True, cwd=exp.parent.parent,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})  # this checkout's analysis/
    assert proc.returncode == 0, proc.stderr
    tables = exp / "tables"
    for stem in ("table2_main_testbed_mc", "table2_skills_testbed_mc"):
        for suffix in (".md", ".csv", ".tex"):
            assert (tables / f"{stem}{suffix}").stat().st_size > 0
    md = (tables / "table2_main_testbed_mc.md").read_text()
    assert "| tiny-llama | uniform | 3 | **41.00 [" in md and "56.78" in md
    assert "41.00 [" in (tables / "table2_main_testbed_mc.tex").read_text()
    assert len(pd.read_csv(tables / "table2_main_testbed_mc.csv")) == 4


def test_one_seed_has_empty_ci(exp: Path) -> None:
    metrics = common.load_summary(exp, "metrics")
    metrics = metrics[metrics["seed"] == 0]
    table, display, _ = table2_main.build(metrics, common.load_runs(exp), None, "testbed_mc")
    assert table["mu_mmlu_lo"].isna().all() and (table["n_seeds"] == 1).all()
    assert display.loc[0, "µMU"] == "30.00"


# ---------------------------------------------------------------- Figure 3


def test_loss_curves_and_final_loss(exp: Path) -> None:
    runs = common.load_runs(exp)
    log = common.load_summary(exp, "train_log")
    curves = fig3_loss.loss_curves(log, runs, window=1)
    first = curves.iloc[0]
    assert (first["backbone"], first["mixture"], first["step"]) == ("tiny-llama", "proportional", 10)
    assert first["mean"] == pytest.approx(2.0 - 0.1 + 0.1)  # seeds add 0, 0.1, 0.2
    # by hand: the cell's losses at a step are x, x + 0.1, x + 0.2: its own SD on the log scale, 2 df
    logs = [math.log(1.9 + d) for d in (0.0, 0.1, 0.2)]
    s2 = sum((v - sum(logs) / 3) ** 2 for v in logs) / 2
    hw = 4.30265273 * math.sqrt(s2 / 3)
    assert (first["lo"], first["hi"]) == pytest.approx((2.0 * math.exp(-hw), 2.0 * math.exp(hw)))
    smoothed = fig3_loss.smooth(log[(log["seed"] == 0) & (log["mixture"] == "uniform")], window=3)
    assert smoothed["loss"].iloc[1] == pytest.approx(2.0 - 0.2)  # centred mean of a straight line
    finals = values.final_losses(log)
    assert finals.iloc[0]["value"] == pytest.approx(2.0 - 1.0)  # last 10% of 10 points: step 100


def test_fig3_writes_figure_and_table(exp: Path) -> None:
    written = fig3_loss.write_all(exp)
    for path in ("figures/fig3_loss.png", "figures/fig3_loss.pdf", "figures/fig3_loss.csv",
                 "tables/fig3_final_loss.md", "tables/fig3_final_loss.tex"):
        assert (exp / path).stat().st_size > 0 and exp / path in written
    table = pd.read_csv(exp / "tables" / "fig3_final_loss.csv")
    paper = pd.read_csv(exp.parent / "paper" / "fig3_training_loss.csv").tail(10)
    llama_prop = table[(table["backbone"] == "tiny-llama") & (table["mixture"] == "proportional")].iloc[0]
    assert llama_prop["paper_final_loss"] == pytest.approx(paper["PROP (tau=1)"].mean())
    assert table[table["backbone"] == "tiny-qwen"]["paper_final_loss"].isna().all()  # Fig. 3 is LLaMA only


def test_scripts_read_what_aggregate_writes(tmp_path: Path) -> None:
    from test_aggregate import make_run  # the run-folder fixture of tests/test_aggregate.py

    from mos.pipeline.aggregate import aggregate

    exp = tmp_path / "results" / "demo"
    shutil.copytree(ROOT / "results" / "paper", tmp_path / "results" / "paper")
    dirs = [make_run(tmp_path, "tiny-llama", m, s, acc=0.2 + 0.1 * s) for m in ("uniform", "other") for s in (0, 1)]
    aggregate(dirs, exp / "summary")
    table2_main.write_all(exp)
    fig3_loss.write_all(exp, window=1)
    table = pd.read_csv(exp / "tables" / "table2_main_testbed_mc.csv")
    assert list(table["mixture"]) == ["uniform", "other"]
    assert table["mu_mmlu_mean"].tolist() == pytest.approx([25.0, 25.0])
    assert table.loc[0, "paper_mu_mmlu"] == 55.72 and pd.isna(table.loc[1, "paper_mu_mmlu"])  # no paper label
    assert table["mmlu_medicine_mean"].isna().all()  # the fixture has no Medicine group
    assert (exp / "figures" / "fig3_loss.pdf").is_file()


def test_experiment_dir_needs_a_summary(tmp_path: Path, exp: Path) -> None:
    assert common.experiment_dir([str(exp)]) == exp
    with pytest.raises(FileNotFoundError, match="python -m mos aggregate"):
        common.experiment_dir([str(tmp_path / "nothing")])
    (exp / "summary" / "runs.csv").unlink()
    with pytest.raises(FileNotFoundError, match="runs.csv"):
        table2_main.write_all(exp)
