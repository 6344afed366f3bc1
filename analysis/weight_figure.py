"""The sampling-weight figure and its start/end table, shared by Figures 2 (MoS) and 4 (MoSpec).

Not run by itself: analysis/fig2_weights.py and analysis/fig4_mospec_weights.py each call
`write_all(exp, spec)` with their FigureSpec (which mixtures, which digitized paper panels, which files).

One panel per backbone x mixture whose paper_method label key starts with the spec's prefix, in
runs.csv order, then one panel per paper curve. Each panel has one line per dataset in the paper's
colours and line styles (Mathematics red solid, Medicine blue dashed, General green dash-dot, NLP
orange dotted): the weight logged in trajectory.csv, averaged over seeds at each step, with a shaded
95% band (σ pooled over every panel's runs at that step and dataset, logit scale: analysis/inference.py). All
panels share one y-axis. Writes results/<exp>/figures/<figure_stem>.{png,pdf} and .csv (the plotted
values, ours and the paper's), and results/<exp>/tables/<table_stem>.{md,csv,tex}: each dataset's
weight at the first and last logged step and the change, mean [95% interval] over seeds, beside the paper's for
the LLaMA-3-8B runs with the same paper_method (analysis/values.py: start_end, the paper's curves).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from analysis import common, inference, values  # noqa: E402
from analysis.values import PaperPanel  # noqa: E402

DATASET_COLORS = {"Mathematics": "tab:red", "Medicine": "tab:blue", "General": "tab:green", "NLP": "tab:orange"}
DATASET_LINES = {"Mathematics": "-", "Medicine": "--", "General": "-.", "NLP": ":"}  # colour-blind safe pairing
OTHER_COLORS = ("tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan", "tab:gray")
MAX_COLUMNS = 4
PAPER_BACKBONE = "LLaMA-3-8B"


@dataclass(frozen=True)
class FigureSpec:
    """What one weights figure draws: mixtures whose paper_method key starts with `prefix`, and paper panels."""

    prefix: str
    panels: tuple[PaperPanel, ...]
    figure_stem: str
    table_stem: str
    title: str


# ---------------------------------------------------------------- which runs; the mean weight per step


def select_mixtures(runs: pd.DataFrame, prefix: str) -> pd.DataFrame:
    """backbone, mixture, paper_backbone, paper_method of the mixtures whose label key starts with `prefix`.

    common.label_key turns 'MoS + DIFF' into 'mos+diff' and 'MoSpec + DIFF' into 'mospec+diff', so the
    prefix 'mos+' keeps MoS and leaves MoSpec out.
    """
    labels = common.paper_labels(runs)
    return labels[labels["paper_method"].map(lambda m: common.label_key(m).startswith(prefix))].reset_index(drop=True)


def dataset_order(names: Sequence[str]) -> list[str]:
    """The paper's four datasets first, in its order, then any others in order of appearance."""
    found = list(dict.fromkeys(names))
    return [d for d in DATASET_COLORS if d in found] + [d for d in found if d not in DATASET_COLORS]


def dataset_colors(datasets: Sequence[str]) -> dict[str, str]:
    """The paper's colour for its four datasets, fixed others for the rest."""
    others = itertools.cycle(OTHER_COLORS)
    return {d: DATASET_COLORS.get(d) or next(others) for d in datasets}


def weight_curves(trajectory: pd.DataFrame, selected: pd.DataFrame) -> pd.DataFrame:
    """backbone, mixture, step, dataset, mean, lo, hi, n: each dataset's weight averaged over seeds per step,
    with its 95% interval (σ pooled over the selected mixtures at that step and dataset, logit scale).

    Rows follow `selected` (runs.csv order), then step, then the dataset order of dataset_order().
    """
    traj = trajectory.merge(selected[["backbone", "mixture"]], on=["backbone", "mixture"])
    stats = common.seed_stats(traj, ["backbone", "mixture", "step", "dataset"], value="weight",
                              scale=inference.WEIGHT)
    if stats.empty:
        return stats
    rank_pair = {(b, m): i for i, (b, m) in enumerate(zip(selected["backbone"], selected["mixture"], strict=True))}
    rank_data = {d: i for i, d in enumerate(dataset_order(trajectory["dataset"]))}
    stats["_pair"] = [rank_pair[k] for k in zip(stats["backbone"], stats["mixture"], strict=True)]
    stats["_data"] = stats["dataset"].map(rank_data)
    return stats.sort_values(["_pair", "step", "_data"], kind="stable").drop(columns=["_pair", "_data"]).reset_index(
        drop=True)


