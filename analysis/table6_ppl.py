"""Table 6 of the paper: the preliminary perplexity study behind the DIFF reward.

    python analysis/table6_ppl.py results/<exp>

Reads results/<exp>/summary/ppl.csv (`python -m mos stats ppl`, rules ppl_tuned and ppl_summary),
results/<exp>/summary/runs.csv (paper labels) and results/paper/table6_ppl_study.csv. Per backbone and
training dataset: PPL_θ0, the base backbone's perplexity, PPL_θ, the perplexity of the model
fine-tuned with PROP. (τ = 1), and Δ = PPL_θ / PPL_θ0, each the mean over the study's examples of
the per-example perplexity (Δ is the ratio of these means, as the paper's table); PPL_θ and Δ are
computed per seed, then shown as mean [95% interval] over seeds (σ pooled over every backbone × dataset
on the log scale, analysis/inference.py; θ0 is the same for every seed). The
paper's numbers for the run's paper backbone stand beside. Perplexity is over the response tokens
given the instruction (the paper's Eq. 9); the authors' code measures the whole chat-templated
sequence, prompt included, and that variant is written as table6_ppl_sequence. The study's examples
are a random subsample of θ0's probe pool (mos.pipeline.specs.PPL_STUDY_POOL per dataset, the same for
every seed), i.e. training examples, as the DIFF reward measures.
Writes results/<exp>/tables/table6_ppl.{md,csv,tex} and table6_ppl_sequence.{md,csv,tex}.
Without summary/ppl.csv it writes the tables with the paper's rows only and a note.
A jupytext percent script: it also opens as a notebook.
"""

# %%
from __future__ import annotations

import math
import sys
from pathlib import Path

import pandas as pd

from analysis import common, inference

# What this script reads and writes, for `python -m analysis` and the workflow (analysis/__init__.py).
SCRIPT = {"reads": ["ppl.csv", "runs.csv"], "when": "ppl",
          "writes": ["tables/table6_ppl.md", "tables/table6_ppl.csv", "tables/table6_ppl.tex",
                     "tables/table6_ppl_sequence.md", "tables/table6_ppl_sequence.csv",
                     "tables/table6_ppl_sequence.tex"]}
PAPER_FILE = "table6_ppl_study.csv"
SUMMARY_FILE = "ppl.csv"
SCOPES = {"response": ("table6_ppl", "response tokens given the instruction (the paper's Eq. 9)"),
          "sequence": ("table6_ppl_sequence", "the whole chat-templated sequence, prompt included "
                                              "(the authors' code)")}
# the paper's column prefix per backbone family, found in a run's paper_backbone label
PAPER_FAMILIES = ("qwen", "gemma", "llama")
PPL_COLUMNS = ["backbone", "mixture", "seed", "dataset", "scope", "n_examples", "ppl_base", "ppl_tuned", "ratio"]

# %% [markdown]
# ## Seed statistics per backbone x dataset

# %%


def paper_family(label: object) -> str | None:
    """'LLaMA-3-8B' -> 'llama', 'Qwen1.5-0.5B' -> 'qwen'; None when no family of the paper's table matches."""
    key = common.label_key(label)
    return next((f for f in PAPER_FAMILIES if f in key), None)


def summarize(ppl: pd.DataFrame, scope: str) -> pd.DataFrame:
    """backbone, mixture, dataset, n_seeds, n_examples, ppl_base, ppl_tuned_mean/_lo/_hi, ratio_mean/_lo/_hi
    (and mean_ratio_* when the summary has it) for one scope, in file order: mean [95% interval] over seeds,
    σ pooled over every backbone × dataset on the log scale (analysis/inference.py)."""
    part = ppl[ppl["scope"] == scope]
    keys = ["backbone", "mixture", "dataset"]
    table = part.groupby(keys, sort=False).agg(n_seeds=("seed", "nunique"), n_examples=("n_examples", "max"),
                                               ppl_base=("ppl_base", "mean")).reset_index()
    table["n_examples"] = table["n_examples"].astype(int)
    for col in ("ppl_tuned", "ratio", "mean_ratio"):
        if col in part.columns:
            stats = common.seed_stats(part, keys, value=col, scale=inference.POSITIVE, cells=keys)
            table = table.merge(stats[[*keys, "mean", "lo", "hi"]].rename(
                columns={s: f"{col}_{s}" for s in ("mean", "lo", "hi")}), on=keys, how="left")
    return table


