"""Table 5 of the paper: generalist mixtures against math specialists (MoSpec and a math-only model).

    python analysis/table5_mospec.py results/<exp>

Reads results/<exp>/summary/{runs,metrics}.csv and results/paper/table5_mospec_llama3_8b.csv. For
every backbone with a specialist run (paper_method "MoSpec + COSSIM + EMA", "MoSpec + DIFF + EMA" or
a math-only label "MATH…", e.g. "MATHLLAMA-3-8B") it lists the paper's six rows:
Generalist TEMP. (τ = 10), MoS + COSSIM + EMA, MoS + DIFF + EMA; Math Specialist MATH…, MoSpec + COSSIM
+ EMA, MoSpec + DIFF + EMA. Columns, in % as mean [95% interval] over seeds (σ pooled over the
column's cells, on a logit scale so that it stays in [0, 100]):

* GSM8K (lm-eval's gsm8k, 5-shot, strict exact match) when run, else GSM8K-an. — testbed_math,
  subject one_step, exact match (the GSM8K analogue);
* MATH (lm-eval's hendrycks_math, 5-shot) when run, else MATH-an. — testbed_math, subject two_step,
  exact match (the MATH analogue);
* M-math — mmlu (else testbed_mc), group Mathematics, accuracy (MMLU's math subjects);
* µALL — the mean of the three, computed per seed (as the paper's µALL), then averaged over seeds;

each row's µALL minus the math-only model's with its interval and MDE (analysis/inference.py), then
the paper's four numbers. A benchmark missing from metrics.csv leaves its columns (and µALL)
empty and says so under the table. Writes results/<exp>/tables/table5_mospec.{md,csv,tex}.
A jupytext percent script: it also opens as a notebook.
"""

# %%
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from analysis import common, inference, values

# What this script reads and writes, for `python -m analysis` and the workflow (analysis/__init__.py).
SCRIPT = {"reads": ["runs.csv", "metrics.csv", "claims.json"], "writes": ["tables/table5_mospec.md"]}
PAPER_FILE = "table5_mospec_llama3_8b.csv"
GENERALIST, SPECIALIST = "Generalist", "Math Specialist"
MATH_ONLY = "MATH<backbone>"  # placeholder row label: "MATH" + the run's paper_backbone, e.g. MATHLLAMA-3-8B
# The paper's rows in its order: (group, model label). MATH_ONLY is matched through the paper backbone.
ROWS = ((GENERALIST, "TEMP. (τ = 10)"), (GENERALIST, "MoS + COSSIM + EMA"), (GENERALIST, "MoS + DIFF + EMA"),
        (SPECIALIST, MATH_ONLY), (SPECIALIST, "MoSpec + COSSIM + EMA"), (SPECIALIST, "MoSpec + DIFF + EMA"))
COMPONENTS, MU_ALL = values.COMPONENTS, values.MU_ALL  # µALL's three columns and µALL (analysis/values.py)

# %% [markdown]
# ## Which runs are the paper's rows

# %%


def model_label(model: str, paper_backbone: str) -> str:
    """The label of a row not run: MATH_ONLY becomes 'MATH' + the paper backbone (when known)."""
    return f"MATH{paper_backbone.upper()}" if model == MATH_ONLY and paper_backbone else model


def is_specialist(label: str) -> bool:
    """True for a MoSpec run or a math-only run."""
    return common.label_key(label).startswith("mospec+") or common.is_math_only(label)


def specialist_backbones(runs: pd.DataFrame) -> list[str]:
    """Backbones (runs.csv order) with at least one specialist run."""
    labels = common.paper_labels(runs)
    return list(dict.fromkeys(labels.loc[labels["paper_method"].map(is_specialist), "backbone"]))


def row_matches(model: str, labels: pd.Series) -> pd.Series:
    """Which run labels stand for the paper row `model` (MATH_ONLY: any math-only label)."""
    if model == MATH_ONLY:
        return labels.map(common.is_math_only)
    return labels.map(common.label_key) == common.label_key(model)