# ---------------------------------------------------------------- each dataset's start, end and change


def final_table(trajectory: pd.DataFrame, selected: pd.DataFrame,
                paper: dict[str, pd.DataFrame]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Numeric and display tables: start, end and change (end − start, per seed) mean [95% interval] per dataset.

    `paper` maps label_key(method) -> the paper's curves; they fill paper_* on LLaMA-3-8B rows.
    """
    runs = values.start_end(trajectory, selected).assign(change=lambda d: d["end"] - d["start"])
    keys = ["backbone", "mixture", "dataset"]
    table = runs.groupby(keys, sort=False).size().rename("n_seeds").reset_index()
    for col, scale in (("start", inference.WEIGHT), ("end", inference.WEIGHT), ("change", inference.CHANGE)):
        stats = common.seed_stats(runs, keys, value=col, scale=scale) if len(runs) else pd.DataFrame(
            columns=[*keys, "mean", "lo", "hi"])
        table = table.merge(stats[[*keys, "mean", "lo", "hi"]].rename(
            columns={s: f"{col}_{s}" for s in ("mean", "lo", "hi")}), on=keys, how="left")
    table = table.merge(selected, on=["backbone", "mixture"], how="left")
    table = order_rows(table, selected, trajectory)
    table = add_paper(table, paper)
    return table, display_table(table)


def order_rows(table: pd.DataFrame, selected: pd.DataFrame, trajectory: pd.DataFrame) -> pd.DataFrame:
    """Rows in `selected` order, datasets in the paper's order."""
    rank_pair = {(b, m): i for i, (b, m) in enumerate(zip(selected["backbone"], selected["mixture"], strict=True))}
    rank_data = {d: i for i, d in enumerate(dataset_order(trajectory["dataset"]))}
    table = table.assign(_pair=[rank_pair[k] for k in zip(table["backbone"], table["mixture"], strict=True)],
                         _data=table["dataset"].map(rank_data))
    return table.sort_values(["_pair", "_data"], kind="stable").drop(columns=["_pair", "_data"]).reset_index(drop=True)


def add_paper(table: pd.DataFrame, paper: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """paper_start / paper_end / paper_change on rows of the paper's backbone with a plotted method."""
    out = table.copy()
    ends = {k: values.paper_start_end(c).set_index("dataset") for k, c in paper.items()}
    for col in ("start", "end"):
        out[f"paper_{col}"] = [
            ends[common.label_key(m)][col].get(d, math.nan)
            if common.label_key(b) == common.label_key(PAPER_BACKBONE) and common.label_key(m) in ends else math.nan
            for b, m, d in zip(out["paper_backbone"], out["paper_method"], out["dataset"], strict=True)]
    out["paper_change"] = out["paper_end"] - out["paper_start"]
    return out


def display_table(table: pd.DataFrame) -> pd.DataFrame:
    """Strings for Markdown and LaTeX (weights to 3 decimals)."""
    def cells(col: str) -> list[str]:
        return [common.fmt_interval(m, lo, hi, 3) for m, lo, hi in
                zip(table[f"{col}_mean"], table[f"{col}_lo"], table[f"{col}_hi"], strict=True)]

    out = pd.DataFrame({"Backbone": table["backbone"], "Mixture": table["mixture"], "Method": table["paper_method"],
                        "Dataset": table["dataset"], "Seeds": table["n_seeds"], "Start": cells("start"),
                        "End": cells("end")})
    out["Change"] = [common.fmt_signed(m, lo, hi, 3) for m, lo, hi in
                     zip(table["change_mean"], table["change_lo"], table["change_hi"], strict=True)]
    for col in ("start", "end"):
        out[f"Paper {col}"] = table[f"paper_{col}"].map(lambda v: common.fmt_number(v, 3))
    out["Paper change"] = table["paper_change"].map(lambda v: common.fmt_signed(v, digits=3))
    return out


# ---------------------------------------------------------------- the figure


def y_limits(curves: pd.DataFrame, paper: Sequence[tuple[PaperPanel, pd.DataFrame]]) -> tuple[float, float]:
    """A common y-range over our bands and the paper's curves, padded by 5%."""
    lows = [curves["lo"].fillna(curves["mean"]).min()] if len(curves) else []
    highs = [curves["hi"].fillna(curves["mean"]).max()] if len(curves) else []
    for _, c in paper:
        values = c.drop(columns="step")
        lows.append(values.min().min())
        highs.append(values.max().max())
    lo, hi = (min(lows), max(highs)) if lows else (0.0, 1.0)
    pad = 0.05 * (hi - lo) if hi > lo else 0.05
    return max(0.0, lo - pad), min(1.0, hi + pad)


def plot_ours(ax: plt.Axes, curves: pd.DataFrame, colors: dict[str, str], title: str) -> None:
    """One run group: a mean line and a CI band (where there are several seeds) per dataset."""
    for dataset, c in curves.groupby("dataset", sort=False):
        ax.plot(c["step"], c["mean"], color=colors[dataset], ls=DATASET_LINES.get(dataset, "-"), lw=1.5,
                label=dataset)
        band = c.dropna(subset=["lo"])
        ax.fill_between(band["step"], band["lo"], band["hi"], color=colors[dataset], alpha=0.2, lw=0)
    ax.set_title(title, fontsize=9)


def plot_paper(ax: plt.Axes, panel: PaperPanel, curves: pd.DataFrame, colors: dict[str, str]) -> None:
    """One digitized paper panel, in the paper's colours."""
    for dataset in curves.columns.drop("step"):
        ax.plot(curves["step"], curves[dataset], color=colors.get(dataset, "black"), ls=DATASET_LINES.get(dataset, "-"),
                lw=1.3, label=dataset)
    ax.set_title(f"Paper {panel.name}: {PAPER_BACKBONE}\n{panel.method}", fontsize=9)


def panel_title(row: pd.Series) -> str:
    """'tiny-llama: mos_diff_ema' over '≈ LLaMA-3-8B, MoS + DIFF + EMA'."""
    paper = ", ".join(x for x in (row["paper_backbone"] and f"≈ {row['paper_backbone']}", row["paper_method"]) if x)
    return f"{row['backbone']}: {row['mixture']}" + (f"\n{paper}" if paper else "")


def make_figure(curves: pd.DataFrame, selected: pd.DataFrame, paper: Sequence[tuple[PaperPanel, pd.DataFrame]],
                title: str) -> plt.Figure:
    """Our panels (selected order) then the paper's, MAX_COLUMNS per row, one shared y-range and legend."""
    pairs = [(b, m) for b, m in zip(selected["backbone"], selected["mixture"], strict=True)
             if ((curves["backbone"] == b) & (curves["mixture"] == m)).any()] if len(curves) else []
    n = max(1, len(pairs) + len(paper))
    ncols = min(n, MAX_COLUMNS)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.4 * ncols, 2.9 * nrows + 0.6), squeeze=False)
    flat = list(axes.flat)
    names = list(curves["dataset"]) if len(curves) else []
    for _, c in paper:
        names += [d for d in c.columns if d != "step"]
    colors = dataset_colors(dataset_order(names))
    labels = selected.set_index(["backbone", "mixture"])
    for ax, (backbone, mixture) in zip(flat, pairs, strict=False):
        row = labels.loc[(backbone, mixture)]
        row = pd.Series({"backbone": backbone, "mixture": mixture, "paper_backbone": row["paper_backbone"],
                         "paper_method": row["paper_method"]})
        plot_ours(ax, curves[(curves["backbone"] == backbone) & (curves["mixture"] == mixture)], colors,
                  panel_title(row))
    for ax, (panel, c) in zip(flat[len(pairs):], paper, strict=False):
        plot_paper(ax, panel, c, colors)
    if not pairs and not paper:
        flat[0].text(0.5, 0.5, "no matching runs", ha="center", va="center", transform=flat[0].transAxes)
    ylim = y_limits(curves, paper)
    for i, ax in enumerate(flat):
        if i >= max(len(pairs) + len(paper), 1):
            ax.set_visible(False)
            continue
        ax.set_ylim(*ylim)
        ax.grid(alpha=0.3)
        ax.set_xlabel("Training steps", fontsize=8)
        ax.tick_params(labelsize=7)
        if i % ncols == 0:
            ax.set_ylabel("Samp. prob.", fontsize=8)
    handles = [plt.Line2D([], [], color=colors[d], ls=DATASET_LINES.get(d, "-"), lw=1.8) for d in colors]
    shown = max(len(pairs) + len(paper), 1)
    if shown < len(flat):  # the legend in the first empty slot, beside the panels
        flat[shown].set_visible(True)
        flat[shown].axis("off")
        flat[shown].legend(handles, list(colors), loc="center", fontsize=9, frameon=False, title="Dataset",
                           title_fontsize=9, handlelength=3)
    else:
        fig.legend(handles, list(colors), loc="lower center", ncol=max(1, len(colors)), fontsize=8, frameon=False,
                   bbox_to_anchor=(0.5, 0.16 / fig.get_figheight()), handlelength=3)
    fig.suptitle(title, fontsize=10)
    fig.text(0.01, 0.0, "Lines: mean over seeds; bands: 95% interval of the mean (σ pooled over every panel's "
             "runs at each step, logit scale).", fontsize=7, va="bottom")
    fig.tight_layout(rect=(0, (0.55 if shown >= len(flat) else 0.2) / fig.get_figheight(), 1, 1))
    return fig


