"""Table 3 of the paper: MoS with different sampling priors (τ = 1, 10, ∞) against TEMP. (τ = 10).

    python analysis/table3_priors.py results/<exp>

Reads results/<exp>/summary/{runs,metrics}.csv and results/paper/table3_priors_llama3_8b.csv. For
every backbone that has a prior-study mixture (a run whose paper_method reads "MoS + … + EMA, prior
τ = 1" or "…, prior τ = 10") it lists the paper's seven rows in the paper's order: TEMP. (τ = 10), and
MoS + COSSIM + EMA / MoS + DIFF + EMA with prior τ = 1, 10 and ∞ (the τ = ∞ rows are the runs labelled
plainly "MoS + COSSIM + EMA" / "MoS + DIFF + EMA", the uniform prior of the main table). Columns: µMU
(the multiple-choice benchmark's overall accuracy, testbed_mc when present) and the per-skill accuracies,
and, when a judged two-turn benchmark was run, µMB and µBOTH = (µMU + 10 · µMB) / 2 as in table2_main,
in % as mean [95% interval] over seeds (σ pooled over every cell, analysis/inference.py); the
difference of µBOTH and µMU to the TEMP. row with its interval and MDE; and the paper's µBOTH / µMU /
µMB and µMU difference. Writes results/<exp>/tables/table3_priors.{md,csv,tex}.
Without any prior-study run it still writes the table, with the paper's rows only and a note.
A jupytext percent script: it also opens as a notebook.
"""

# %%
from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from analysis import common, inference, values

# What this script reads and writes, for `python -m analysis` and the workflow (analysis/__init__.py).
SCRIPT = {"reads": ["runs.csv", "metrics.csv", "claims.json"], "writes": ["tables/table3_priors.md"]}
PAPER_FILE = "table3_priors_llama3_8b.csv"
REFERENCE = "TEMP. (τ = 10)"
# The paper's Table 3 rows, in its order (used when results/paper/ lacks the file).
METHODS = (REFERENCE,
           "MoS + COSSIM + EMA, prior τ = 1", "MoS + COSSIM + EMA, prior τ = 10", "MoS + COSSIM + EMA, prior τ = ∞",
           "MoS + DIFF + EMA, prior τ = 1", "MoS + DIFF + EMA, prior τ = 10", "MoS + DIFF + EMA, prior τ = ∞")
PAPER_COLUMNS = {"mu_both": "µBOTH", "mu_mmlu": "µMU", "mu_mtbench": "µMB"}
UNIFORM_PRIOR = ", prior τ = ∞"

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


def column_spec(metrics: pd.DataFrame, benchmark: str | None) -> values.Spec:
    """µMU and the per-skill columns (the per-group ones when the benchmark has no skill rows)."""
    if benchmark is None:
        return {("overall", None): ("mu_mmlu", "µMU")}
    bench = metrics[metrics["benchmark"] == benchmark]
    kind = "skill" if (bench["scope"] == "skill").any() else "group"
    return values.column_spec(bench, kind)


def build(metrics: pd.DataFrame, runs: pd.DataFrame, paper: pd.DataFrame | None, claims_spec: dict | None = None,
          ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, object]]:
    """The numeric table, its display form and facts for the notes (benchmark, metric, missing rows)."""
    methods = list(paper["method"]) if paper is not None else list(METHODS)
    backbones = prior_backbones(runs)
    benchmark = values.pick_benchmark(metrics)
    spec = column_spec(metrics, benchmark)
    per_run, metric = values.per_seed(metrics, benchmark, spec)
    chat = values.chat_benchmark(metrics)
    if chat is not None and benchmark is not None:  # µBOTH and µMB, as the paper's Table 3
        mb = values.chat_values(metrics, chat)
        per_run = pd.concat([per_run, mb[mb["column"] == "mu_mtbench"]], ignore_index=True)
        per_run = pd.concat([per_run, values.mu_both_values(per_run)], ignore_index=True)
        spec = {("both", None): values.MU_BOTH, **spec, ("chat", "mu"): ("mu_mtbench", "µMB")}
    keys = [key for key, _ in spec.values()]
    rows = match_rows(runs, methods, backbones or [""])
    table = rows.copy()
    stats = (common.seed_stats(per_run, ["column", "backbone", "mixture"],
                               scale={k: values.column_scale(k) for k in per_run["column"].unique()})
             .set_index(["backbone", "mixture", "column"]) if len(per_run) else pd.DataFrame())
    n_seeds = stats["n"].groupby(level=[0, 1]).max().to_dict() if len(stats) else {}
    table["n_seeds"] = [int(n_seeds.get((r.backbone, r.mixture), 0)) for r in rows.itertuples()]
    for key in keys:
        for stat in ("mean", "lo", "hi"):
            table[f"{key}_{stat}"] = [stats[stat].get((r.backbone, r.mixture, key), math.nan) for r in rows.itertuples()]
    deltas = [k for k in (values.MU_BOTH[0], "mu_mmlu") if k in keys]
    table = add_reference_diff(table, per_run, deltas, claims_spec, runs)
    table = add_paper(table, paper)
    table.insert(3, "benchmark", benchmark or "")
    table.insert(4, "metric", metric)
    facts = {"benchmark": benchmark, "metric": metric, "backbones": backbones, "deltas": deltas,
             "missing": [f"{r.backbone}: {r.method}" for r in table.itertuples() if r.backbone and not r.mixture]}
    return table, display_frame(table, spec, deltas), facts


