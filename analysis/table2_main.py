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

from analysis import common, inference, values

# What this script reads and writes, for `python -m analysis` and the workflow (analysis/__init__.py).
SCRIPT = {"reads": ["runs.csv", "metrics.csv", "claims.json"],
          "writes": ["tables/table2_main_{benchmark}.md"]}
PAPER_FILE = "table2_main.csv"

# %% [markdown]
# ## Average over seeds (the per-run values: analysis/values.py)

# %%


def seed_table(per_run: pd.DataFrame, keys: Sequence[str], runs: pd.DataFrame) -> pd.DataFrame:
    """Wide table: backbone, mixture, n_seeds, <key>_mean, <key>_lo, <key>_hi for each column key
    (σ pooled over every cell of the column)."""
    scales = {k: values.column_scale(k) for k in per_run["column"].unique()}
    stats = common.seed_stats(per_run, ["column", "backbone", "mixture"], scale=scales)
    wide = stats.pivot(index=["backbone", "mixture"], columns="column", values=["mean", "lo", "hi"])
    table = pd.DataFrame(index=wide.index)
    table["n_seeds"] = stats.groupby(["backbone", "mixture"], sort=False)["n"].max()
    for key in keys:
        for stat in ("mean", "lo", "hi"):
            table[f"{key}_{stat}"] = wide[(stat, key)] if (stat, key) in wide.columns else float("nan")
    return common.sort_like_runs(table.reset_index(), runs)


def add_comparisons(table: pd.DataFrame, per_run: pd.DataFrame, key: str, spec: dict | None,
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
    data = inference.attach_theta0(per_run[per_run["column"] == key][[*inference.KEY, "value"]], theta0_runs)
    fit = inference.Fit(data, values.column_scale(key), bool((spec or {}).get("pair_by_seed", True)),
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


# %% [markdown]
# ## Display: strings for Markdown and LaTeX

# %%


def display_frame(table: pd.DataFrame, spec: values.Spec, with_paper: bool) -> pd.DataFrame:
    """Mean [95% interval] cells, the highest mean of each backbone in bold in every column, then the Δ columns."""
    out = pd.DataFrame({"Backbone": table["backbone"], "Mixture": table["mixture"], "Seeds": table["n_seeds"]})
    for key, header in spec.values():
        cells = [common.fmt_interval(m, lo, hi) for m, lo, hi in
                 zip(table[f"{key}_mean"], table[f"{key}_lo"], table[f"{key}_hi"], strict=True)]
        bold = common.best_rows(table, f"{key}_mean")
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
    metric = values.pick_metric(metrics, benchmark)
    spec = values.column_spec(metrics[metrics["benchmark"] == benchmark], kind)
    per_run = values.long_values(metrics, benchmark, metric, spec)
    chat = values.chat_benchmark(metrics) if kind == "group" else None
    if chat is not None:
        per_run = pd.concat([per_run, values.chat_values(metrics, chat)], ignore_index=True)
        per_run = pd.concat([per_run, values.mu_both_values(per_run)], ignore_index=True)
        chat_spec = {("chat", k): v for k, v in values.CHAT_COLUMNS.items()}
        spec = {("both", None): values.MU_BOTH, **spec, **chat_spec}
    keys = [key for key, _ in spec.values()]
    table = seed_table(per_run, keys, runs)
    with_paper = kind == "group" and paper is not None
    if with_paper:
        table = add_paper(table, runs, paper, keys)
    table["best"] = common.best_rows(table, "mu_mmlu_mean")
    if kind == "group":
        table = add_comparisons(table, per_run, keys[0], spec_claims, runs)
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
                   "θ0-level paired t of analysis/inference.py (the differences on the θ0s both arms share); "
                   "an interval that includes 0 is "
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
    inputs = common.load_inputs(exp, PAPER_FILE, ["backbone", "method"])
    runs, metrics, paper, spec = inputs.runs, inputs.metrics, inputs.paper, inputs.claims
    mismatches = common.macro_average_mismatches(metrics)
    if len(mismatches):
        print(f"table2_main: overall != mean of subjects for:\n{mismatches}", file=sys.stderr)
    written = []
    for benchmark in values.mc_benchmarks(metrics):
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
    raise SystemExit(common.run(write_all))