def plotted_values(curves: pd.DataFrame, selected: pd.DataFrame,
                   paper: Sequence[tuple[PaperPanel, pd.DataFrame]]) -> pd.DataFrame:
    """The figure's data: source (ours / the paper panel), backbone, mixture, paper_method, step, dataset, ..."""
    ours = curves.merge(selected, on=["backbone", "mixture"], how="left").rename(
        columns={"mean": "weight_mean", "lo": "weight_lo", "hi": "weight_hi", "n": "n_seeds"}).assign(source="ours")
    parts = [ours]
    for panel, c in paper:
        long = c.melt(id_vars="step", var_name="dataset", value_name="weight_mean")
        parts.append(long.assign(source=f"paper {panel.name}", backbone=PAPER_BACKBONE, mixture="",
                                 paper_backbone=PAPER_BACKBONE, paper_method=panel.method))
    cols = ["source", "backbone", "mixture", "paper_backbone", "paper_method", "step", "dataset", "weight_mean",
            "weight_lo", "weight_hi", "n_seeds"]
    return pd.concat([p.reindex(columns=cols) for p in parts if len(p)], ignore_index=True).reindex(columns=cols)


# ---------------------------------------------------------------- write everything


def write_all(exp: Path, spec: FigureSpec) -> list[Path]:
    """Draw the figure and write its data and the start/end table for one experiment folder."""
    runs = common.load_runs(exp)
    trajectory = common.load_trajectory(exp)
    selected = select_mixtures(runs, spec.prefix)
    paper = values.load_paper_curves(exp, spec.panels)
    curves = weight_curves(trajectory, selected)
    fig = make_figure(curves, selected, paper, spec.title)
    written = common.save_figure(fig, exp / "figures" / spec.figure_stem)
    plt.close(fig)
    written.append(common.write_frame_csv(plotted_values(curves, selected, paper),
                                          exp / "figures" / f"{spec.figure_stem}.csv"))
    table, display = final_table(trajectory, selected, {common.label_key(p.method): c for p, c in paper})
    notes = ["Weight at the first and the last logged step of each run (trajectory.csv), and the change "
             "end − start computed per seed. " + common.SEED_NOTE,
             f"The Paper columns are the paper's digitized curves ({', '.join(p.name for p, _ in paper) or 'none'}, "
             f"{PAPER_BACKBONE}), filled on runs standing in for {PAPER_BACKBONE} with the same paper_method."]
    if selected.empty:
        notes.append(f"No run has a paper_method starting with '{spec.prefix}' (label key): nothing of ours to show.")
    written += common.write_table(display, table, exp / "tables" / spec.table_stem,
                                  f"{spec.title}: start and end of training", notes)
    return written

