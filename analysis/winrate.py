"""AlpacaEval-style win rates of every mixture against the reference mixture (default TEMP. τ = 10).

    python analysis/winrate.py results/<exp>

Reads results/<exp>/summary/{runs,winrate}.csv (`python -m mos judge winrate`: turn-1 answers of each
run against the reference mixture's run of the same backbone and seed, judged pairwise, summarised
by alpaca_eval's get_winrate) and writes results/<exp>/tables/winrate.{md,csv,tex}: per backbone and
mixture the win rate in % (ties count half) as mean [95% interval] over θ0s (the θ0-level t,
analysis/inference.py, never narrower than the judging sampling error), wins / draws / losses summed
over seeds, and the difference from 50 % with its interval and MDE. The paper reports no win rates
(AlpacaEval is the suite's extension of its MT-Bench evaluation). Without summary/winrate.csv it writes a note only.
A jupytext percent script: it also opens as a notebook.
"""

# %%
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import common, inference

# What this script reads and writes, for `python -m analysis` and the workflow (analysis/__init__.py).
# (The rule `winrate` judges the answers, so this script's rule is winrate_table.)
SCRIPT = {"reads": ["winrate.csv", "runs.csv"], "when": "winrate", "rule": "winrate_table",
          "writes": ["tables/winrate.md", "tables/winrate.csv", "tables/winrate.tex"]}
COLUMNS = ["backbone", "mixture", "seed", "benchmark", "reference", "judge", "win_rate", "n_wins",
           "n_wins_base", "n_draws", "n_total"]

# %%


def judging_floor(c: inference.Comparison, winrate: pd.DataFrame, backbone: str,
                  mixture: str) -> inference.Comparison:
    """The comparison with its SE raised to at least the judging sampling error of the cell's mean.

    Each run's win rate comes from a finite number of judged pairs (alpaca_eval's `standard_error`), so
    the spread of its θ0 means cannot truly be below sqrt(mean SE² / runs). Win rates are discrete
    (multiples of 100 / 2n): two θ0s can tie exactly, and their sample SD of 0 would give a zero-width
    interval that "excludes" 50. The df stay those of the θ0-level t.
    """
    if "standard_error" not in winrate.columns or not c.testable:
        return c
    se = winrate.loc[(winrate["backbone"] == backbone) & (winrate["mixture"] == mixture), "standard_error"]
    se = se.dropna().to_numpy(dtype=float)
    if not len(se):
        return c
    floor = float(np.sqrt(np.mean(se ** 2) / len(se)))
    return c if c.se >= floor else dataclasses.replace(c, se=floor)


def build(winrate: pd.DataFrame, runs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The numeric table (one row per backbone x mixture) and its display form."""
    values = winrate.rename(columns={"win_rate": "value"})
    stats = common.seed_stats(values, ["backbone", "mixture"], scale=inference.PERCENT)
    fit = inference.Fit(inference.attach_theta0(values[[*inference.KEY, "value"]], runs), inference.PERCENT,
                        what="win rate")
    versus = [judging_floor(fit.versus(b, m, 50.0), winrate, b, m)
              for b, m in zip(stats["backbone"], stats["mixture"], strict=True)]
    stats = stats.assign(delta_mean=[c.effect for c in versus], delta_lo=[c.lo for c in versus],
                         delta_hi=[c.hi for c in versus], p=[c.p(0) for c in versus], mde=[c.mde for c in versus])
    # the win rate's own interval is never narrower than the (floored) interval of its difference from 50
    stats["lo"] = np.fmin(stats["lo"], 50.0 + stats["delta_lo"])
    stats["hi"] = np.fmax(stats["hi"], 50.0 + stats["delta_hi"])
    sums = winrate.groupby(["backbone", "mixture"], sort=False)[["n_wins", "n_draws", "n_wins_base", "n_total"]].sum()
    table = stats.merge(sums.reset_index(), on=["backbone", "mixture"])
    table["reference"] = winrate.groupby(["backbone", "mixture"], sort=False)["reference"].first().to_numpy()
    table = common.sort_like_runs(table.merge(common.paper_labels(runs), on=["backbone", "mixture"], how="left"),
                                  runs)
    table["beyond_ci"] = (table["delta_lo"] > 0) | (table["delta_hi"] < 0)
    display = pd.DataFrame({
        "Backbone": table["backbone"], "Mixture": table["mixture"], "Paper method": table["paper_method"],
        "vs": table["reference"], "Seeds": table["n"],
        "Win rate (%)": [common.fmt_interval(m, lo, hi) for m, lo, hi in
                         zip(table["mean"], table["lo"], table["hi"], strict=True)],
        "Wins / draws / losses": [f"{int(w)} / {int(d)} / {int(b)}" for w, d, b in
                                  zip(table["n_wins"], table["n_draws"], table["n_wins_base"], strict=True)],
        "Win rate − 50": [common.fmt_signed(m, lo, hi) + ("" if b else " (inconclusive)") for m, lo, hi, b in
                          zip(table["delta_mean"], table["delta_lo"], table["delta_hi"], table["beyond_ci"],
                              strict=True)],
        "MDE": table["mde"].map(common.fmt_number),
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
             "Win rate − 50: the difference from a tie with its 95% interval (the one-sample t on the θ0 means, analysis/inference.py); "
             "its SE is at least the judging sampling error of the cell's mean (alpaca_eval's standard error "
             "of each run), so θ0s that tie exactly do not give a zero-width interval; "
             "inconclusive when the interval includes 0, MDE: the smallest difference detected with 80% power. Not "
             "corrected for multiplicity."]
    return common.write_table(display, table, stem, title, notes)


# %%
if __name__ == "__main__":
    raise SystemExit(common.run(write_all))
