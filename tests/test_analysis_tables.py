"""Tests of Tables 1 and 6 (mos.pipeline.descriptives, analysis/table1_datasets.py, analysis/table6_ppl.py), of the
perplexity-study helpers in mos.pipeline.config and mos.training.base_ppl, and of `python -m analysis`, which
regenerates every table and figure from a copy of snapshots/default/summary and results/paper alone.

    .venv/bin/pytest tests/test_analysis_tables.py -q
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mos.pipeline.config as C
import mos.pipeline.specs as S
from analysis import inference, table1_datasets, table6_ppl
from mos.pipeline import descriptives as stats
from mos.training.base_ppl import pool_indices

ROOT = Path(__file__).resolve().parents[1]
OFFLINE = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def chat(*turns: str, system: str | None = None) -> dict:
    msgs = [{"role": "system", "content": system}] if system else []
    msgs += [{"role": "user" if i % 2 == 0 else "assistant", "content": t} for i, t in enumerate(turns)]
    return {"id": "x", "conversations": msgs, "source": "t"}


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


# ---------------------------------------------------------------- Table 1


def test_dataset_stats_definitions(tmp_path: Path) -> None:
    a = write_jsonl(tmp_path / "a.jsonl", [chat("one two three", "four five"), chat("six", "seven eight nine ten")])
    b = write_jsonl(tmp_path / "b.jsonl", [chat("a b", "c", "d e f g", "h i", system="never counted here")])
    rows = {r["dataset"]: r for r in stats.dataset_stats({"A": a, "B": b})}
    assert list(rows) == ["A", "B", "Total"]
    assert rows["A"] == {"dataset": "A", "examples": 2, "words": 10, "instruction_len_words": 2.0,
                         "response_len_words": 3.0, "turns": 1.0, "turns_total": 2, "instruction_words": 4,
                         "response_words": 6}
    assert rows["B"]["turns"] == 2.0 and rows["B"]["words"] == 9
    assert rows["B"]["instruction_len_words"] == 3.0 and rows["B"]["response_len_words"] == 1.5
    total = rows["Total"]  # lengths over every turn (4 turns), not the mean of the datasets' means
    assert (total["examples"], total["words"], total["turns"]) == (3, 19, 4 / 3)
    assert total["instruction_len_words"] == (4 + 6) / 4 and total["response_len_words"] == (6 + 3) / 4


def test_paper_total_row_weights_lengths_by_turns() -> None:
    """The rule of our Total row is the paper's: its Inst.L is the turn-weighted mean of the datasets'."""
    paper = pd.read_csv(ROOT / "results" / "paper" / "table1_datasets.csv")
    parts = paper[paper["dataset"] != "Total"]
    n = parts["examples"].map(table1_datasets.parse_count)
    turns = n * parts["turns"]
    by_turns = (turns * parts["instruction_len_words"]).sum() / turns.sum()
    by_examples = (n * parts["instruction_len_words"]).sum() / n.sum()
    total = float(paper.loc[paper["dataset"] == "Total", "instruction_len_words"].iloc[0])
    assert abs(by_turns - total) < 0.5 < abs(by_examples - total)


def test_dataset_stats_cli_names_a_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "conversations": []}\n', encoding="utf-8")
    with pytest.raises(SystemExit, match="bad.jsonl"):
        stats.main(["datasets", "--dataset", f"A={bad}", "--out", str(tmp_path / "o.csv")])


@pytest.fixture
def exp(tmp_path: Path) -> Path:
    """results/demo/summary with runs.csv (two tiny backbones) and results/paper/."""
    exp = tmp_path / "results" / "demo"
    (exp / "summary").mkdir(parents=True)
    shutil.copytree(ROOT / "results" / "paper", tmp_path / "results" / "paper")
    runs = [{"backbone": b, "mixture": "proportional", "seed": s, "strategy": "temperature", "params": "{}",
             "paper_backbone": label, "paper_method": "PROP. (τ=1)"}
            for b, label in (("tiny-qwen", "Qwen1.5-0.5B"), ("tiny-llama", "LLaMA-3-8B")) for s in range(3)]
    pd.DataFrame(runs).to_csv(exp / "summary" / "runs.csv", index=False)
    return exp


def test_table1_beside_the_paper(exp: Path) -> None:
    rows = [{"dataset": "Mathematics", "examples": 300, "words": 9000, "instruction_len_words": 10.0,
             "response_len_words": 20.0, "turns": 1.0},
            {"dataset": "NLP", "examples": 700, "words": 7000, "instruction_len_words": 8.0,
             "response_len_words": 2.0, "turns": 1.0},
            {"dataset": "Total", "examples": 1000, "words": 16000, "instruction_len_words": 8.6,
             "response_len_words": 7.4, "turns": 1.0}]
    pd.DataFrame(rows).to_csv(exp / "summary" / "datasets.csv", index=False)
    written = table1_datasets.write_all(exp)
    assert sorted(p.suffix for p in written) == [".csv", ".md", ".tex"]
    table = pd.read_csv(exp / "tables" / "table1_datasets.csv").set_index("dataset")
    assert list(table.index) == ["Mathematics", "NLP", "Medicine", "General", "Total"]  # ours, the paper's, Total
    assert table.loc["Mathematics", "share"] == pytest.approx(0.3)
    assert table.loc["Mathematics", "paper_examples"] == 26200 and table.loc["Total", "paper_words"] == 22.3e6
    assert math.isnan(table.loc["Medicine", "examples"]) and table.loc["Medicine", "paper_turns"] == 1.0
    md = (exp / "tables" / "table1_datasets.md").read_text(encoding="utf-8")
    assert "| Mathematics | 300 | 9,000 | 10.0 | 20.0 | 1.0 | 30.0% | 26.2K | 3.4M |" in md
    assert r"Inst.L" in (exp / "tables" / "table1_datasets.tex").read_text(encoding="utf-8")


def test_table1_without_summary_writes_the_paper_rows(exp: Path, capsys: pytest.CaptureFixture) -> None:
    table1_datasets.write_all(exp)
    assert "datasets.csv is missing" in capsys.readouterr().err
    md = (exp / "tables" / "table1_datasets.md").read_text(encoding="utf-8")
    assert "| Total | – | – | – | – | – | – | 103.4K | 22.3M | 88.4 | 84.3 | 1.2 | 100.0% |" in md
    assert "No summary/datasets.csv" in md


# ---------------------------------------------------------------- Table 6


def base_csv(path: Path, values: dict[tuple[str, int], float]) -> Path:
    rows = [{"dataset": d, "index": i, "ppl_sequence": 2 * v, "ppl_response": v, "n_sequence": 20, "n_response": 5}
            for (d, i), v in values.items()]
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def fake_run(folder: Path, backbone: str, seed: int, values: dict[tuple[str, int], float]) -> Path:
    folder.mkdir(parents=True)
    spec = {"backbone": backbone, "mixture": {"name": "proportional"}, "seed": seed}
    (folder / "run.json").write_text(json.dumps({"spec": spec}), encoding="utf-8")
    base_csv(folder / "ppl.csv", values)
    return folder


def test_ppl_summary_joins_tuned_and_base(tmp_path: Path) -> None:
    base = base_csv(tmp_path / "base.csv", {("Math", 0): 10.0, ("Math", 1): 30.0, ("NLP", 5): 50.0, ("NLP", 9): 1.0})
    run = fake_run(tmp_path / "r0", "tiny", 0, {("Math", 0): 5.0, ("Math", 1): 3.0, ("NLP", 5): 5.0})
    rows = stats.ppl_summary([run], {"tiny/theta0": base})  # a run.json without theta0 ran on θ0 0
    got = {(r["dataset"], r["scope"]): r for r in rows}
    math_resp = got["Math", "response"]
    assert (math_resp["n_examples"], math_resp["ppl_base"], math_resp["ppl_tuned"]) == (2, 20.0, 4.0)
    assert math_resp["ratio"] == pytest.approx(0.2) and math_resp["mean_ratio"] == pytest.approx((0.5 + 0.1) / 2)
    assert got["Math", "sequence"]["ppl_base"] == 40.0 and got["NLP", "response"]["ratio"] == pytest.approx(0.1)
    stray = fake_run(tmp_path / "r1", "tiny", 1, {("Math", 7): 5.0})
    with pytest.raises(stats.StatsError, match="no base perplexity"):
        stats.ppl_summary([stray], {"tiny/theta0": base})
    with pytest.raises(stats.StatsError, match="no --base CSV for θ0 'tiny/theta0'"):
        stats.ppl_summary([run], {"tiny/theta1": base})


def ppl_rows(backbone: str, seed: int, tuned: dict[str, float], base: dict[str, float]) -> list[dict]:
    return [{"backbone": backbone, "mixture": "proportional", "seed": seed, "dataset": d, "scope": scope,
             "n_examples": 64, "ppl_base": base[d] * k, "ppl_tuned": tuned[d] * k,
             "ratio": tuned[d] / base[d], "mean_ratio": tuned[d] / base[d]}
            for d in tuned for scope, k in (("response", 1), ("sequence", 2))]


def log_interval(cells: dict[str, list[float]], which: str) -> tuple[float, float]:
    """By hand: a cell's 95% interval from its own replicates on the log scale, centred on log(mean)."""
    logs = [math.log(v) for v in cells[which]]
    df = len(logs) - 1
    s2 = sum((x - sum(logs) / len(logs)) ** 2 for x in logs) / df
    hw = inference.t_crit(df) * math.sqrt(s2 / len(cells[which]))
    mean = sum(cells[which]) / len(cells[which])
    return mean * math.exp(-hw), mean * math.exp(hw)