def add_paper(table: pd.DataFrame, runs: pd.DataFrame | None, paper: pd.DataFrame | None) -> pd.DataFrame:
    """paper_backbone (the run's label in runs.csv) and the paper's numbers for it (paper_values)."""
    labels = {} if runs is None else common.paper_labels(runs).drop_duplicates("backbone").set_index(
        "backbone")["paper_backbone"].to_dict()
    return paper_values(table.assign(paper_backbone=table["backbone"].map(lambda b: labels.get(b, ""))), paper)


def paper_only(paper: pd.DataFrame | None) -> pd.DataFrame:
    """The paper's rows as a table without runs (one block per paper backbone)."""
    if paper is None:
        return pd.DataFrame(columns=["backbone", "mixture", "dataset", "n_seeds", "n_examples", "paper_backbone"])
    names = {"qwen": "Qwen1.5-0.5B", "gemma": "Gemma-2B", "llama": "LLaMA-3-8B"}
    rows = [{"backbone": "", "mixture": "", "dataset": d, "n_seeds": math.nan, "n_examples": math.nan,
             "paper_backbone": names[f]}
            for f in PAPER_FAMILIES if f"{f}_ppl_base" in paper.columns for d in paper["dataset"]]
    out = pd.DataFrame(rows)
    for col in ("ppl_base", *(f"{k}_{s}" for k in ("ppl_tuned", "ratio") for s in ("mean", "lo", "hi"))):
        out[col] = math.nan
    return out


