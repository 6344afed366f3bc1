"""The leaderboard: every mixing method × backbone at equal training budget, beside the baseline.

    python analysis/leaderboard.py results/<exp>

For every backbone and mixture of the experiment: µMU, µMB and µBOTH with their 95% intervals
(analysis/inference.py: σ pooled over every cell, bounded metrics on their scale), the difference to
the baseline arm declared in the config (`claims.baseline`, PROP. τ = 1 in the default) in µBOTH (µMU
when no judged benchmark ran) with its 95% interval and minimal detectable effect (paired by seed,
the blocked model of inference.py), the rank of the method within its backbone by mean µBOTH (1 =
best; ranks of methods whose difference is inside the noise are not a result), and the cost: the
wall time of a training step relative to the baseline's at equal steps (the mean of the runs'
`train_seconds`; the jobs ran side by side on a shared machine, so read it as ±10%), and the
examples the method's dependency runs trained on beyond its own budget (DoReMi's reference run,
shared with UNI.). Rows whose strategy is not one of the paper's are marked "beyond the paper".
Writes tables/leaderboard.{md,csv,tex} and figures/leaderboard.{png,pdf} (Δ µBOTH against the
baseline with its interval, per backbone, methods in rank order).
A jupytext percent script: it also opens as a notebook.
"""

# %%
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import common, inference, values

# What this script reads and writes, for `python -m analysis` and the workflow (analysis/__init__.py).
SCRIPT = {"reads": ["runs.csv", "metrics.csv", "claims.json"],
          "writes": ["tables/leaderboard.md", "tables/leaderboard.csv", "figures/leaderboard.png"]}
PAPER_STRATEGIES = ("temperature", "fixed", "mos", "mospec", "multidds", "multiuat")
METRICS = {key: values.METRICS[key] for key in values.HEADLINE}  # key -> (header, scale)


# %%
def budget_extras(runs: pd.DataFrame) -> pd.Series:
    """Mean extra training examples per cell (the runs' dependency runs), 0 where none is recorded."""
    col = runs["extra_examples"] if "extra_examples" in runs.columns else pd.Series(0.0, index=runs.index)
    return runs.assign(_x=pd.to_numeric(col, errors="coerce").fillna(0)).groupby(
        ["backbone", "mixture"], sort=False)["_x"].mean()


def build(exp: Path) -> tuple[pd.DataFrame, str]:
    """The numeric leaderboard (one row per backbone × mixture) and the headline metric's label."""
    inputs = common.load_inputs(exp)
    runs, spec = inputs.runs, inputs.claims or {}
    per_run = values.metric_values(inputs.metrics, runs)
    head = "mu_both" if "mu_both" in per_run else "mu_mmlu"
    baseline = spec.get("baseline") or "proportional"
    cells = runs[["backbone", "mixture", "strategy"]].drop_duplicates(["backbone", "mixture"])
    table = cells.copy()
    table["beyond_paper"] = ~table["strategy"].isin(PAPER_STRATEGIES)
    table["n_seeds"] = runs.groupby(["backbone", "mixture"], sort=False).size().reindex(
        pd.MultiIndex.from_frame(cells[["backbone", "mixture"]])).to_numpy()
    for key, (_label, scale) in METRICS.items():
        if key not in per_run:
            continue
        est = inference.cell_intervals(per_run[key], cells=("backbone", "mixture"), scale=scale)
        est = est.set_index(["backbone", "mixture"]).reindex(pd.MultiIndex.from_frame(cells[["backbone", "mixture"]]))
        for stat in ("mean", "lo", "hi"):
            table[f"{key}_{stat}"] = est[stat].to_numpy()
    fit = inference.Fit(per_run[head], METRICS[head][1], bool(spec.get("pair_by_seed", True)),
                        what=f"leaderboard {head}") if head in per_run else None
    deltas = []
    for row in table.itertuples():
        ok = fit is not None and fit.has(row.backbone, baseline) and fit.has(row.backbone, row.mixture)
        if not ok or row.mixture == baseline:
            deltas.append((0.0 if row.mixture == baseline else math.nan, math.nan, math.nan, math.nan))
            continue
        c = fit.compare(row.backbone, row.mixture, baseline)
        deltas.append((c.effect, c.lo, c.hi, c.mde))
    table[["delta", "delta_lo", "delta_hi", "mde"]] = np.array(deltas, dtype=float)
    table["baseline"] = baseline
    table["rank"] = table.groupby("backbone", sort=False)[f"{head}_mean"].rank(ascending=False, method="min")
    seconds = runs.groupby(["backbone", "mixture"], sort=False)["train_seconds"].mean()
    steps = runs.groupby(["backbone", "mixture"], sort=False)["steps"].mean()
    per_step = seconds / steps
    base_step = per_step.xs(baseline, level="mixture") if baseline in per_step.index.get_level_values(1) else None
    table["step_time_ratio"] = [per_step.get((b, m), math.nan) / base_step.get(b, math.nan)
                                if base_step is not None else math.nan
                                for b, m in zip(table["backbone"], table["mixture"], strict=True)]
    table["extra_examples"] = [budget_extras(runs).get((b, m), 0.0)
                               for b, m in zip(table["backbone"], table["mixture"], strict=True)]
    table["verdict"] = [
        "baseline" if m == baseline else (
            "better" if lo > 0 else "worse" if hi < 0 else f"inconclusive (MDE = {mde:.2f})") if d == d else "–"
        for m, d, lo, hi, mde in zip(table["mixture"], table["delta"], table["delta_lo"], table["delta_hi"],
                                     table["mde"], strict=True)]
    table = table.sort_values(["backbone", "rank"], key=lambda c: c.map(
        {b: i for i, b in enumerate(dict.fromkeys(cells["backbone"]))}) if c.name == "backbone" else c,
        kind="stable").reset_index(drop=True)
    return table, METRICS[head][0]


