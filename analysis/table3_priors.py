"""Table 3 of the paper: MoS with different sampling priors (τ = 1, 10, ∞) against TEMP. (τ = 10).

    python analysis/table3_priors.py results/<exp>

Reads results/<exp>/summary/{runs,metrics}.csv and results/paper/table3_priors_llama3_8b.csv. For
every backbone that has a prior-study mixture (a run whose paper_method reads "MoS + … + EMA, prior
τ = 1" or "…, prior τ = 10") it lists the paper's seven rows in the paper's order: TEMP. (τ = 10), and
MoS + COSSIM + EMA / MoS + DIFF + EMA with prior τ = 1, 10 and ∞ (the τ = ∞ rows are the runs labelled
plainly "MoS + COSSIM + EMA" / "MoS + DIFF + EMA", the uniform prior of the main table). Columns: µMU
(the multiple-choice benchmark's overall accuracy, testbed_mc when present) and the per-skill accuracies,
and, when a judged two-turn benchmark was run, µMB and µBOTH = (µMU + 10 · µMB) / 2 as in table2_main,
in % as mean ± 95% CI over seeds; µMU's difference to the TEMP. row with the CI of the difference; and the
paper's µBOTH / µMU / µMB and µMU difference. Writes results/<exp>/tables/table3_priors.{md,csv,tex}.
Without any prior-study run it still writes the table, with the paper's rows only and a note.
A jupytext percent script: it also opens as a notebook.
"""

# %%
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import common, table2_main

PAPER_FILE = "table3_priors_llama3_8b.csv"
PREFERRED_BENCHMARK = "testbed_mc"
REFERENCE = "TEMP. (τ = 10)"
# The paper's Table 3 rows, in its order (used when results/paper/ lacks the file).
METHODS = (REFERENCE,
           "MoS + COSSIM + EMA, prior τ = 1", "MoS + COSSIM + EMA, prior τ = 10", "MoS + COSSIM + EMA, prior τ = ∞",
           "MoS + DIFF + EMA, prior τ = 1", "MoS + DIFF + EMA, prior τ = 10", "MoS + DIFF + EMA, prior τ = ∞")
PAPER_COLUMNS = {"mu_both": "µBOTH", "mu_mmlu": "µMU", "mu_mtbench": "µMB"}
UNIFORM_PRIOR = ", prior τ = ∞"

# %% [markdown]
# ## Statistics shared with the other tables: the difference of two means and its CI

# %%


def mean_diff_ci(a: Iterable[float], b: Iterable[float],
                 confidence: float = common.CONFIDENCE) -> tuple[float, float]:
    """mean(a) − mean(b) and the half-width of its Welch confidence interval (independent seeds).

    The degrees of freedom (Welch–Satterthwaite) are rounded down, which widens the interval a little.
    The half-width is NaN when either side has fewer than two values; 0 when both have no spread.
    """
    x = np.asarray([v for v in a if not pd.isna(v)], dtype=float)
    y = np.asarray([v for v in b if not pd.isna(v)], dtype=float)
    if len(x) == 0 or len(y) == 0:
        return math.nan, math.nan
    diff = float(x.mean() - y.mean())
    if len(x) < 2 or len(y) < 2:
        return diff, math.nan
    vx, vy = x.var(ddof=1) / len(x), y.var(ddof=1) / len(y)
    se = math.sqrt(vx + vy)
    if se == 0:
        return diff, 0.0
    dof = (vx + vy) ** 2 / (vx ** 2 / (len(x) - 1) + vy ** 2 / (len(y) - 1))
    return diff, common.t_quantile(confidence, max(1, math.floor(dof + 1e-6))) * se  # 1e-6: rounding noise


def significant(diff: float, ci: float) -> bool:
    """True when the confidence interval diff ± ci excludes 0."""
    return not pd.isna(diff) and not pd.isna(ci) and abs(diff) > ci


# %% [markdown]
# ## Which runs are the paper's rows

# %%


def row_keys(method: str) -> set[str]:
    """Keys (common.label_key) of the run labels that stand for one Table 3 row.

    A "…, prior τ = ∞" row is also the run labelled without the prior (the uniform prior is MoS's default).
    """
    keys = {common.label_key(method)}
    if common.label_key(method).endswith(common.label_key(UNIFORM_PRIOR)):
        keys.add(common.label_key(method[: method.rindex(",")]))
    return keys


def is_prior_study(label: str) -> bool:
    """True for a run label of a non-default prior, e.g. 'MoS + DIFF + EMA, prior τ = 1'."""
    key = common.label_key(label)
    return "prior" in key and not key.endswith(common.label_key(UNIFORM_PRIOR))


def prior_backbones(runs: pd.DataFrame) -> list[str]:
    """Backbones (runs.csv order) with at least one prior-study run."""
    return list(dict.fromkeys(runs.loc[runs["paper_method"].map(is_prior_study), "backbone"]))


