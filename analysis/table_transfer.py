"""Transfer matrix: accuracy on every skill of models trained on one skill alone (and on mixtures).

    python analysis/table_transfer.py results/<exp>

Reads results/<exp>/summary/{runs,metrics,trajectory}.csv. A row per backbone x mixture: what the
run trained on — one dataset alone ("Mathematics only", found from the datasets in its
trajectory.csv, i.e. the datasets it could sample), or every dataset under a fixed temperature
(labelled with the mixture's paper_method, e.g. "PROP. (τ=1)"; learned mixtures are Table 2's) —
single-dataset rows first, in the order of the datasets' columns, and only the backbones that have
single-dataset runs. Columns, in % as mean and 95% interval over seeds (analysis/inference.py):

* one per testbed_mc skill (scope `skill`, accuracy, macro-averaged over the skill's subjects),
  the skills in the order of the training datasets with the same name, then any other skill;
* GSM8K-an. and MATH-an.: testbed_math exact match, subjects one_step (the kind of problem the
  Mathematics skill trains on) and two_step (two chained operations, trained nowhere as such).

Every run of a row must have the same budget (steps x examples, from runs.csv) as every other row
of its backbone, so the rows compare what the data teaches, not how much training it got.
Writes results/<exp>/tables/transfer_matrix.{md,csv,tex}.
A jupytext percent script: it also opens as a notebook.
"""

# %%
from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis import common, inference

# What this script reads and writes, for `python -m analysis` and the workflow (analysis/__init__.py).
SCRIPT = {"reads": ["runs.csv", "metrics.csv", "trajectory.csv"], "when": "transfer",
          "writes": ["tables/transfer_matrix.md", "tables/transfer_matrix.csv", "tables/transfer_matrix.tex"]}
MC, MATH = "testbed_mc", "testbed_math"
MATH_COLUMNS = (("one_step", "GSM8K-an."), ("two_step", "MATH-an."))
ONLY = " only"  # row label suffix of a single-dataset run

# %% [markdown]
# ## What each run trained on

# %%


def trained_on(trajectory: pd.DataFrame) -> pd.DataFrame:
    """backbone, mixture, datasets (tuple, trajectory order): the datasets each cell samples from."""
    rows = []
    for (backbone, mixture), group in trajectory.groupby(["backbone", "mixture"], sort=False):
        rows.append({"backbone": backbone, "mixture": mixture, "datasets": tuple(dict.fromkeys(group["dataset"]))})
    return pd.DataFrame(rows, columns=["backbone", "mixture", "datasets"])


def row_label(datasets: tuple[str, ...], paper_method: str, mixture: str) -> str:
    """'<Dataset> only' for a single-dataset run, else the mixture's paper label (or its name)."""
    if len(datasets) == 1:
        return datasets[0] + ONLY
    return paper_method or mixture


def check_budgets(runs: pd.DataFrame) -> None:
    """Every run of a backbone trained on the same number of examples (equal budgets)."""
    if "examples" not in runs.columns:
        return
    for backbone, group in runs.groupby("backbone", sort=False):
        budgets = sorted(set(group["examples"].dropna().astype(int)))
        if len(budgets) > 1:
            raise ValueError(f"summary/runs.csv: backbone {backbone!r} has runs with different budgets "
                             f"(examples {budgets}); a transfer matrix compares equal budgets only")


# %% [markdown]
# ## Per-seed values and the table

# %%


def column_specs(metrics: pd.DataFrame, datasets: list[str]) -> list[tuple[str, str, str, str]]:
    """(key, benchmark, subject-or-skill name, header) of the columns present in metrics.csv."""
    mc = metrics[(metrics["benchmark"] == MC) & (metrics["scope"] == "skill")]
    skills = list(dict.fromkeys(mc["name"]))
    ordered = [d for d in datasets if d in skills] + [s for s in skills if s not in datasets]
    specs = [(f"mc_{s}", MC, s, s) for s in ordered]
    math_subjects = set(metrics.loc[(metrics["benchmark"] == MATH) & (metrics["scope"] == "subject"), "name"])
    specs += [(f"math_{name}", MATH, name, header) for name, header in MATH_COLUMNS if name in math_subjects]
    return specs


def values(metrics: pd.DataFrame, specs: list[tuple[str, str, str, str]]) -> pd.DataFrame:
    """One row per run: backbone, mixture, seed and every column key (in %)."""
    parts = []
    for key, benchmark, name, _ in specs:
        scope, metric = ("skill", "acc") if benchmark == MC else ("subject", "exact_match")
        sel = metrics[(metrics["benchmark"] == benchmark) & (metrics["scope"] == scope) & (metrics["name"] == name)
                      & (metrics["metric"] == metric)]
        parts.append(sel[["backbone", "mixture", "seed"]].assign(column=key, value=100 * sel["value"]))
    if not parts:
        return pd.DataFrame(columns=["backbone", "mixture", "seed"])
    long = pd.concat(parts, ignore_index=True)
    return long.groupby(["backbone", "mixture", "seed", "column"], sort=False)["value"].first().unstack(
        "column").reset_index()