def test_table6_mean_ci_over_seeds_and_paper(exp: Path) -> None:
    base = {"Mathematics": 10.0, "NLP": 40.0}
    rows = []
    for seed, t in enumerate((5.0, 6.0, 7.0)):
        rows += ppl_rows("tiny-qwen", seed, {"Mathematics": t, "NLP": 4.0 + seed}, base)
        rows += ppl_rows("tiny-llama", seed, {"Mathematics": t / 2, "NLP": 2.0}, base)
    pd.DataFrame(rows).to_csv(exp / "summary" / "ppl.csv", index=False)
    written = table6_ppl.write_all(exp)
    assert {p.name for p in written} == {f"table6_ppl{s}.{e}" for s in ("", "_sequence") for e in ("md", "csv", "tex")}
    table = pd.read_csv(exp / "tables" / "table6_ppl.csv")
    row = table[(table["backbone"] == "tiny-qwen") & (table["dataset"] == "Mathematics")].iloc[0]
    ratios = {"qm": [0.5, 0.6, 0.7], "qn": [0.1, 0.125, 0.15], "lm": [0.25, 0.3, 0.35], "ln": [0.05] * 3}
    assert (row["n_seeds"], row["ppl_base"]) == (3, 10.0)
    assert row["ratio_mean"] == pytest.approx(0.6)
    assert (row["ratio_lo"], row["ratio_hi"]) == pytest.approx(log_interval(ratios, "qm"), abs=1e-5)  # 6 decimals
    assert (row["paper_backbone"], row["paper_ppl_base"], row["paper_ppl_tuned"], row["paper_ratio"]) == (
        "Qwen1.5-0.5B", 4.18, 2.94, 0.70)
    llama = table[(table["backbone"] == "tiny-llama") & (table["dataset"] == "NLP")].iloc[0]
    assert llama["paper_ratio"] == 0.14  # no spread of its own: a zero-width interval at its mean
    assert (llama["ratio_lo"], llama["ratio_hi"]) == pytest.approx(log_interval(ratios, "ln"), abs=1e-5)
    seq = pd.read_csv(exp / "tables" / "table6_ppl_sequence.csv")
    assert seq["ppl_base"].iloc[0] == 20.0  # the other scope, in its own table
    md = (exp / "tables" / "table6_ppl.md").read_text(encoding="utf-8")
    tuned = {"qm": [5.0, 6.0, 7.0], "qn": [4.0, 5.0, 6.0], "lm": [2.5, 3.0, 3.5], "ln": [2.0] * 3}
    lo, hi = log_interval(tuned, "qm")
    assert f"| tiny-qwen | Mathematics | proportional | 3 | 64 | 10.00 | 6.00 [{lo:.2f}, {hi:.2f}] |" in md
    assert "tiny-qwen: NLP / NLP" in md and "tiny-llama: NLP / NLP" in md
    tex = (exp / "tables" / "table6_ppl.tex").read_text(encoding="utf-8")
    assert r"PPL\_$\theta$0" in tex and r"$\Delta$" in tex


