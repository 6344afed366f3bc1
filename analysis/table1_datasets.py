"""Table 1 of the paper: statistics of the training datasets actually used, beside the paper's.

    python analysis/table1_datasets.py results/<exp>

Reads results/<exp>/summary/datasets.csv (written by `python -m mos stats datasets`, rule
dataset_stats: one row per training dataset of the grid and a Total row) and
results/paper/table1_datasets.csv. Columns, as the paper defines them (lengths in whitespace words):
#exam. (examples), #words (all user and assistant messages), Inst.L (mean words per user message),
Resp.L (mean words per assistant message), Turns (mean user messages per example) and Share (the
dataset's fraction of all examples, the imbalance that the sampling priors act on); then the paper's
numbers for the dataset of the same name. The data do not depend on the seed, so there is no
confidence interval. Writes results/<exp>/tables/table1_datasets.{md,csv,tex}. Without
summary/datasets.csv (results aggregated before the rule existed) it still writes the table, with
the paper's rows only and a note saying how to produce ours.
A jupytext percent script: it also opens as a notebook.
"""

# %%
from __future__ import annotations

import math
import sys
from pathlib import Path

import pandas as pd

from analysis import common

# What this script reads and writes, for `python -m analysis` and the workflow (analysis/__init__.py).
SCRIPT = {"reads": ["datasets.csv"],
          "writes": ["tables/table1_datasets.md", "tables/table1_datasets.csv", "tables/table1_datasets.tex"]}
PAPER_FILE = "table1_datasets.csv"
SUMMARY_FILE = "datasets.csv"
TOTAL = "Total"
# numeric column -> header, in the paper's order
COLUMNS = {"examples": "#exam.", "words": "#words", "instruction_len_words": "Inst.L",
           "response_len_words": "Resp.L", "turns": "Turns", "share": "Share"}
SUFFIXES = {"K": 1e3, "M": 1e6, "B": 1e9}

# %% [markdown]
# ## Reading the paper's counts ("26.2K", "3.4M") and writing ours

# %%


def parse_count(text: object) -> float:
    """'26.2K' -> 26200.0, '3.4M' -> 3400000.0, '47.6' -> 47.6; NaN when empty."""
    if pd.isna(text):
        return math.nan
    s = str(text).strip().replace(",", "")
    if s and s[-1].upper() in SUFFIXES:
        return float(s[:-1]) * SUFFIXES[s[-1].upper()]
    return float(s) if s else math.nan


def fmt_count(value: float) -> str:
    """An exact count with thousands separators ('2,620'), or '–'."""
    return "–" if pd.isna(value) else f"{round(value):,}"


def fmt_share(value: float) -> str:
    return "–" if pd.isna(value) else f"{100 * value:.1f}%"


def with_share(df: pd.DataFrame) -> pd.DataFrame:
    """Add `share`: examples / the Total row's examples (the sum of the datasets when there is none)."""
    out = df.copy()
    is_total = out["dataset"] == TOTAL
    total = out.loc[is_total, "examples"].sum() if is_total.any() else out["examples"].sum()
    out["share"] = out["examples"] / total if total else math.nan
    return out


def paper_frame(paper: pd.DataFrame | None) -> pd.DataFrame:
    """The paper's Table 1 as numbers, with its share of examples."""
    if paper is None:
        return pd.DataFrame(columns=["dataset", *COLUMNS])
    out = pd.DataFrame({"dataset": paper["dataset"].astype(str)})
    for col in COLUMNS:
        if col != "share":
            out[col] = paper[col].map(parse_count) if col in paper.columns else math.nan
    return with_share(out)


# %% [markdown]
# ## The table: our rows, the paper's beside them

# %%