def match_rows(runs: pd.DataFrame, backbones: list[str]) -> pd.DataFrame:
    """backbone, paper_backbone, mixture ('' when not run), group, model, paper_row: six rows per backbone.

    `model` is the label on this backbone, `paper_row` the paper's row (MATH_ONLY for the math-only model).
    """
    labels = common.paper_labels(runs)
    rows = []
    for backbone in backbones:
        mine = labels[labels["backbone"] == backbone]
        paper_backbone = mine["paper_backbone"].iloc[0] if len(mine) else ""
        for group, model in ROWS:
            hit = mine[row_matches(model, mine["paper_method"])]
            label = hit["paper_method"].iloc[0] if len(hit) else model_label(model, paper_backbone)
            rows.append({"backbone": backbone, "paper_backbone": paper_backbone,
                         "mixture": hit["mixture"].iloc[0] if len(hit) else "", "group": group, "model": label,
                         "paper_row": model})
    return pd.DataFrame(rows, columns=["backbone", "paper_backbone", "mixture", "group", "model", "paper_row"])


# %% [markdown]
# ## µALL per seed (analysis/values.py) and the table

# %%


def build(metrics: pd.DataFrame, runs: pd.DataFrame, paper: pd.DataFrame | None, claims_spec: dict | None = None,
          ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, object]]:
    """The numeric table, its display form and facts for the notes."""
    backbones = specialist_backbones(runs)
    table = match_rows(runs, backbones or [""])
    components = values.resolve_components(metrics)
    per_run, used = values.component_values(metrics, runs, components)
    keys = [MU_ALL[0], *COMPONENTS]
    long = per_run.melt(id_vars=inference.KEY, value_vars=keys, var_name="column").dropna(subset=["value"])
    stats = (common.seed_stats(long, ["column", "backbone", "mixture"], scale=inference.PERCENT)
             .set_index(["backbone", "mixture", "column"]) if len(long) else pd.DataFrame(columns=["mean", "lo", "hi"]))
    table["n_seeds"] = [int(((per_run["backbone"] == r.backbone) & (per_run["mixture"] == r.mixture)).sum())
                        for r in table.itertuples()]
    for key in keys:
        for stat in ("mean", "lo", "hi"):
            table[f"{key}_{stat}"] = [stats[stat].get((r.backbone, r.mixture, key), math.nan) for r in table.itertuples()]
    table = add_math_only_diff(table, per_run, claims_spec, runs)
    table = add_paper(table, paper, components)
    ran = per_run.merge(table.loc[table["mixture"] != "", ["backbone", "mixture"]],
                        on=["backbone", "mixture"])
    facts = {"backbones": backbones, "metrics": used, "components": components,
             "absent": [k for k in COMPONENTS if k not in used],
             "incomplete": [k for k in COMPONENTS if k in used and ran[k].isna().any()],
             "missing": [f"{r.backbone}: {r.model}" for r in table.itertuples() if r.backbone and not r.mixture]}
    return table, display_frame(table, components), facts


def add_math_only_diff(table: pd.DataFrame, per_run: pd.DataFrame, spec: dict | None,
                       runs: pd.DataFrame) -> pd.DataFrame:
    """delta_math_only_{mean,lo,hi} and mde: each row's µALL minus the math-only row of its backbone, from the
    pooled model of analysis/inference.py (paired by seed unless claims.json says otherwise)."""
    out = table.copy()
    for col in ("delta_math_only_mean", "delta_math_only_lo", "delta_math_only_hi", "mde"):
        out[col] = math.nan
    data = per_run.rename(columns={MU_ALL[0]: "value"})[[*inference.KEY, "value"]].dropna()
    if data.empty:
        return out
    fit = inference.Fit(inference.attach_theta0(data, runs), inference.PERCENT,
                        bool((spec or {}).get("pair_by_seed", True)), what="table 5 µALL")
    for backbone, rows in out.groupby("backbone", sort=False):
        ref = rows.loc[rows["paper_row"] == MATH_ONLY, "mixture"]
        if not len(ref) or not fit.has(backbone, ref.iloc[0]):
            continue
        for i, mixture in rows["mixture"].items():
            if mixture and mixture != ref.iloc[0] and fit.has(backbone, mixture):
                c = fit.compare(backbone, mixture, ref.iloc[0])
                out.loc[i, ["delta_math_only_mean", "delta_math_only_lo", "delta_math_only_hi", "mde"]] = (
                    c.effect, c.lo, c.hi, c.mde)
    return out


def add_paper(table: pd.DataFrame, paper: pd.DataFrame | None, components: dict | None = None) -> pd.DataFrame:
    """paper_<key> for µALL and the three components: the paper's Table 5 row with the same model label.

    The math-only row matches the paper's MATHLLAMA-3-8B whatever the backbone's paper label.
    """
    out = table.copy()
    specs = [MU_ALL, *[(k, v[4], v[5]) for k, v in (components or COMPONENTS).items()]]
    if paper is None:
        for key, _, _ in specs:
            out[f"paper_{key}"] = math.nan
        return out
    ref = paper.assign(_k=paper["model"].map(common.label_key))
    ref["_k"] = [common.label_key(MATH_ONLY) if common.is_math_only(m) else k
                 for m, k in zip(ref["model"], ref["_k"], strict=True)]
    ref = ref.drop_duplicates("_k").set_index("_k")
    index = out["paper_row"].map(common.label_key)
    for key, _, column in specs:
        out[f"paper_{key}"] = ref[column].reindex(index).to_numpy() if column in ref.columns else math.nan
    return out


