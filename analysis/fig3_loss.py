"""Figure 3 of the paper: training loss against step, one panel per backbone, one line per mixture.

    python analysis/fig3_loss.py results/<exp>

Reads results/<exp>/summary/{runs,train_log}.csv and results/paper/fig3_training_loss.csv.
Each line is the mean over seeds of the (lightly smoothed) loss, with a shaded 95% confidence band
across seeds; a last panel redraws the paper's digitized LLaMA-3-8B curves. Writes
results/<exp>/figures/fig3_loss.{png,pdf} and .csv (the plotted values), and
results/<exp>/tables/fig3_final_loss.{md,csv,tex}: the final loss of each run (mean of the last
10% of logged steps) as mean ± CI over seeds, beside the paper's final loss for the run's
paper_method where the paper plots it. Each curve is the loss on its own mixture, so the levels
of different mixtures are not measured on a common set (as in the paper).
A jupytext percent script: it also opens as a notebook.
"""

# %%
from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from analysis import common  # noqa: E402

SMOOTH_WINDOW = 3        # logged points in the centred rolling mean applied to each run's loss
FINAL_FRACTION = 0.1     # the final loss is the mean over the last 10% of logged steps
MAX_COLUMNS = 4          # panels per row of the figure
PAPER_BACKBONE = "LLaMA-3-8B"
# The paper's colours (Figure 3), keyed by common.label_key of the method; other mixtures take OTHER_COLORS.
PAPER_COLORS = {"prop(τ=1)": "tab:red", "temp(τ=10)": "tab:blue", "uni(τ=∞)": "tab:green",
                "mos+diff+ema": "tab:orange"}
OTHER_COLORS = ("tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan", "tab:gray")

# %% [markdown]
# ## Per-run smoothing, then mean and confidence band over seeds

# %%


def smooth(train_log: pd.DataFrame, window: int = SMOOTH_WINDOW) -> pd.DataFrame:
    """Centred rolling mean of each run's loss (window in logged points; 1 leaves it raw)."""
    df = train_log.sort_values(["backbone", "mixture", "seed", "step"], kind="stable").copy()
    runs = df.groupby(["backbone", "mixture", "seed"], sort=False)["loss"]
    df["loss"] = runs.transform(lambda s: s.rolling(window, center=True, min_periods=1).mean())
    return df


def loss_curves(train_log: pd.DataFrame, runs: pd.DataFrame, window: int = SMOOTH_WINDOW) -> pd.DataFrame:
    """backbone, mixture, step, mean, ci, n: the smoothed loss averaged over seeds at each step."""
    stats = common.seed_stats(smooth(train_log, window), ["backbone", "mixture", "step"], value="loss")
    return common.sort_like_runs(stats, runs, extra=["step"])


def final_losses(train_log: pd.DataFrame, fraction: float = FINAL_FRACTION) -> pd.DataFrame:
    """backbone, mixture, seed, value: each run's mean raw loss over its last `fraction` of logged steps."""
    def last_part(run: pd.DataFrame) -> float:
        run = run.sort_values("step")
        return float(run["loss"].tail(max(1, round(fraction * len(run)))).mean())

    keys = ["backbone", "mixture", "seed"]
    return pd.DataFrame([{**dict(zip(keys, key, strict=True)), "value": last_part(run)}
                         for key, run in train_log.groupby(keys, sort=False)])


def paper_finals(paper_curves: pd.DataFrame, fraction: float = FINAL_FRACTION) -> dict[str, float]:
    """label_key(method) -> the paper's final loss, with the same rule as ours."""
    n = max(1, round(fraction * len(paper_curves)))
    tail = paper_curves.sort_values("step").tail(n)
    return {common.label_key(c): float(tail[c].mean()) for c in paper_curves.columns if c != "step"}


# %% [markdown]
# ## The figure

# %%


def mixture_colors(runs: pd.DataFrame) -> dict[str, str]:
    """A fixed colour per mixture, the paper's colour when its paper_method is one of Figure 3's lines."""
    labels = common.paper_labels(runs).drop_duplicates("mixture").set_index("mixture")["paper_method"]
    others = itertools.cycle(OTHER_COLORS)
    return {m: PAPER_COLORS.get(common.label_key(labels.get(m, ""))) or next(others)
            for m in common.run_order(runs)[1]}


def plot_panel(ax: plt.Axes, curves: pd.DataFrame, colors: dict[str, str], title: str) -> None:
    """One backbone: a mean line and a CI band (where there are several seeds) per mixture."""
    for mixture, c in curves.groupby("mixture", sort=False):
        ax.plot(c["step"], c["mean"], color=colors.get(mixture), lw=1.4, label=mixture)
        band = c.dropna(subset=["ci"])
        ax.fill_between(band["step"], band["mean"] - band["ci"], band["mean"] + band["ci"],
                        color=colors.get(mixture), alpha=0.2, lw=0)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("Training steps")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, frameon=False)


