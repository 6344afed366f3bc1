"""The leaderboard: every mixing method × backbone at equal training budget, beside the baseline.

    python analysis/leaderboard.py results/<exp>

For every backbone and mixture of the experiment: µMU, µMB and µBOTH with their 95% intervals
(analysis/inference.py: σ pooled over every cell, bounded metrics on their scale), the difference to
the baseline arm declared in the config (`claims.baseline`, PROP. τ = 1 in the default) in µBOTH (µMU
when no judged benchmark ran) with its 95% interval and minimal detectable effect (paired by seed,
the blocked model of inference.py), the rank of the method within its backbone by mean µBOTH (1 =
best; ranks of methods whose difference is inside the noise are not a result), whether the method
did anything, and its cost.

Did it move? For a dynamic strategy (one whose trajectory logs rewards), the largest |weight − initial
weight| over every logged step, dataset and seed of the row (summary/trajectory.csv; Aioli's
LearnParams bursts, the rows without a smoothed reward, are its exploration, not its mixture: its
exploit rows are compared with its anchor, uniform at its default τ = ∞). A row that never moved by
more than NO_OP_FRACTION of the uniform weight 1/K (0.025 for K = 4) is marked "no-op" and not
ranked: below that the method's mixture stays closer to UNI. than TEMP. (τ = 10) is (0.034 at the
testbed's sizes, the smallest difference between two of the paper's static rows), and its Δ measures
UNI. (or its prior) plus the method's overhead, not the method. For scale: a static arm's realised
share of the 9,600 examples differs from its weight by a standard deviation of √(w(1−w)/9,600) ≈ 0.0044.

Cost: the controlled benchmark's ratio (results/benchmarks/field_overhead.json, read beside the
experiment's folder or from the repository: each method's loop wall time over uniform sampling's at
equal steps, the arms taking turns on one thread), plus, where the benchmark records it
(`prepass_seconds`), θ0's pre-pass over the training pool (HBO's IFD, DIFF's perplexities) over
uniform's loop time. A dynamic method absent from the benchmark reads "not benchmarked"; a static
mixture has no update to cost. The examples the method's dependency runs trained on beyond its own
budget (DoReMi's reference run) are a column of their own. Rows whose strategy is not one of the
paper's are marked "beyond the paper".

Regret (an experiment declaring `claims.headroom`, config/headroom.yaml): each row's µBOTH minus the verified
best static mixture's, paired by θ0, and its share of the headroom over the declared best heuristic
(analysis/surface.py's `regret`, the numbers of tables/headroom.md); the design's static points are not rows.
Writes tables/leaderboard.{md,csv,tex} and figures/leaderboard.{png,pdf} (Δ µBOTH against the
baseline with its interval, per backbone, methods in rank order, no-op rows hollow and grey).
A jupytext percent script: it also opens as a notebook.
"""

# %%
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import common, inference, surface, values

# What this script reads and writes, for `python -m analysis` and the workflow (analysis/__init__.py).
SCRIPT = {"reads": ["runs.csv", "metrics.csv", "claims.json", "trajectory.csv"],
          "writes": ["tables/leaderboard.md", "tables/leaderboard.csv", "figures/leaderboard.png"]}
PAPER_STRATEGIES = ("temperature", "fixed", "mos", "mospec", "multidds", "multiuat")
METRICS = {key: values.METRICS[key] for key in values.HEADLINE}  # key -> (header, scale)
NO_OP_FRACTION = 0.1  # a dynamic row whose weights never moved by more than this fraction of 1/K is a no-op
EXPLORATION = {"aioli": "rows without a smoothed reward are LearnParams bursts"}  # strategy -> what is left out
OVERHEAD = "benchmarks/field_overhead.json"  # under results/: the controlled overhead benchmark
REPO_RESULTS = Path(__file__).resolve().parents[1] / "results"


# %%
def budget_extras(runs: pd.DataFrame) -> pd.Series:
    """Mean extra training examples per cell (the runs' dependency runs), 0 where none is recorded."""
    col = runs["extra_examples"] if "extra_examples" in runs.columns else pd.Series(0.0, index=runs.index)
    return runs.assign(_x=pd.to_numeric(col, errors="coerce").fillna(0)).groupby(
        ["backbone", "mixture"], sort=False)["_x"].mean()


