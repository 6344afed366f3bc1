"""Table 2 of the paper: µBOTH, µMU with its Math / Med. / Others groups, and µMB with its two turns.

    python analysis/table2_main.py results/<exp>

Reads results/<exp>/summary/{runs,metrics}.csv and results/paper/table2_main.csv. For every
multiple-choice benchmark in metrics.csv (testbed_mc, the testbed's MMLU analogue; mmlu_dev, real
MMLU dev questions) it writes results/<exp>/tables/table2_main_<benchmark>.{md,csv,tex}: accuracy
in % as mean [95% interval] over seeds (σ pooled over the column's cells, analysis/inference.py),
the highest mean of each backbone marked, each row's difference in the headline metric to the
reference arms declared in summary/claims.json (baseline and best heuristic) with its interval and
MDE, and the paper's row for the run's paper_backbone / paper_method beside it. For benchmarks with per-skill rows
(testbed_mc: its "Others" group mixes the General and NLP skills) it also writes
table2_skills_<benchmark>.{md,csv,tex}. When metrics.csv also holds a judged two-turn benchmark
(mt_bench, else testbed_chat — the MT-Bench analogue graded by `python -m mos judge`), the group
tables gain its columns, on MT-Bench's 1-10 scale: µMB (the mean of the turn scores), Turn 1 and
Turn 2, and µBOTH = (µMU + 10 · µMB) / 2 computed per seed, exactly as the paper combines them.
A jupytext percent script: it also opens as a notebook.
"""

# %%
from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from analysis import common, inference

PREFERRED_METRIC = "acc"
# (scope, name in metrics.csv) -> (column key, header); the keys match results/paper/table2_main.csv.
GROUP_COLUMNS = {
    ("overall", None): ("mu_mmlu", "µMU"),
    ("group", "Mathematics"): ("mmlu_math", "Math"),
    ("group", "Medicine"): ("mmlu_medicine", "Med."),
    ("group", "Others"): ("mmlu_others", "Others"),
}
SKILL_ORDER = ("Mathematics", "Medicine", "General", "NLP")
CHAT_BENCHMARKS = ("mt_bench", "testbed_chat")  # the MT-Bench column's source, in order of preference
# (scope, name) of the judged benchmark -> (column key, header); values stay on the 1-10 scale.
CHAT_COLUMNS = {("overall", "all"): ("mu_mtbench", "µMB"), ("turn", "turn1"): ("mtbench_turn1", "Turn 1"),
                ("turn", "turn2"): ("mtbench_turn2", "Turn 2")}
MU_BOTH = ("mu_both", "µBOTH")

# %% [markdown]
# ## Select the benchmark rows and average over seeds

# %%


def chat_benchmark(metrics: pd.DataFrame) -> str | None:
    """The judged two-turn benchmark whose score fills the MT-Bench columns (None if there is none)."""
    found = set(metrics.loc[metrics["metric"] == "score", "benchmark"])
    return next((b for b in CHAT_BENCHMARKS if b in found), None)


def chat_values(metrics: pd.DataFrame, benchmark: str) -> pd.DataFrame:
    """Rows backbone, mixture, seed, column, value for µMB and the two turns (1-10 scale)."""
    rows = metrics[(metrics["benchmark"] == benchmark) & (metrics["metric"] == "score")]
    parts = []
    for (scope, name), (key, _) in CHAT_COLUMNS.items():
        sel = rows[(rows["scope"] == scope) & (rows["name"] == name)]
        parts.append(sel[["backbone", "mixture", "seed"]].assign(column=key, value=sel["value"].astype(float)))
    return pd.concat(parts, ignore_index=True)


def mu_both_values(values: pd.DataFrame) -> pd.DataFrame:
    """µBOTH = (µMU + 10 · µMB) / 2 per run (µMU in %, µMB on 1-10), as the paper computes it."""
    wide = values.pivot_table(index=["backbone", "mixture", "seed"], columns="column", values="value", sort=False)
    both = ((wide["mu_mmlu"] + 10 * wide["mu_mtbench"]) / 2).dropna()
    return both.rename("value").reset_index().assign(column=MU_BOTH[0])


def mc_benchmarks(metrics: pd.DataFrame) -> list[str]:
    """Benchmarks that have scope=group rows (the MMLU-like ones), in metrics.csv order."""
    return list(dict.fromkeys(metrics.loc[metrics["scope"] == "group", "benchmark"]))