def match_rows(runs: pd.DataFrame, methods: Sequence[str], backbones: Sequence[str]) -> pd.DataFrame:
    """backbone, mixture ('' when not run), method: one row per backbone x paper row, in the paper's order.

    When several mixtures of a backbone carry the same label, the first in runs.csv order is used.
    """
    labels = common.paper_labels(runs)
    rows = []
    for backbone in backbones:
        mine = labels[labels["backbone"] == backbone]
        keys = mine["paper_method"].map(common.label_key)
        for method in methods:
            hit = mine.loc[keys.isin(row_keys(method)), "mixture"]
            rows.append({"backbone": backbone, "mixture": hit.iloc[0] if len(hit) else "", "method": method})
    return pd.DataFrame(rows, columns=["backbone", "mixture", "method"])


# %% [markdown]
# ## Benchmark, columns and seed statistics

# %%


def pick_benchmark(metrics: pd.DataFrame, preferred: str = PREFERRED_BENCHMARK) -> str | None:
    """testbed_mc when metrics.csv has it, else the first benchmark with group rows (an MMLU), else None."""
    found = table2_main.mc_benchmarks(metrics)
    return preferred if preferred in found else (found[0] if found else None)


def column_spec(metrics: pd.DataFrame, benchmark: str | None) -> dict[tuple[str, str | None], tuple[str, str]]:
    """µMU and the per-skill columns (the per-group ones when the benchmark has no skill rows)."""
    if benchmark is None:
        return {("overall", None): ("mu_mmlu", "µMU")}
    bench = metrics[metrics["benchmark"] == benchmark]
    kind = "skill" if (bench["scope"] == "skill").any() else "group"
    return table2_main.column_spec(bench, kind)


def per_seed(metrics: pd.DataFrame, benchmark: str | None, spec: dict) -> tuple[pd.DataFrame, str]:
    """Long rows backbone, mixture, seed, column, value (%) and the metric used."""
    if benchmark is None:
        return pd.DataFrame(columns=["backbone", "mixture", "seed", "column", "value"]), ""
    metric = table2_main.pick_metric(metrics, benchmark)
    return table2_main.long_values(metrics, benchmark, metric, spec), metric


def build(metrics: pd.DataFrame, runs: pd.DataFrame, paper: pd.DataFrame | None,
          ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, object]]:
    """The numeric table, its display form and facts for the notes (benchmark, metric, missing rows)."""
    methods = list(paper["method"]) if paper is not None else list(METHODS)
    backbones = prior_backbones(runs)
    benchmark = pick_benchmark(metrics)
    spec = column_spec(metrics, benchmark)
    values, metric = per_seed(metrics, benchmark, spec)
    chat = table2_main.chat_benchmark(metrics)
    if chat is not None and benchmark is not None:  # µBOTH and µMB, as the paper's Table 3
        mb = table2_main.chat_values(metrics, chat)
        values = pd.concat([values, mb[mb["column"] == "mu_mtbench"]], ignore_index=True)
        values = pd.concat([values, table2_main.mu_both_values(values)], ignore_index=True)
        spec = {("both", None): table2_main.MU_BOTH, **spec, ("chat", "mu"): ("mu_mtbench", "µMB")}
    keys = [key for key, _ in spec.values()]
    rows = match_rows(runs, methods, backbones or [""])
    table = rows.copy()
    table["n_seeds"] = 0
    for key in keys:
        table[f"{key}_mean"], table[f"{key}_ci"] = math.nan, math.nan
    for i, row in rows.iterrows():
        mine = values[(values["backbone"] == row["backbone"]) & (values["mixture"] == row["mixture"])]
        for key in keys:
            mean, ci, n = common.mean_ci(mine.loc[mine["column"] == key, "value"])
            table.loc[i, [f"{key}_mean", f"{key}_ci"]] = mean, ci
            table.loc[i, "n_seeds"] = max(table.loc[i, "n_seeds"], n)
    table = add_reference_diff(table, values)
    table = add_paper(table, paper)
    table.insert(3, "benchmark", benchmark or "")
    table.insert(4, "metric", metric)
    facts = {"benchmark": benchmark, "metric": metric, "backbones": backbones,
             "missing": [f"{r.backbone}: {r.method}" for r in table.itertuples() if r.backbone and not r.mixture]}
    return table, display_frame(table, spec), facts


def add_reference_diff(table: pd.DataFrame, values: pd.DataFrame) -> pd.DataFrame:
    """delta_temp_mean / _ci: each row's µMU minus the TEMP. row's µMU of its backbone (Welch CI)."""
    mu = values[values["column"] == "mu_mmlu"]
    out = table.copy()
    out["delta_temp_mean"], out["delta_temp_ci"] = math.nan, math.nan
    for backbone, rows in out.groupby("backbone", sort=False):
        ref = rows.loc[rows["method"].map(common.label_key) == common.label_key(REFERENCE), "mixture"]
        if not len(ref) or not ref.iloc[0]:
            continue
        ref_values = mu.loc[(mu["backbone"] == backbone) & (mu["mixture"] == ref.iloc[0]), "value"]
        for i, mixture in rows["mixture"].items():
            mine = mu.loc[(mu["backbone"] == backbone) & (mu["mixture"] == mixture), "value"]
            out.loc[i, ["delta_temp_mean", "delta_temp_ci"]] = mean_diff_ci(mine, ref_values)
    return out