# %% [markdown]
# ## Display and notes

# %%


def display_frame(table: pd.DataFrame, components: dict | None = None) -> pd.DataFrame:
    """Mean [95% interval] cells, the highest mean of each backbone in bold per column, then the paper's numbers."""
    out = pd.DataFrame({"Backbone": table["backbone"], "Group": table["group"], "Model": table["model"],
                        "Mixture": table["mixture"], "Seeds": table["n_seeds"]})
    specs = [MU_ALL, *[(k, v[4], v[5]) for k, v in (components or COMPONENTS).items()]]
    for key, header, _ in specs:
        cells = [common.fmt_interval(m, lo, hi) for m, lo, hi in
                 zip(table[f"{key}_mean"], table[f"{key}_lo"], table[f"{key}_hi"], strict=True)]
        bold = common.best_rows(table, f"{key}_mean")
        out[header] = [f"**{c}**" if b else c for c, b in zip(cells, bold, strict=True)]
    if "delta_math_only_mean" in table.columns:
        is_ref = table["paper_row"] == MATH_ONLY
        out["µALL − math-only"] = ["ref." if r else common.fmt_signed(m, lo, hi) for m, lo, hi, r in zip(
            table["delta_math_only_mean"], table["delta_math_only_lo"], table["delta_math_only_hi"], is_ref,
            strict=True)]
        out["MDE µALL"] = table["mde"].map(common.fmt_number)
    for key, header, _ in specs:
        out[f"Paper {header}"] = table[f"paper_{key}"].map(common.fmt_number)
    return out


def notes(facts: dict[str, object]) -> list[str]:
    """The sentences under the table, including what is missing."""
    components = facts.get("components") or COMPONENTS

    def where(key: str) -> str:
        benchmark, scope, name, _, header, _ = components[key]
        return f"{header} = {benchmark} {scope} {name}"

    metrics = ", ".join(f"{where(k)} ({m})" for k, m in facts["metrics"].items())
    out = [f"In %: {metrics or 'no component benchmark found'}; µALL = their mean per seed. " + common.SEED_NOTE,
           "µALL − math-only: the row minus the math-only model of its backbone, with its 95% interval from the "
           "θ0-level paired t of analysis/inference.py (the θ0s both rows share); an interval that "
           "includes 0 is inconclusive; MDE: the smallest difference detected with 80% power.",
           "Bold: the highest mean of each backbone in that column. The Paper columns are the paper's Table 5 "
           "(LLaMA-3-8B; GSM8K and MATH 5-shot, MMLU math subjects 0-shot): compare orderings, not levels."]
    absent: dict[str, list[str]] = {}
    for key in facts["absent"]:
        absent.setdefault(components[key][0], []).append(components[key][4])
    for benchmark, headers in absent.items():
        out.append(f"NOTE: {benchmark} is not in summary/metrics.csv, so {' and '.join(headers)} and µALL are "
                   f"empty: add {benchmark} to eval.benchmarks to fill them.")
    for key in facts["incomplete"]:
        out.append(f"NOTE: some runs lack {where(key)}; their µALL is empty.")
    if not facts["backbones"]:
        out.append("No run of this experiment is a math specialist (paper_method 'MoSpec + …' or "
                   "'MATH…', e.g. MATHLLAMA-3-8B): only the paper's rows are shown.")
    if facts["missing"]:
        out.append("Not run: " + "; ".join(facts["missing"]) + ".")
    return out


def write_all(exp: Path) -> list[Path]:
    """Build and write table5_mospec.{md,csv,tex} for one experiment folder."""
    inputs = common.load_inputs(exp, PAPER_FILE, ["group", "model"])
    table, display, facts = build(inputs.metrics, inputs.runs, inputs.paper, inputs.claims)
    title = "Table 5: generalists and math specialists, math benchmarks (%)"
    return common.write_table(display, table, exp / "tables" / "table5_mospec", title, notes(facts))


# %%
if __name__ == "__main__":
    raise SystemExit(common.run(write_all))