def build(ppl: pd.DataFrame | None, runs: pd.DataFrame | None, paper: pd.DataFrame | None,
          scope: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Numeric and display tables of one scope (the paper's rows only when the summary has none)."""
    if ppl is not None and (ppl["scope"] == scope).any():
        table = add_paper(summarize(ppl, scope), runs, paper)
    else:
        table = paper_values(paper_only(paper), paper)
    return table, display_frame(table)


def paper_values(table: pd.DataFrame, paper: pd.DataFrame | None) -> pd.DataFrame:
    """paper_ppl_base / paper_ppl_tuned / paper_ratio: the paper's numbers for each row's paper_backbone
    label and dataset (NaN where the paper has no such backbone family or dataset)."""
    out = table.copy()
    ref = None if paper is None else paper.assign(_k=paper["dataset"].astype(str).str.casefold()).set_index("_k")

    def lookup(label: object, dataset: object, column: str) -> float:
        family, key = paper_family(label), str(dataset).casefold()
        ok = ref is not None and family is not None and f"{family}_{column}" in ref.columns and key in ref.index
        return float(ref.loc[key, f"{family}_{column}"]) if ok else math.nan

    for ours, theirs in (("ppl_base", "ppl_base"), ("ppl_tuned", "ppl_prop"), ("ratio", "ratio")):
        out[f"paper_{ours}"] = [lookup(b, d, theirs) for b, d in zip(out["paper_backbone"], out["dataset"], strict=True)]
    return out


# %% [markdown]
# ## Display and notes

# %%


def display_frame(table: pd.DataFrame) -> pd.DataFrame:
    """PPL_θ0 (one value: θ0 has no seeds), PPL_θ and Δ as mean [95% interval]; the paper's numbers beside."""
    def ci_cells(key: str, digits: int) -> list[str]:
        if f"{key}_mean" not in table.columns:
            return ["–"] * len(table)
        return [common.fmt_interval(m, lo, hi, max(digits, 2 - math.floor(math.log10(abs(m)))) if m and m == m
                                    else digits)  # small ratios keep three significant digits
                for m, lo, hi in zip(table[f"{key}_mean"], table[f"{key}_lo"], table[f"{key}_hi"], strict=True)]

    return pd.DataFrame({
        "Backbone": table["backbone"], "Dataset": table["dataset"], "Mixture": table["mixture"],
        "Seeds": table["n_seeds"], "Examples": table["n_examples"],
        "PPL_θ0": table["ppl_base"].map(common.fmt_number), "PPL_θ": ci_cells("ppl_tuned", 2),
        "Δ": ci_cells("ratio", 3),
        "Paper backbone": table["paper_backbone"],
        "Paper PPL_θ0": table["paper_ppl_base"].map(common.fmt_number),
        "Paper PPL_θ": table["paper_ppl_tuned"].map(common.fmt_number),
        "Paper Δ": table["paper_ratio"].map(common.fmt_number),
    })


def extremes(table: pd.DataFrame, group: str, ppl: str, ratio: str) -> dict[str, tuple[str, str]]:
    """group value -> (dataset with the highest `ppl`, dataset with the lowest `ratio`)."""
    out = {}
    for key, g in table.dropna(subset=[ppl, ratio]).groupby(group, sort=False):
        if key:
            out[key] = (str(g.loc[g[ppl].idxmax(), "dataset"]), str(g.loc[g[ratio].idxmin(), "dataset"]))
    return out


def notes(table: pd.DataFrame, scope: str, have_ours: bool) -> list[str]:
    """The sentences under a table."""
    out = [f"Perplexity over {SCOPES[scope][1]}, averaged over each dataset's study examples (a random "
           "subsample of θ0's probe pool, the same for every seed; column Examples). PPL_θ0: the base backbone; "
           "PPL_θ: fine-tuned with PROP. (τ = 1); Δ = PPL_θ / PPL_θ0, per seed. " + common.SEED_NOTE,
           "The paper's rows (its Table 6, response perplexity of billion-parameter models) are for the paper "
           "backbone each tiny backbone stands in for: compare the ordering of datasets, not the levels."]
    if not have_ours:
        out.append(f"No {scope} rows in summary/{SUMMARY_FILE}: only the paper's numbers are shown. Produce it with "
                   "`snakemake --cores all` (rules ppl_tuned and ppl_summary; the grid needs a PROP. (τ = 1) "
                   "mixture, i.e. temperature sampling with tau 1 over every dataset).")
        return out
    ours = extremes(table, "backbone", "ppl_base", "ratio_mean")
    if ours:
        out.append("Highest PPL_θ0 / lowest Δ (the paper: NLP for both, on every backbone): "
                   + "; ".join(f"{b}: {hi} / {lo}" for b, (hi, lo) in ours.items()) + ".")
    return out


def write_all(exp: Path) -> list[Path]:
    """Build and write the response- and sequence-scope tables for one experiment folder."""
    exp = Path(exp)
    path = exp / "summary" / SUMMARY_FILE
    ppl = common.read_csv(path, PPL_COLUMNS) if path.is_file() else None
    if ppl is None:
        print(f"table6_ppl: {path} is missing; writing the paper's rows only", file=sys.stderr)
    runs = common.load_runs(exp) if (exp / "summary" / "runs.csv").is_file() else None
    paper = common.load_paper(exp, PAPER_FILE, ["dataset"])
    written = []
    for scope, (stem, _) in SCOPES.items():
        table, display = build(ppl, runs, paper, scope)
        have = ppl is not None and (ppl["scope"] == scope).any()
        title = f"Table 6: perplexity before and after PROP. fine-tuning ({scope} perplexity)"
        written += common.write_table(display, table, exp / "tables" / stem, title, notes(table, scope, have))
    return written


# %%
if __name__ == "__main__":
    raise SystemExit(common.run(write_all))