def pick_metric(metrics: pd.DataFrame, benchmark: str) -> str:
    """'acc' when the benchmark reports it, else the first metric it reports."""
    found = list(dict.fromkeys(metrics.loc[metrics["benchmark"] == benchmark, "metric"]))
    return PREFERRED_METRIC if PREFERRED_METRIC in found else found[0]


def column_spec(metrics: pd.DataFrame, kind: str) -> dict[tuple[str, str | None], tuple[str, str]]:
    """(scope, name) -> (column key, header) for the 'group' table or the 'skill' table."""
    if kind == "group":
        return GROUP_COLUMNS
    found = list(dict.fromkeys(metrics.loc[metrics["scope"] == "skill", "name"]))
    skills = [s for s in SKILL_ORDER if s in found] + [s for s in found if s not in SKILL_ORDER]
    return {("overall", None): ("mu_mmlu", "µMU"),
            **{("skill", s): (f"skill_{s.lower()}", s) for s in skills}}


def long_values(metrics: pd.DataFrame, benchmark: str, metric: str,
                spec: dict[tuple[str, str | None], tuple[str, str]]) -> pd.DataFrame:
    """Rows backbone, mixture, seed, column, value (in %) for the wanted scopes of one benchmark."""
    rows = metrics[(metrics["benchmark"] == benchmark) & (metrics["metric"] == metric)]
    parts = []
    for (scope, name), (key, _) in spec.items():
        sel = rows[rows["scope"] == scope]
        if name is not None:
            sel = sel[sel["name"] == name]
        parts.append(sel[["backbone", "mixture", "seed"]].assign(column=key, value=100 * sel["value"]))
    return pd.concat(parts, ignore_index=True)


def column_scale(key: str) -> inference.Scale:
    """The range of a column: µBOTH in [5, 100], µMB and its turns in [1, 10], accuracies in [0, 100] %."""
    if key == MU_BOTH[0]:
        return inference.BOTH
    return inference.SCORE if key in {k for k, _ in CHAT_COLUMNS.values()} else inference.PERCENT


def seed_table(values: pd.DataFrame, keys: Sequence[str], runs: pd.DataFrame) -> pd.DataFrame:
    """Wide table: backbone, mixture, n_seeds, <key>_mean, <key>_lo, <key>_hi for each column key
    (σ pooled over every cell of the column)."""
    scales = {k: column_scale(k) for k in values["column"].unique()}
    stats = common.seed_stats(values, ["column", "backbone", "mixture"], scale=scales)
    wide = stats.pivot(index=["backbone", "mixture"], columns="column", values=["mean", "lo", "hi"])
    table = pd.DataFrame(index=wide.index)
    table["n_seeds"] = stats.groupby(["backbone", "mixture"], sort=False)["n"].max()
    for key in keys:
        for stat in ("mean", "lo", "hi"):
            table[f"{key}_{stat}"] = wide[(stat, key)] if (stat, key) in wide.columns else float("nan")
    return common.sort_like_runs(table.reset_index(), runs)


def add_comparisons(table: pd.DataFrame, values: pd.DataFrame, key: str, spec: dict | None,
                    theta0_runs: pd.DataFrame) -> pd.DataFrame:
    """Δ of `key` against claims.json's baseline and pre-declared best heuristic, per backbone, with the MDE.

    Columns delta_<ref>_{mean,lo,hi} and <ref>_arm for ref = baseline, best; mde (of a difference of this
    row with a reference). Empty without claims.json (the references are declared there, not chosen here).
    """
    out = table.copy()
    refs = {"baseline": {}, "best": {}}
    if spec:
        backbones = out["backbone"].unique()
        refs["baseline"] = {b: spec["baseline"] for b in backbones} if spec.get("baseline") else {}
        refs["best"] = dict(spec.get("best_heuristic") or {})
    data = inference.attach_theta0(values[values["column"] == key][[*inference.KEY, "value"]], theta0_runs)
    fit = inference.Fit(data, column_scale(key), bool((spec or {}).get("pair_by_seed", True)),
                        what=f"table 2 {key}") if len(data) else None
    for ref, arms in refs.items():
        out[f"{ref}_arm"] = out["backbone"].map(arms).fillna("")
        for stat in ("mean", "lo", "hi"):
            out[f"delta_{ref}_{stat}"] = math.nan
    out["mde"] = math.nan
    for i, row in out.iterrows():
        for ref in refs:
            arm = row[f"{ref}_arm"]
            if not arm or arm == row["mixture"] or fit is None or not fit.has(row["backbone"], arm) \
                    or not fit.has(row["backbone"], row["mixture"]):
                continue
            c = fit.compare(row["backbone"], row["mixture"], arm)
            out.loc[i, [f"delta_{ref}_mean", f"delta_{ref}_lo", f"delta_{ref}_hi", "mde"]] = c.effect, c.lo, c.hi, c.mde
    return out