def test_table6_without_summary_writes_the_paper_rows(exp: Path) -> None:
    table6_ppl.write_all(exp)
    table = pd.read_csv(exp / "tables" / "table6_ppl.csv")
    assert len(table) == 12 and table["ratio_mean"].isna().all()
    assert list(table.loc[table["paper_backbone"] == "Gemma-2B", "paper_ratio"]) == [0.39, 0.34, 0.36, 0.10]
    assert "No response rows in summary/ppl.csv" in (exp / "tables" / "table6_ppl.md").read_text(encoding="utf-8")


# ---------------------------------------------------------------- the perplexity study in the config


def test_ppl_study_cells_and_specs() -> None:
    cfg = C.load_config(ROOT / "config" / "config.yaml")
    cells = S.ppl_study_cells(cfg)
    assert cells == [("tiny-llama", "proportional")]  # the default's one backbone
    assert not S.is_proportional(cfg, "math_only")  # τ = 1 on Mathematics only is no PROP. over the grid
    assert S.ppl_study_runs(cfg) == [("tiny-llama", "proportional", 0), ("tiny-llama", "proportional", 1)]
    spec = S.ppl_study_spec(cfg, "tiny-llama", "proportional", 1)
    base = S.base_ppl_spec(cfg, "tiny-llama", 1)  # seed 1 fine-tunes from the θ0 of pretrain seed 1
    assert spec["model"] == "results/default/runs/tiny-llama/proportional/seed1/model"
    assert spec["pool_size"] == S.PPL_STUDY_POOL and base["pool_size"] is None  # DIFF runs read every example
    assert {k: v for k, v in spec.items() if k not in ("model", "pool_size")} == {
        k: v for k, v in base.items() if k not in ("model", "pool_size")}
    with pytest.raises(C.ConfigError, match="not a run of the perplexity study"):
        S.ppl_study_spec(cfg, "tiny-llama", "uniform", 0)