def plot_paper(ax: plt.Axes, paper_curves: pd.DataFrame) -> None:
    """The paper's digitized Figure 3 curves, in the paper's colours."""
    for column in paper_curves.columns.drop("step"):
        label = column.replace("tau", "τ").replace("inf", "∞")
        ax.plot(paper_curves["step"], paper_curves[column], lw=1.2, label=label,
                color=PAPER_COLORS.get(common.label_key(column), "black"))
    ax.set_title(f"Paper: {PAPER_BACKBONE} (digitized Fig. 3)", fontsize=10)
    ax.set_xlabel("Training steps")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, frameon=False)


def make_figure(curves: pd.DataFrame, runs: pd.DataFrame, paper_curves: pd.DataFrame | None,
                window: int = SMOOTH_WINDOW) -> plt.Figure:
    """One panel per backbone in runs.csv order, then the paper's panel; at most MAX_COLUMNS per row."""
    backbones = common.run_order(runs)[0]
    labels = common.paper_labels(runs).drop_duplicates("backbone").set_index("backbone")["paper_backbone"]
    n = len(backbones) + (paper_curves is not None)
    ncols = min(n, MAX_COLUMNS)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols, 3.2 * nrows + 0.3), squeeze=False)
    flat = list(axes.flat)
    colors = mixture_colors(runs)
    for ax, backbone in zip(flat, backbones, strict=False):
        title = backbone + (f" (≈ {labels[backbone]})" if labels.get(backbone) else "")
        plot_panel(ax, curves[curves["backbone"] == backbone], colors, title)
    if paper_curves is not None:
        plot_paper(flat[n - 1], paper_curves)
    for ax in flat[n:]:
        ax.set_visible(False)
    for row in axes:
        row[0].set_ylabel("Training loss")
    smoothing = f"centred rolling mean of {window} logged steps" if window > 1 else "not smoothed"
    fig.text(0.01, 0.0, f"Lines: mean over seeds of each run's loss ({smoothing}); "
             "bands: 95% confidence interval across seeds.", fontsize=7, va="bottom")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


# %% [markdown]
# ## Final-loss table

# %%


def final_table(train_log: pd.DataFrame, runs: pd.DataFrame,
                paper_curves: pd.DataFrame | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Numeric and display tables of the final loss per backbone x mixture, with the paper's value."""
    stats = common.seed_stats(final_losses(train_log), ["backbone", "mixture"])
    table = common.sort_like_runs(stats, runs).rename(columns={"mean": "final_loss_mean", "ci": "final_loss_ci",
                                                                 "n": "n_seeds"})
    table = table.merge(common.paper_labels(runs), on=["backbone", "mixture"], how="left")
    finals = paper_finals(paper_curves) if paper_curves is not None else {}
    on_paper_fig = table["paper_backbone"].map(common.label_key) == common.label_key(PAPER_BACKBONE)
    table["paper_final_loss"] = [finals.get(common.label_key(m), float("nan")) if ok else float("nan")
                                 for m, ok in zip(table["paper_method"], on_paper_fig, strict=True)]
    display = pd.DataFrame({
        "Backbone": table["backbone"], "Mixture": table["mixture"], "Seeds": table["n_seeds"],
        "Final loss": [common.fmt_mean_ci(m, c, 3) for m, c in zip(table["final_loss_mean"],
                                                                   table["final_loss_ci"], strict=True)],
        "Paper method": table["paper_method"],
        f"Paper final loss ({PAPER_BACKBONE})": table["paper_final_loss"].map(lambda v: common.fmt_number(v, 3)),
    })
    return table, display


def write_all(exp: Path, window: int = SMOOTH_WINDOW) -> Sequence[Path]:
    """Draw the figure and write its data and the final-loss table for one experiment folder."""
    runs = common.load_runs(exp)
    train_log = common.load_summary(exp, "train_log", ["backbone", "mixture", "seed", "step", "loss"])
    paper_path = common.paper_dir(exp) / "fig3_training_loss.csv"
    paper_curves = common.read_csv(paper_path, ["step"]) if paper_path.is_file() else None
    curves = loss_curves(train_log, runs, window)
    fig = make_figure(curves, runs, paper_curves, window)
    written = common.save_figure(fig, exp / "figures" / "fig3_loss")
    plt.close(fig)
    data = curves.rename(columns={"mean": "loss_mean", "ci": "loss_ci", "n": "n_seeds"})
    written.append(common.write_frame_csv(data, exp / "figures" / "fig3_loss.csv"))
    table, display = final_table(train_log, runs, paper_curves)
    note = (f"Mean raw training loss over the last {FINAL_FRACTION:.0%} of logged steps of each run; "
            "the paper's value uses the same rule on its digitized curve. " + common.SEED_NOTE)
    written += common.write_table(display, table, exp / "tables" / "fig3_final_loss",
                                  "Final training loss per backbone and mixture", [note])
    return written


# %%
if __name__ == "__main__":
    for path in write_all(common.experiment_dir()):
        print(path)