def add_paper(table: pd.DataFrame, paper: pd.DataFrame | None) -> pd.DataFrame:
    """paper_<column> for µBOTH / µMU / µMB, and paper_delta_temp (the paper's µMU minus its TEMP. µMU)."""
    out = table.copy()
    if paper is None:
        for key in [*PAPER_COLUMNS, "delta_temp"]:
            out[f"paper_{key}"] = math.nan
        return out
    ref = paper.assign(_k=paper["method"].map(common.label_key)).drop_duplicates("_k").set_index("_k")
    index = out["method"].map(common.label_key)
    for key in PAPER_COLUMNS:
        out[f"paper_{key}"] = ref[key].reindex(index).to_numpy() if key in ref.columns else math.nan
    temp = ref["mu_mmlu"].get(common.label_key(REFERENCE), math.nan) if "mu_mmlu" in ref.columns else math.nan
    out["paper_delta_temp"] = out["paper_mu_mmlu"] - temp
    return out


# %% [markdown]
# ## Display

# %%


def display_frame(table: pd.DataFrame, spec: dict[tuple[str, str | None], tuple[str, str]]) -> pd.DataFrame:
    """Mean ± CI cells; the best run of each backbone in bold per column; the paper's numbers beside."""
    out = pd.DataFrame({"Backbone": table["backbone"], "Mixture": table["mixture"], "Method": table["method"],
                        "Seeds": table["n_seeds"]})
    for key, header in spec.values():
        cells = [common.fmt_mean_ci(m, c) for m, c in zip(table[f"{key}_mean"], table[f"{key}_ci"], strict=True)]
        bold = table2_main.best_rows(table, f"{key}_mean")
        out[header] = [f"**{c}**" if b else c for c, b in zip(cells, bold, strict=True)]
    is_ref = table["method"].map(common.label_key) == common.label_key(REFERENCE)
    out["µMU − TEMP."] = ["ref." if r else fmt_signed(m, c)
                             for m, c, r in zip(table["delta_temp_mean"], table["delta_temp_ci"], is_ref, strict=True)]
    for key, header in PAPER_COLUMNS.items():
        out[f"Paper {header}"] = table[f"paper_{key}"].map(common.fmt_number)
    out["Paper µMU − TEMP."] = ["ref." if r else fmt_signed(v, math.nan)
                                   for v, r in zip(table["paper_delta_temp"], is_ref, strict=True)]
    return out


def fmt_signed(mean: float, ci: float, digits: int = 2) -> str:
    """'+1.20 ± 0.80', '−0.35', or '–' without a value."""
    if pd.isna(mean):
        return "–"
    text = f"{mean:+.{digits}f}".replace("-", "−")
    return text if pd.isna(ci) else f"{text} ± {ci:.{digits}f}"


def notes(facts: dict[str, object]) -> list[str]:
    """The sentences under the table."""
    out = [f"Benchmark: {facts['benchmark'] or 'none'}, metric {facts['metric'] or '–'}, in %. " + common.SEED_NOTE,
           "µMU − TEMP.: difference of the seed means with the half-width of its 95% Welch interval. "
           "Bold: the best run of each backbone in that column.",
           "The τ = ∞ rows are the runs labelled 'MoS + COSSIM + EMA' / 'MoS + DIFF + EMA' (uniform prior, as in "
           "the paper's Table 2). The Paper columns are the paper's Table 3 (LLaMA-3-8B; µMB on MT-Bench's 1–10 "
           "scale, which the testbed does not reproduce): compare orderings, not levels."]
    if not facts["backbones"]:
        out.append("No run of this experiment has a prior-study mixture (paper_method '…, prior τ = 1' or "
                   "'…, prior τ = 10'): only the paper's rows are shown.")
    if facts["missing"]:
        out.append("Not run: " + "; ".join(facts["missing"]) + ".")
    return out


def write_all(exp: Path) -> list[Path]:
    """Build and write table3_priors.{md,csv,tex} for one experiment folder."""
    runs = common.load_runs(exp)
    metrics = common.load_summary(exp, "metrics", ["backbone", "mixture", "seed", "benchmark", "scope", "name",
                                                    "metric", "value"])
    paper_path = common.paper_dir(exp) / PAPER_FILE
    paper = common.read_csv(paper_path, ["method"]) if paper_path.is_file() else None
    table, display, facts = build(metrics, runs, paper)
    title = "Table 3: sampling priors of MoS, µMU and per-skill accuracy (%)"
    return common.write_table(display, table, exp / "tables" / "table3_priors", title, notes(facts))


# %%
if __name__ == "__main__":
    for path in write_all(common.experiment_dir()):
        print(path)