def test_study_examples_are_in_the_base_pool() -> None:
    """The study's subsample is the start of the same random order as θ0's pool, so it is inside it."""
    for n, pool in ((50, None), (3000, 1000), (3000, 300), (3000, None)):
        study = pool_indices(n, S.PPL_STUDY_POOL if pool is None else min(pool, S.PPL_STUDY_POOL), 0, "NLP")
        assert set(study) <= set(pool_indices(n, pool, 0, "NLP"))
        assert len(study) == min(n, S.PPL_STUDY_POOL)


def test_backbone_without_diff_runs_gets_only_the_study_pool() -> None:
    cfg = C.load_config(ROOT / "config" / "config.yaml")
    cfg["grid"] = [{"backbones": ["tiny-qwen"], "mixtures": ["proportional", "uniform"]}]
    assert S.diff_backbones(cfg) == [] and S.base_ppl_backbones(cfg) == ["tiny-qwen"]
    assert S.base_ppl_spec(cfg, "tiny-qwen", 0)["pool_size"] == S.PPL_STUDY_POOL
    cfg["grid"] = [{"backbones": ["tiny-qwen"], "mixtures": ["uniform"]}]
    assert S.ppl_study_cells(cfg) == [] and S.base_ppl_backbones(cfg) == []


def test_base_ppl_runs_several_models_in_one_process(tiny_model_dir: Path, testbed_dir: Path, tmp_path: Path) -> None:
    from mos.training import base_ppl

    datasets = {s: str(testbed_dir / "train" / f"{s}.jsonl") for s in ("Mathematics", "NLP")}
    specs = [{"model": str(tiny_model_dir), "datasets": datasets, "max_length": 64, "pool_size": k, "seed": 0}
             for k in (3, 5)]
    outs = [tmp_path / "a.csv", tmp_path / "b.csv"]
    base_ppl.main([arg for spec, out in zip(specs, outs, strict=True)
                   for arg in ("--spec", json.dumps(spec), "--out", str(out))] + ["--combined", str(tmp_path / "c.csv")])
    a, b, c = (pd.read_csv(p) for p in (*outs, tmp_path / "c.csv"))
    assert (len(a), len(b), len(c)) == (6, 10, 16) and list(c.columns)[0] == "model"
    merged = a.merge(b, on=["dataset", "index"])  # the smaller pool is inside the larger, same values (up to
    # float32 rounding: the two pools pack their examples into batches of other shapes)
    assert len(merged) == 6
    assert np.allclose(merged["ppl_response_x"], merged["ppl_response_y"], rtol=1e-5, atol=0)
    with pytest.raises(SystemExit):
        base_ppl.main(["--spec", json.dumps(specs[0]), "--out", str(outs[0]), "--out", str(outs[1])])