def build(runs: pd.DataFrame, metrics: pd.DataFrame, trajectory: pd.DataFrame,
          ) -> tuple[pd.DataFrame, pd.DataFrame, list[tuple[str, str, str, str]]]:
    """The numeric table (mean, ci per column), its display frame and the column specs."""
    check_budgets(runs)
    cells = common.paper_labels(runs).merge(trained_on(trajectory), on=["backbone", "mixture"], how="left")
    cells["datasets"] = [d if isinstance(d, tuple) else () for d in cells["datasets"]]
    datasets = list(dict.fromkeys(d for ds in cells["datasets"] for d in ds))
    specs = column_specs(metrics, datasets)
    per_seed = values(metrics, specs)
    cells["trained_on"] = [row_label(d, p, m) for d, p, m in
                           zip(cells["datasets"], cells["paper_method"], cells["mixture"], strict=True)]
    cells["single"] = [len(d) == 1 for d in cells["datasets"]]
    # beside the single-skill rows, only the fixed heuristics (temperature sampling of every dataset), and
    # only on the backbones that have single-skill rows: the learned mixtures belong to Table 2
    strategy = runs.groupby(["backbone", "mixture"], sort=False)["strategy"].first().rename("strategy").reset_index()
    cells = cells.merge(strategy, on=["backbone", "mixture"], how="left")
    heuristic = (cells["strategy"] == "temperature") & (cells["datasets"].map(len) == len(datasets))
    keep = cells["single"] | heuristic
    if cells["single"].any():
        keep &= cells["backbone"].isin(cells.loc[cells["single"], "backbone"])
    cells = cells[keep].reset_index(drop=True)
    order = {d: i for i, d in enumerate(datasets)}
    cells["_rank"] = [order.get(d[0], len(order)) if len(d) == 1 else len(order) + 1 for d in cells["datasets"]]
    backbone_rank = {b: i for i, b in enumerate(dict.fromkeys(runs["backbone"]))}
    cells["_b"] = cells["backbone"].map(backbone_rank)
    cells = cells.sort_values(["_b", "_rank"], kind="stable").drop(columns=["_rank", "_b"]).reset_index(drop=True)
    table = cells[["backbone", "mixture", "trained_on", "single"]].copy()
    long = per_seed.melt(id_vars=["backbone", "mixture", "seed"], var_name="column", value_name="value")
    stats = common.seed_stats(long, ["backbone", "mixture", "column"], scale=inference.PERCENT)
    seeds = per_seed.groupby(["backbone", "mixture"]).size().rename("n_seeds").reset_index()
    table = table.merge(seeds, on=["backbone", "mixture"], how="left").fillna({"n_seeds": 0})
    table["n_seeds"] = table["n_seeds"].astype(int)
    for key, _, _, _ in specs:
        mine = stats[stats["column"] == key].rename(columns={"mean": f"{key}_mean", "lo": f"{key}_lo",
                                                             "hi": f"{key}_hi"})
        table = table.merge(mine[["backbone", "mixture", f"{key}_mean", f"{key}_lo", f"{key}_hi"]],
                            on=["backbone", "mixture"], how="left")
    return table, display_frame(table, specs), specs


def display_frame(table: pd.DataFrame, specs: list[tuple[str, str, str, str]]) -> pd.DataFrame:
    """Mean ± CI cells; a single-skill row's own skill (the diagonal) in bold."""
    out = pd.DataFrame({"Backbone": table["backbone"], "Trained on": table["trained_on"],
                        "Mixture": table["mixture"], "Seeds": table["n_seeds"]})
    for key, benchmark, name, header in specs:
        cells = [common.fmt_interval(m, lo, hi) for m, lo, hi in
                 zip(table[f"{key}_mean"], table[f"{key}_lo"], table[f"{key}_hi"], strict=True)]
        own = [benchmark == MC and label == name + ONLY for label in table["trained_on"]]
        out[header] = [f"**{c}**" if o else c for c, o in zip(cells, own, strict=True)]
    return out


def notes(table: pd.DataFrame, specs: list[tuple[str, str, str, str]]) -> list[str]:
    mc = [h for _, b, _, h in specs if b == MC]
    out = [f"In %: {', '.join(mc) or 'no testbed_mc skill'} = testbed_mc accuracy per skill (macro over its "
           "subjects); GSM8K-an. / MATH-an. = testbed_math exact match, one_step / two_step. Rows: runs "
           "trained on one dataset alone, then mixtures of all of them, at the same budget (steps x batch). "
           "Bold: a single-skill model on its own skill. " + common.SEED_NOTE,
           "Chance on the multiple choice is about 25% for Mathematics and Medicine (4 options), about 20-25% "
           "for General (4-5 options) and 25-50% for the NLP tasks (2-4 options); exact match has no chance level."]
    if not table["single"].any():
        out.append("NOTE: no run of this experiment trained on a single dataset (a mixture with `datasets: [X]`): "
                   "the table has no transfer rows.")
    if not [s for s in specs if s[1] == MATH]:
        out.append("NOTE: testbed_math is not in summary/metrics.csv: add it to the runs' benchmarks for the "
                   "GSM8K-an. and MATH-an. columns.")
    return out


def write_all(exp: Path) -> list[Path]:
    """Build and write transfer_matrix.{md,csv,tex} for one experiment folder."""
    runs = common.load_runs(exp)
    metrics = common.load_metrics(exp)
    trajectory = common.load_summary(exp, "trajectory", ["backbone", "mixture", "dataset"])
    table, display, specs = build(runs, metrics, trajectory)
    title = "Transfer matrix: accuracy on each skill after training on one skill alone or on a mixture (%)"
    return common.write_table(display, table, exp / "tables" / "transfer_matrix", title, notes(table, specs))


# %%
if __name__ == "__main__":
    raise SystemExit(common.run(write_all))