# %% [markdown]
# ## The paper's rows and the best mixture

# %%


def add_paper(table: pd.DataFrame, runs: pd.DataFrame, paper: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Add paper_backbone, paper_method and paper_<key> (the paper's Table 2 numbers) to each row."""
    out = table.merge(common.paper_labels(runs), on=["backbone", "mixture"], how="left")
    ref = paper.assign(_b=paper["backbone"].map(common.label_key), _m=paper["method"].map(common.label_key))
    ref = ref.drop_duplicates(["_b", "_m"]).set_index(["_b", "_m"])
    index = pd.MultiIndex.from_arrays([out["paper_backbone"].fillna("").map(common.label_key),
                                       out["paper_method"].fillna("").map(common.label_key)])
    for key in keys:
        out[f"paper_{key}"] = ref[key].reindex(index).to_numpy() if key in ref.columns else float("nan")
    return out


def best_rows(table: pd.DataFrame, column: str) -> pd.Series:
    """True on the row(s) with the highest `column` within each backbone (ties all marked)."""
    best = table.groupby("backbone", sort=False)[column].transform("max")
    return table[column].notna() & (table[column] == best)


# %% [markdown]
# ## Display: strings for Markdown and LaTeX

# %%


def display_frame(table: pd.DataFrame, spec: dict[tuple[str, str | None], tuple[str, str]],
                  with_paper: bool) -> pd.DataFrame:
    """Mean [95% interval] cells, the highest mean of each backbone in bold in every column, then the Δ columns."""
    out = pd.DataFrame({"Backbone": table["backbone"], "Mixture": table["mixture"], "Seeds": table["n_seeds"]})
    for key, header in spec.values():
        cells = [common.fmt_interval(m, lo, hi) for m, lo, hi in
                 zip(table[f"{key}_mean"], table[f"{key}_lo"], table[f"{key}_hi"], strict=True)]
        bold = best_rows(table, f"{key}_mean")
        out[header] = [f"**{c}**" if b else c for c, b in zip(cells, bold, strict=True)]
    headline = next(iter(spec.values()))[1]
    for ref, what in (("baseline", "baseline"), ("best", "declared best heuristic")):
        if f"{ref}_arm" in table.columns and (table[f"{ref}_arm"] != "").any():
            out[f"Δ {headline} vs {what}"] = [
                "ref." if arm == mix else (f"{common.fmt_signed(m, lo, hi)} vs {arm}" if arm and m == m else "–")
                for arm, mix, m, lo, hi in zip(table[f"{ref}_arm"], table["mixture"], table[f"delta_{ref}_mean"],
                                               table[f"delta_{ref}_lo"], table[f"delta_{ref}_hi"], strict=True)]
    if "mde" in table.columns and table["mde"].notna().any():
        out[f"MDE {headline}"] = table["mde"].map(common.fmt_number)
    if with_paper:
        out["Paper backbone"] = table["paper_backbone"]
        out["Paper method"] = table["paper_method"]
        for key, header in spec.values():
            out[f"Paper {header}"] = table[f"paper_{key}"].map(common.fmt_number)
    return out


def build(metrics: pd.DataFrame, runs: pd.DataFrame, paper: pd.DataFrame | None, benchmark: str,
          kind: str = "group", spec_claims: dict | None = None) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """The numeric table, its display form, and the metric used, for one benchmark."""
    metric = pick_metric(metrics, benchmark)
    spec = column_spec(metrics[metrics["benchmark"] == benchmark], kind)
    values = long_values(metrics, benchmark, metric, spec)
    chat = chat_benchmark(metrics) if kind == "group" else None
    if chat is not None:
        values = pd.concat([values, chat_values(metrics, chat)], ignore_index=True)
        values = pd.concat([values, mu_both_values(values)], ignore_index=True)
        spec = {("both", None): MU_BOTH, **spec, **{("chat", k): v for k, v in CHAT_COLUMNS.items()}}
    keys = [key for key, _ in spec.values()]
    table = seed_table(values, keys, runs)
    with_paper = kind == "group" and paper is not None
    if with_paper:
        table = add_paper(table, runs, paper, keys)
    table["best"] = best_rows(table, "mu_mmlu_mean")
    if kind == "group":
        table = add_comparisons(table, values, keys[0], spec_claims, runs)
    return table, display_frame(table, spec, with_paper), metric


# %% [markdown]
# ## Write the tables

# %%


def notes(kind: str, metric: str, mismatches: pd.DataFrame, spec: dict | None = None) -> list[str]:
    """The sentences printed under a table: metric, interval rule, bold rule, and any macro-average warning."""
    out = [f"Metric: {metric}, in % (µMB and its turns: the judge's 1-10 scale). " + common.SEED_NOTE,
           "Bold: the highest mean of each backbone in that column (the csv's `best` marks the highest µMU) — "
           "not a claim that it beats the others: the Δ columns and the scorecard say which differences are "
           "beyond noise."]
    if kind == "group" and spec:
        out.append("Δ: this row minus the reference arm of its backbone declared in claims.json (the baseline, and "
                   "the best heuristic declared before the results, not our best), with its 95% interval from the "
                   "pooled model of analysis/inference.py (paired by seed); an interval that includes 0 is "
                   "inconclusive. MDE: the smallest difference this design detects with 80% power (two-sided "
                   "α = 0.05). Not corrected for multiplicity: the scorecard tests the pre-declared claims.")
    elif kind == "group":
        out.append("No Δ columns: summary/claims.json (which declares the reference arms) is absent.")
    if kind == "group":
        out.append("µBOTH = (µMU + 10 · µMB) / 2 per seed, when a judged two-turn benchmark was run "
                   "(mt_bench, else testbed_chat).")
        out.append("µMU is the unweighted mean over subjects (as in the paper); the Paper columns are the "
                   "paper's Table 2 row named by the run's paper_backbone / paper_method, from models with "
                   "billions of parameters: compare the ordering of mixtures, not the levels.")
    else:
        out.append("Per-skill accuracy: the testbed's Others group mixes the General and NLP skills.")
    if len(mismatches):
        out.append(f"WARNING: {len(mismatches)} run(s) have an overall value that is not the mean of their "
                   "subjects.")
    return out


def write_all(exp: Path) -> list[Path]:
    """Build and write every table of this script for one experiment folder."""
    runs = common.load_runs(exp)
    metrics = common.load_summary(exp, "metrics", ["backbone", "mixture", "seed", "benchmark", "scope", "name",
                                                    "metric", "value"])
    paper_path = common.paper_dir(exp) / "table2_main.csv"
    paper = common.read_csv(paper_path, ["backbone", "method"]) if paper_path.is_file() else None
    mismatches = common.macro_average_mismatches(metrics)
    spec = common.load_claims(exp)
    if len(mismatches):
        print(f"table2_main: overall != mean of subjects for:\n{mismatches}", file=sys.stderr)
    written = []
    for benchmark in mc_benchmarks(metrics):
        bench = metrics[metrics["benchmark"] == benchmark]
        kinds = ["group"] + (["skill"] if (bench["scope"] == "skill").any() else [])
        for kind in kinds:
            table, display, metric = build(metrics, runs, paper, benchmark, kind, spec)
            stem = "table2_main" if kind == "group" else "table2_skills"
            title = (f"Table 2 ({'MMLU groups' if kind == 'group' else 'per skill'}), {benchmark}: "
                     "accuracy (%) per backbone and mixture")
            written += common.write_table(display, table, exp / "tables" / f"{stem}_{benchmark}", title,
                                          notes(kind, metric, mismatches[mismatches["benchmark"] == benchmark],
                                                spec))
    return written


# %%
if __name__ == "__main__":
    for path in write_all(common.experiment_dir()):
        print(path)