# ---------------------------------------------------------------- regenerate everything from results/ alone


EXPECTED_TABLES = ["table1_datasets", "table2_main_testbed_mc", "table2_skills_testbed_mc", "table3_priors",
                   "table5_mospec", "table6_ppl", "table6_ppl_sequence", "fig2_final_weights", "fig3_final_loss",
                   "fig4_final_weights", "scorecard", "winrate", "power", "leaderboard", "transfer_matrix"]
EXPECTED_FIGURES = ["fig2_weights", "fig3_loss", "fig4_mospec_weights", "leaderboard"]


def test_regenerate_all_from_committed_summaries(tmp_path: Path) -> None:
    """`python -m analysis results/<exp>` on a copy of snapshots/default/summary and results/paper only gives
    the committed tables byte for byte (so a table edited by hand, or code changed without regenerating, fails)."""
    results = tmp_path / "results"
    shutil.copytree(ROOT / "snapshots" / "default" / "summary", results / "default" / "summary")
    shutil.copytree(ROOT / "results" / "paper", results / "paper")
    proc = subprocess.run([sys.executable, "-m", "analysis", str(results / "default")], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, **OFFLINE, "PYTHONPATH": str(ROOT)})  # this checkout's analysis/
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "15 of 15 scripts" in proc.stdout
    tables, figures = results / "default" / "tables", results / "default" / "figures"
    for stem in EXPECTED_TABLES:
        for ext in ("md", "csv", "tex"):
            path = tables / f"{stem}.{ext}"
            assert path.is_file() and path.stat().st_size > 0, path
    for stem in EXPECTED_FIGURES:
        for ext in ("png", "pdf"):
            path = figures / f"{stem}.{ext}"
            assert path.is_file() and path.stat().st_size > 0, path
    # every table written has all three formats (the README's headline text is Markdown only), every figure both
    assert {p.stem for p in tables.glob("*.md")} - {"headline"} == {p.stem for p in tables.glob("*.tex")} == {
        p.stem for p in tables.glob("*.csv")}
    assert {p.stem for p in figures.glob("*.png")} == {p.stem for p in figures.glob("*.pdf")}
    assert (tables / "headline.md").is_file()
    committed = ROOT / "snapshots" / "default"
    compared = [*tables.glob("*.md"), *tables.glob("*.csv"), *tables.glob("*.tex"), *figures.glob("*.csv")]
    differ = [p.relative_to(results).as_posix() for p in compared
              if p.read_bytes() != (committed / p.parent.name / p.name).read_bytes()]
    assert not differ, f"regenerated files differ from the committed ones: {differ} (run `make tables`)"
    assert {p.name for p in compared} == {p.name for p in (committed / "tables").glob("*.*")} | {
        p.name for p in (committed / "figures").glob("*.csv")}
    # nothing outside results/ was needed or written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]