# %%
def display(table: pd.DataFrame, headline: str) -> pd.DataFrame:
    out = pd.DataFrame({"Backbone": table["backbone"], "Rank": table["rank"].map(lambda r: f"{r:.0f}"),
                        "Mixture": table["mixture"] + np.where(table["beyond_paper"], " †", ""),
                        "Seeds": table["n_seeds"]})
    for key, (label, _) in METRICS.items():
        if f"{key}_mean" in table.columns:
            out[label] = [common.fmt_interval(m, lo, hi) for m, lo, hi in
                          zip(table[f"{key}_mean"], table[f"{key}_lo"], table[f"{key}_hi"], strict=True)]
    out[f"Δ {headline} vs baseline"] = ["ref." if v == "baseline" else common.fmt_signed(d, lo, hi)
                                        for v, d, lo, hi in zip(table["verdict"], table["delta"], table["delta_lo"],
                                                                table["delta_hi"], strict=True)]
    out["Verdict"] = table["verdict"]
    out["Step time vs baseline"] = table["step_time_ratio"].map(lambda r: "–" if r != r else f"{r:.2f}×")
    out["Extra examples"] = table["extra_examples"].map(lambda x: f"{x:,.0f}" if x else "0")
    return out


def figure(table: pd.DataFrame, headline: str, stem: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    backbones = list(dict.fromkeys(table["backbone"]))
    n = max(len(table[table["backbone"] == b]) for b in backbones)
    fig, axes = plt.subplots(1, len(backbones), figsize=(4.6 * len(backbones), 0.34 * n + 1.6), sharex=False,
                             squeeze=False)
    for ax, backbone in zip(axes[0], backbones, strict=True):
        part = table[table["backbone"] == backbone].iloc[::-1]
        y = np.arange(len(part))
        for k, row in enumerate(part.itertuples()):
            colour = "tab:purple" if row.beyond_paper else "tab:blue"
            if row.verdict == "baseline":
                ax.plot([0], [k], marker="D", color="black")
                continue
            ax.errorbar(row.delta, k, xerr=[[row.delta - row.delta_lo], [row.delta_hi - row.delta]],
                        fmt="s" if row.beyond_paper else "o", color=colour, capsize=3)
        ax.axvline(0, color="grey", lw=0.8, ls="--")
        ax.set_yticks(y, [f"{int(r.rank)}. {r.mixture}{' †' if r.beyond_paper else ''}" for r in part.itertuples()],
                      fontsize=8)
        ax.set_title(backbone, fontsize=10)
        ax.set_xlabel(f"Δ {headline} vs {table['baseline'].iloc[0]} (95% interval)", fontsize=8)
    fig.suptitle("Leaderboard at equal training budget († beyond the paper; ◆ the baseline)", fontsize=10)
    fig.tight_layout()
    paths = common.save_figure(fig, stem)
    plt.close(fig)
    return paths


def write_all(exp: Path) -> list[Path]:
    table, headline = build(exp)
    notes = [f"Rank within each backbone by mean {headline} (1 = best). Δ: this method − {table['baseline'].iloc[0]} "
             f"in {headline}, 95% interval of the blocked model (analysis/inference.py, paired by seed); "
             "'better'/'worse' only when the interval excludes 0, else 'inconclusive' with the minimal detectable "
             "effect. Ranks inside the noise are not a result.",
             "† beyond the paper (issue 12: DoReMi, ODM, DynamixSFT, Aioli, HBO). Step time: mean training seconds "
             "per step relative to the baseline's at equal steps (jobs ran side by side: ±10%). Extra examples: "
             "what the method's dependency runs trained on (DoReMi's reference is the UNI. run itself)."]
    paths = common.write_table(display(table, headline), table, Path(exp) / "tables" / "leaderboard",
                               "Leaderboard of the mixing methods", notes)
    return paths + figure(table, headline, Path(exp) / "figures" / "leaderboard")


# %%
if __name__ == "__main__":
    raise SystemExit(common.run(write_all))