def run_movement(rows: pd.DataFrame, strategy: str, params: str) -> tuple[float, int] | None:
    """(largest |w − w0| over the run's logged steps and datasets, K) of one run's trajectory rows;
    None for a static run (no row carries a reward)."""
    rows = rows.sort_values("step", kind="stable")
    k = rows["dataset"].nunique()
    if "reward" not in rows.columns or rows["reward"].isna().all():
        return None
    if strategy in EXPLORATION:  # compare the exploit weights with the anchor the strategy starts from
        tau = json.loads(params or "{}").get("prior_tau", "inf")
        if not (isinstance(tau, str) or math.isinf(float(tau))):
            return math.nan, k  # a non-uniform anchor: not derived here
        exploit = rows[rows["smoothed_reward"].notna()]
        return float((exploit["weight"] - 1.0 / k).abs().max()) if len(exploit) else 0.0, k
    first = rows[rows["step"] == rows["step"].iloc[0]].set_index("dataset")["weight"]
    return float((rows["weight"] - rows["dataset"].map(first)).abs().max()), k


def weight_movement(trajectory: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """backbone, mixture, max_weight_change (the largest over the row's seeds; NaN for static rows),
    no_op_threshold (NO_OP_FRACTION / K) and no_op (1.0 / 0.0; NaN for static rows)."""
    out = []
    meta = runs.set_index(["backbone", "mixture", "seed"])
    for (b, m), cell in trajectory.groupby(["backbone", "mixture"], sort=False):
        found = []
        for seed, rows in cell.groupby("seed", sort=False):
            key = (b, m, seed)
            strategy = meta.loc[key, "strategy"] if key in meta.index else ""
            params = meta.loc[key, "params"] if key in meta.index and "params" in meta.columns else "{}"
            found.append(run_movement(rows, strategy, params if isinstance(params, str) else "{}"))
        moves = [f for f in found if f is not None]
        if not moves:
            out.append((b, m, math.nan, math.nan, math.nan))
            continue
        largest, k = max(x for x, _ in moves), moves[0][1]
        threshold = NO_OP_FRACTION / k
        out.append((b, m, largest, threshold, math.nan if largest != largest else float(largest <= threshold)))
    return pd.DataFrame(out, columns=["backbone", "mixture", "max_weight_change", "no_op_threshold", "no_op"])


def design_points(runs: pd.DataFrame, spec: dict) -> set[str]:
    """The headroom design's static mixtures (claims.headroom.design, the heuristics apart): points of a response
    surface, not methods, so not leaderboard rows (tables/headroom.md lists them)."""
    design = set(((spec.get("headroom") or {}).get("design")) or ())
    backbone = (spec.get("headroom") or {}).get("backbone")
    return design - set(surface.heuristics(runs, backbone)) if design else set()


def regrets(runs: pd.DataFrame, per_run: dict, spec: dict, fit: inference.Fit | None, head: str) -> pd.DataFrame:
    """Each row's regret against the verified optimum of the headroom experiment (claims.headroom: its backbone,
    metric and optimum mixture; analysis/surface.py's `regret`, paired by θ0) and its share of the headroom over
    the declared best heuristic; empty where the experiment declares no headroom or the optimum did not run."""
    columns = ["backbone", "mixture", "regret", "regret_lo", "regret_hi", "headroom_share"]
    h = spec.get("headroom") or {}
    metric, backbone, optimum = h.get("metric", "mu_both"), h.get("backbone"), h.get("optimum")
    if not optimum or metric not in per_run:
        return pd.DataFrame(columns=columns)
    if metric != head or fit is None:
        fit = inference.Fit(per_run[metric], METRICS[metric][1], bool(spec.get("pair_by_seed", True)),
                            what=f"leaderboard regret {metric}")
    if not fit.has(backbone, optimum):
        return pd.DataFrame(columns=columns)
    heur = surface.heuristics(runs, backbone)
    declared = (spec.get("best_heuristic") or {}).get(backbone)
    reference = declared if declared in heur else (heur[0] if heur else None)
    out = []
    for mixture in dict.fromkeys(runs.loc[runs["backbone"] == backbone, "mixture"]):
        if mixture == optimum:
            out.append((backbone, mixture, 0.0, math.nan, math.nan, 1.0 if reference else math.nan))
        elif fit.has(backbone, mixture):
            r = surface.regret(fit, backbone, mixture, optimum, reference)
            out.append((backbone, mixture, r["effect"], r["lo"], r["hi"], r["share"]))
    return pd.DataFrame(out, columns=columns)


def overhead_file(exp: Path) -> Path:
    """The controlled benchmark beside the experiment (results/benchmarks/) or in the repository."""
    beside = Path(exp).parent / OVERHEAD
    return beside if beside.is_file() else REPO_RESULTS / OVERHEAD


def controlled_cost(mixture: str, dynamic: bool, bench: dict | None) -> tuple[float, float, str]:
    """(loop ratio to uniform, θ0 pre-pass over uniform's loop time, note) from the benchmark."""
    arms = (bench or {}).get("arms", {})
    if mixture in arms and "ratio" in arms[mixture]:
        uniform = arms.get("uniform", {}).get("loop_seconds") or []
        pre = arms[mixture].get("prepass_seconds")
        prepass = pre / (sum(uniform) / len(uniform)) if pre is not None and uniform else math.nan
        return float(arms[mixture]["ratio"]), prepass, ""
    if mixture == "uniform" and "uniform" in arms:
        return 1.0, math.nan, "reference"
    return math.nan, math.nan, "not benchmarked" if dynamic else "static"


def build(exp: Path, overhead: Path | None = None) -> tuple[pd.DataFrame, str]:
    """The numeric leaderboard (one row per backbone × mixture) and the headline metric's label;
    `overhead`: the controlled benchmark's JSON (default: overhead_file(exp))."""
    inputs = common.load_inputs(exp)
    runs, spec = inputs.runs, inputs.claims or {}
    per_run = values.metric_values(inputs.metrics, runs)
    head = "mu_both" if "mu_both" in per_run else "mu_mmlu"
    baseline = spec.get("baseline") or "proportional"
    cells = runs[["backbone", "mixture", "strategy"]].drop_duplicates(["backbone", "mixture"])
    cells = cells[~cells["mixture"].isin(design_points(runs, spec))]
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
    moved = weight_movement(common.load_trajectory(exp, required=False), runs)
    table = table.merge(moved, on=["backbone", "mixture"], how="left")
    ranked = table[f"{head}_mean"].where(table["no_op"] != 1.0)  # a no-op row is not ranked as a method
    table["rank"] = ranked.groupby(table["backbone"], sort=False).rank(ascending=False, method="min")
    path = Path(overhead) if overhead is not None else overhead_file(exp)
    bench = json.loads(path.read_text()) if path.is_file() else None
    costs = [controlled_cost(m, mv == mv, bench) for m, mv in zip(table["mixture"], table["max_weight_change"],
                                                                   strict=True)]
    table["cost_ratio"] = [c[0] for c in costs]
    table["prepass_ratio"] = [c[1] for c in costs]
    table["cost_note"] = [c[2] for c in costs]
    table["extra_examples"] = [budget_extras(runs).get((b, m), 0.0)
                               for b, m in zip(table["backbone"], table["mixture"], strict=True)]
    table = table.merge(regrets(runs, per_run, spec, fit, head), on=["backbone", "mixture"], how="left")
    table["verdict"] = [
        "baseline" if m == baseline else "no-op: weights never moved" if no_op == 1.0 else (
            "better" if lo > 0 else "worse" if hi < 0 else f"inconclusive (MDE = {mde:.2f})" if mde == mde
            else "no interval (one replicate)") if d == d else "–"
        for m, d, lo, hi, mde, no_op in zip(table["mixture"], table["delta"], table["delta_lo"], table["delta_hi"],
                                            table["mde"], table["no_op"], strict=True)]
    table = table.sort_values(["backbone", "rank"], key=lambda c: c.map(
        {b: i for i, b in enumerate(dict.fromkeys(cells["backbone"]))}) if c.name == "backbone" else c,
        kind="stable").reset_index(drop=True)
    return table, METRICS[head][0]


# %%
def display(table: pd.DataFrame, headline: str) -> pd.DataFrame:
    out = pd.DataFrame({"Backbone": table["backbone"],
                        "Rank": table["rank"].map(lambda r: "–" if r != r else f"{r:.0f}"),
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
    out["Max |Δ weight|"] = [("static" if mv != mv else f"{mv:.3f}" + (" (no-op)" if no_op == 1.0 else ""))
                             for mv, no_op in zip(table["max_weight_change"], table["no_op"], strict=True)]
    out["Cost vs UNI. (controlled)"] = [
        note if c != c else f"{c:.2f}×" + (f" + {p:.2f}× θ0 pre-pass" if p == p else "")
        for c, p, note in zip(table["cost_ratio"], table["prepass_ratio"], table["cost_note"], strict=True)]
    out["Extra examples"] = table["extra_examples"].map(lambda x: f"{x:,.0f}" if x else "0")
    if table["regret"].notna().any():
        out["Regret vs optimum"] = ["optimum" if r == 0 and lo != lo else common.fmt_signed(r, lo, hi)
                                    for r, lo, hi in zip(table["regret"], table["regret_lo"], table["regret_hi"],
                                                         strict=True)]
        out["Share of headroom"] = table["headroom_share"].map(lambda v: "–" if pd.isna(v) else f"{v:.2f}")
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
            no_op = row.no_op == 1.0
            colour = "tab:grey" if no_op else "tab:purple" if row.beyond_paper else "tab:blue"
            if row.verdict == "baseline":
                ax.plot([0], [k], marker="D", color="black")
                continue
            ax.errorbar(row.delta, k, xerr=[[row.delta - row.delta_lo], [row.delta_hi - row.delta]],
                        fmt="s" if row.beyond_paper else "o", color=colour, capsize=3,
                        mfc="white" if no_op else colour)
        ax.axvline(0, color="grey", lw=0.8, ls="--")
        ax.set_yticks(y, [f"{'–' if r.rank != r.rank else f'{int(r.rank)}.'} {r.mixture}{' †' if r.beyond_paper else ''}"
                          f"{' (no-op)' if r.no_op == 1.0 else ''}" for r in part.itertuples()], fontsize=8)
        ax.set_title(backbone, fontsize=10)
        ax.set_xlabel(f"Δ {headline} vs {table['baseline'].iloc[0]} (95% interval)", fontsize=8)
    fig.suptitle("Leaderboard at equal training budget († beyond the paper; ◆ the baseline; hollow grey: no-op, "
                 "weights never moved)", fontsize=10)
    fig.tight_layout()
    paths = common.save_figure(fig, stem)
    plt.close(fig)
    return paths


def write_all(exp: Path) -> list[Path]:
    table, headline = build(exp)
    notes = [f"Rank within each backbone by mean {headline} (1 = best). Δ: this method − {table['baseline'].iloc[0]} "
             f"in {headline}, 95% interval of the θ0-level paired t (analysis/inference.py: the differences on the θ0s "
             "both arms share); "
             "'better'/'worse' only when the interval excludes 0, else 'inconclusive' with the minimal detectable "
             "effect. Ranks inside the noise are not a result.",
             "† beyond the paper (issue 12: DoReMi, ODM, DynamixSFT, Aioli, HBO). Max |Δ weight|: the largest "
             "|weight − initial weight| of a dynamic row over its steps, datasets and seeds (Aioli: its exploit "
             f"weights against its uniform anchor); 'no-op' when it never exceeds {NO_OP_FRACTION:g}/K (0.025 for "
             "K = 4): such a row is not ranked, its Δ is its prior plus its overhead. Cost: the loop's wall time "
             "relative to uniform sampling at equal steps in the controlled benchmark "
             "(results/benchmarks/field_overhead.json, the arms taking turns on one thread), plus θ0's pre-pass "
             "where it records one; 'not benchmarked' where it has no arm. Extra examples: what the method's "
             "dependency runs trained on (DoReMi's reference run).",
             "Regret vs optimum (an experiment that declares claims.headroom): this method − the verified best "
             "static mixture, paired by θ0, 95% interval; share of headroom = (method − best heuristic) / (optimum − "
             "best heuristic), given only where the headroom's interval excludes 0 (tables/headroom.md). The "
             "headroom design's static points are not rows here."]
    paths = common.write_table(display(table, headline), table, Path(exp) / "tables" / "leaderboard",
                               "Leaderboard of the mixing methods", notes)
    return paths + figure(table, headline, Path(exp) / "figures" / "leaderboard")


# %%
if __name__ == "__main__":
    raise SystemExit(common.run(write_all))