def test_regenerate_reports_a_missing_summary(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "analysis", str(tmp_path / "nothing")], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "no summary folder" in proc.stderr


def test_winrate_table_averages_seeds_and_sums_counts(tmp_path: Path) -> None:
    from analysis import winrate

    exp = tmp_path / "exp"
    (exp / "summary").mkdir(parents=True)
    runs = pd.DataFrame({"backbone": ["b"] * 4, "mixture": ["mos", "mos", "temp", "temp"], "seed": [0, 1, 0, 1],
                         "paper_backbone": ["B"] * 4, "paper_method": ["MoS", "MoS", "TEMP.", "TEMP."]})
    runs.to_csv(exp / "summary" / "runs.csv", index=False)
    pd.DataFrame([{"backbone": "b", "mixture": "mos", "seed": s, "benchmark": "testbed_chat", "reference": "temp",
                   "judge": "reference", "win_rate": w, "standard_error": 1.0, "n_wins": nw, "n_wins_base": nl,
                   "n_draws": nd, "n_total": 10, "discrete_win_rate": w}
                  for s, w, nw, nl, nd in ((0, 60.0, 5, 3, 2), (1, 80.0, 7, 1, 2))]
                 ).to_csv(exp / "summary" / "winrate.csv", index=False)
    winrate.write_all(exp)
    table = pd.read_csv(exp / "tables" / "winrate.csv")
    assert table.loc[0, "mean"] == 70.0 and table.loc[0, "n_wins"] == 12 and table.loc[0, "n_draws"] == 4
    assert "12 / 4 / 4" in (exp / "tables" / "winrate.md").read_text()


def test_winrate_interval_keeps_the_judging_error_when_theta0s_tie(tmp_path: Path) -> None:
    """Two θ0s with the same (discrete) win rate: the sample SD is 0, but each win rate was judged on a
    finite number of pairs, so the interval keeps that sampling error and does not exclude 50 by itself."""
    from scipy import stats as scipy_stats

    from analysis import winrate

    exp = tmp_path / "exp"
    (exp / "summary").mkdir(parents=True)
    runs = pd.DataFrame({"backbone": ["b"] * 2, "mixture": ["mos"] * 2, "seed": [0, 1], "theta0": [0, 1],
                         "paper_backbone": ["B"] * 2, "paper_method": ["MoS"] * 2})
    runs.to_csv(exp / "summary" / "runs.csv", index=False)
    pd.DataFrame([{"backbone": "b", "mixture": "mos", "seed": s, "benchmark": "testbed_chat", "reference": "temp",
                   "judge": "reference", "win_rate": 52.25, "standard_error": 2.3, "n_wins": 47, "n_wins_base": 38,
                   "n_draws": 115, "n_total": 200, "discrete_win_rate": 52.25} for s in (0, 1)]
                 ).to_csv(exp / "summary" / "winrate.csv", index=False)
    winrate.write_all(exp)
    row = pd.read_csv(exp / "tables" / "winrate.csv").iloc[0]
    floor = 2.3 / 2 ** 0.5  # sqrt(mean SE² / 2 runs)
    t = scipy_stats.t.ppf(0.975, 1)
    assert row["delta_mean"] == pytest.approx(2.25)
    assert row["delta_hi"] - row["delta_lo"] == pytest.approx(2 * t * floor, rel=1e-6)
    assert row["lo"] <= 50 + row["delta_lo"] and row["hi"] >= 50 + row["delta_hi"]
    assert not bool(row["beyond_ci"]) and row["mde"] > 0
