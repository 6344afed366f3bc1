"""AlpacaEval-style win rates of every mixture against the reference mixture (default TEMP. τ = 10).

    python analysis/winrate.py results/<exp>

Reads results/<exp>/summary/{runs,winrate}.csv (`python -m mos judge winrate`: turn-1 answers of each
run against the reference mixture's run of the same backbone and seed, judged pairwise, summarised
by alpaca_eval's get_winrate) and writes results/<exp>/tables/winrate.{md,csv,tex}: per backbone and
mixture the win rate in % (ties count half) as mean ± 95% CI over seeds, wins / draws / losses summed
over seeds, and whether the CI excludes 50 %. The paper reports no win rates (AlpacaEval is the
suite's extension of its MT-Bench evaluation). Without summary/winrate.csv it writes a note only.
A jupytext percent script: it also opens as a notebook.
"""

# %%
from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis import common

COLUMNS = ["backbone", "mixture", "seed", "benchmark", "reference", "judge", "win_rate", "n_wins",
           "n_wins_base", "n_draws", "n_total"]

# %%


def build(winrate: pd.DataFrame, runs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The numeric table (one row per backbone x mixture) and its display form."""
    stats = common.seed_stats(winrate.rename(columns={"win_rate": "value"}), ["backbone", "mixture"])
    sums = winrate.groupby(["backbone", "mixture"], sort=False)[["n_wins", "n_draws", "n_wins_base", "n_total"]].sum()
    table = stats.merge(sums.reset_index(), on=["backbone", "mixture"])
    table["reference"] = winrate.groupby(["backbone", "mixture"], sort=False)["reference"].first().to_numpy()
    table = common.sort_like_runs(table.merge(common.paper_labels(runs), on=["backbone", "mixture"], how="left"),
                                  runs)
    table["beyond_ci"] = [common.fmt_number(m - 50) if abs(m - 50) > c else "no"
                          for m, c in zip(table["mean"], table["ci"].fillna(float("inf")), strict=True)]
    display = pd.DataFrame({
        "Backbone": table["backbone"], "Mixture": table["mixture"], "Paper method": table["paper_method"],
        "vs": table["reference"], "Seeds": table["n"],
        "Win rate (%)": [common.fmt_mean_ci(m, c) for m, c in zip(table["mean"], table["ci"], strict=True)],
        "Wins / draws / losses": [f"{int(w)} / {int(d)} / {int(b)}" for w, d, b in
                                  zip(table["n_wins"], table["n_draws"], table["n_wins_base"], strict=True)],
        "Δ from 50 beyond 95% CI": table["beyond_ci"],
    })
    return table, display


def write_all(exp: Path) -> list[Path]:
    """Write tables/winrate.{md,csv,tex} for one experiment folder."""
    path = Path(exp) / "summary" / "winrate.csv"
    stem = Path(exp) / "tables" / "winrate"
    title = "Win rates against the reference mixture (AlpacaEval-style, turn 1)"
    if not path.is_file():
        empty = pd.DataFrame(columns=["Backbone", "Mixture", "Win rate (%)"])
        return common.write_table(empty, empty, stem, title, [
            "No summary/winrate.csv: set eval.winrate.reference in the config to compare against a mixture."])
    runs = common.load_runs(exp)
    winrate = common.read_csv(path, COLUMNS)
    table, display = build(winrate, runs)
    bench, judge = winrate["benchmark"].iloc[0], winrate["judge"].iloc[0]
    notes = [f"Turn-1 answers of {bench}, judged pairwise by the {judge} judge in a seeded random order; win "
             "rate = (wins + draws / 2) / comparisons, as alpaca_eval's get_winrate. " + common.SEED_NOTE,
             "The last column gives the difference from 50 % when the 95% CI excludes it."]
    return common.write_table(display, table, stem, title, notes)


# %%
if __name__ == "__main__":
    for p in write_all(common.experiment_dir()):
        print(p)