def build(ours: pd.DataFrame | None, paper: pd.DataFrame | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Numeric and display tables: our datasets (Total last) with the paper's row of the same name.

    Datasets of the paper that we do not have are listed after ours with the paper's numbers only.
    """
    ref = paper_frame(paper)
    ours = pd.DataFrame(columns=["dataset", *COLUMNS]) if ours is None else with_share(ours)
    names = [n for n in ours["dataset"].astype(str) if n != TOTAL]
    extra = [n for n in ref["dataset"] if n != TOTAL and n.casefold() not in {x.casefold() for x in names}]
    order = names + extra + [TOTAL]
    mine = ours.assign(_k=ours["dataset"].astype(str).str.casefold()).drop_duplicates("_k").set_index("_k")
    theirs = ref.assign(_k=ref["dataset"].str.casefold()).drop_duplicates("_k").set_index("_k")
    keys = [n.casefold() for n in order]
    table = pd.DataFrame({"dataset": order})
    for col in COLUMNS:
        table[col] = mine[col].reindex(keys).to_numpy(dtype=float) if col in mine else math.nan
    for col in COLUMNS:
        table[f"paper_{col}"] = theirs[col].reindex(keys).to_numpy(dtype=float) if col in theirs else math.nan
    if ours.empty:
        table[list(COLUMNS)] = math.nan
    return table, display_frame(table, paper)


def display_frame(table: pd.DataFrame, paper: pd.DataFrame | None) -> pd.DataFrame:
    """Our counts exact, lengths with one decimal; the paper's cells as printed (e.g. 26.2K)."""
    out = pd.DataFrame({"Dataset": table["dataset"]})
    fmt = {"examples": fmt_count, "words": fmt_count, "share": fmt_share}
    for col, header in COLUMNS.items():
        out[header] = table[col].map(fmt.get(col, lambda v: common.fmt_number(v, 1)))
    printed = {} if paper is None else paper.assign(_k=paper["dataset"].astype(str).str.casefold()).set_index("_k")
    keys = table["dataset"].str.casefold()
    for col, header in COLUMNS.items():
        if col != "share" and col in getattr(printed, "columns", []):
            out[f"Paper {header}"] = [str(printed[col].get(k)) if k in printed.index else "–" for k in keys]
        else:
            out[f"Paper {header}"] = table[f"paper_{col}"].map(fmt.get(col, lambda v: common.fmt_number(v, 1)))
    return out


def notes(table: pd.DataFrame, have_ours: bool) -> list[str]:
    """The sentences under the table."""
    out = ["Lengths in whitespace-separated words. #words counts every user and assistant message; Inst.L "
           "and Resp.L are mean words per user / assistant message; Turns is mean user messages per example. "
           "Total: sums of #exam. and #words; lengths averaged over every turn and Turns over every example "
           "(so the per-dataset lengths are weighted by examples × Turns, as in the paper's Total row). "
           "Share: fraction of all examples. The data are the same for every seed."]
    if not have_ours:
        out.append(f"No summary/{SUMMARY_FILE} in this experiment: only the paper's rows are shown. "
                   "Produce it with `snakemake --cores all` (rule dataset_stats) or "
                   "`python -m mos stats datasets --dataset NAME=PATH ... --out results/<exp>/summary/datasets.csv`.")
        return out
    total = table.loc[table["dataset"] == TOTAL]
    if len(total) and not pd.isna(total["paper_examples"].iloc[0]) and total["paper_examples"].iloc[0]:
        ratio = total["examples"].iloc[0] / total["paper_examples"].iloc[0]
        out.append(f"Our data hold {ratio:.3g} × the paper's examples; compare shares and the ordering of "
                   "lengths, not absolute sizes (the testbed's texts are generated, not the paper's datasets).")
    return out


def write_all(exp: Path) -> list[Path]:
    """Build and write table1_datasets.{md,csv,tex} for one experiment folder."""
    path = Path(exp) / "summary" / SUMMARY_FILE
    ours = None
    if path.is_file():
        ours = common.read_csv(path, ["dataset", *(c for c in COLUMNS if c != "share")])
    else:
        print(f"table1_datasets: {path} is missing; writing the paper's rows only", file=sys.stderr)
    paper = common.load_paper(exp, PAPER_FILE, ["dataset"])
    table, display = build(ours, paper)
    title = "Table 1: statistics of the training datasets (ours beside the paper's)"
    return common.write_table(display, table, Path(exp) / "tables" / "table1_datasets", title,
                              notes(table, ours is not None))


# %%
if __name__ == "__main__":
    raise SystemExit(common.run(write_all))