def add_reference_diff(table: pd.DataFrame, per_run: pd.DataFrame, keys: list[str], spec: dict | None,
                       runs: pd.DataFrame) -> pd.DataFrame:
    """delta_temp_<key>_{mean,lo,hi} and mde_<key>: each row minus the TEMP. row of its backbone, in `keys`,
    from the pooled model of analysis/inference.py (paired by seed unless claims.json says otherwise)."""
    out = table.copy()
    pair = bool((spec or {}).get("pair_by_seed", True))
    for key in keys:
        data = inference.attach_theta0(per_run[per_run["column"] == key][[*inference.KEY, "value"]], runs)
        fit = inference.Fit(data, values.column_scale(key), pair, what=f"table 3 {key}")
        for stat in ("mean", "lo", "hi"):
            out[f"delta_temp_{key}_{stat}"] = math.nan
        out[f"mde_{key}"] = math.nan
        for backbone, rows in out.groupby("backbone", sort=False):
            ref = rows.loc[rows["method"].map(common.label_key) == common.label_key(REFERENCE), "mixture"]
            if not len(ref) or not ref.iloc[0] or not fit.has(backbone, ref.iloc[0]):
                continue
            for i, mixture in rows["mixture"].items():
                if mixture and mixture != ref.iloc[0] and fit.has(backbone, mixture):
                    c = fit.compare(backbone, mixture, ref.iloc[0])
                    out.loc[i, [f"delta_temp_{key}_mean", f"delta_temp_{key}_lo", f"delta_temp_{key}_hi",
                                f"mde_{key}"]] = c.effect, c.lo, c.hi, c.mde
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


def display_frame(table: pd.DataFrame, spec: values.Spec, deltas: list[str]) -> pd.DataFrame:
    """Mean [95% interval] cells; the highest mean of each backbone in bold per column; Δ to TEMP.; the paper's."""
    out = pd.DataFrame({"Backbone": table["backbone"], "Mixture": table["mixture"], "Method": table["method"],
                        "Seeds": table["n_seeds"]})
    headers = dict(spec.values())
    for key, header in spec.values():
        cells = [common.fmt_interval(m, lo, hi) for m, lo, hi in
                 zip(table[f"{key}_mean"], table[f"{key}_lo"], table[f"{key}_hi"], strict=True)]
        bold = common.best_rows(table, f"{key}_mean")
        out[header] = [f"**{c}**" if b else c for c, b in zip(cells, bold, strict=True)]
    is_ref = table["method"].map(common.label_key) == common.label_key(REFERENCE)
    for key in deltas:
        out[f"{headers[key]} − TEMP."] = [
            "ref." if r else common.fmt_signed(m, lo, hi) for m, lo, hi, r in
            zip(table[f"delta_temp_{key}_mean"], table[f"delta_temp_{key}_lo"], table[f"delta_temp_{key}_hi"], is_ref,
                strict=True)]
    if deltas:
        out[f"MDE {headers[deltas[0]]}"] = table[f"mde_{deltas[0]}"].map(common.fmt_number)
    for key, header in PAPER_COLUMNS.items():
        out[f"Paper {header}"] = table[f"paper_{key}"].map(common.fmt_number)
    out["Paper µMU − TEMP."] = ["ref." if r else common.fmt_signed(v)
                                   for v, r in zip(table["paper_delta_temp"], is_ref, strict=True)]
    return out


def notes(facts: dict[str, object]) -> list[str]:
    """The sentences under the table."""
    out = [f"Benchmark: {facts['benchmark'] or 'none'}, metric {facts['metric'] or '–'}, in %. " + common.SEED_NOTE,
           "− TEMP.: the row minus the TEMP. row of its backbone, with its 95% interval from the θ0-level paired t "
           "of analysis/inference.py (the θ0s both rows share); an interval that includes 0 is inconclusive, and MDE is the "
           "smallest difference detected with 80% power. Bold: the highest mean of each backbone in that column "
           "(not a claim; the scorecard tests the pre-declared ones, with Holm's correction).",
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
    inputs = common.load_inputs(exp, PAPER_FILE, ["method"])
    table, display, facts = build(inputs.metrics, inputs.runs, inputs.paper, inputs.claims)
    title = "Table 3: sampling priors of MoS, µMU and per-skill accuracy (%)"
    return common.write_table(display, table, exp / "tables" / "table3_priors", title, notes(facts))


# %%
if __name__ == "__main__":
    raise SystemExit(common.run(write_all))
