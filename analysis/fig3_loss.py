"""Figure 3 of the paper: training loss against step, one panel per backbone, one line per mixture.

    python analysis/fig3_loss.py results/<exp>

Reads results/<exp>/summary/{runs,train_log}.csv and results/paper/fig3_training_loss.csv.
One panel per backbone with the mixtures every backbone ran, one more per backbone with its extra
mixtures (prior study, specialists), then the paper's digitized LLaMA-3-8B curves; every mixture has
one style (colour, line style, marker: analysis/common.MIXTURE_STYLES) in every panel and one legend
below the panels. Each line is the mean over seeds of the (lightly smoothed) loss, with a shaded 95%
band (σ pooled over every mixture at that step, log scale: analysis/inference.py). Writes
results/<exp>/figures/fig3_loss.{png,pdf} and .csv (the plotted values), and
results/<exp>/tables/fig3_final_loss.{md,csv,tex}: the final loss of each run (mean of the last
10% of logged steps) as mean [95% interval] over seeds, beside the paper's final loss for the run's
paper_method where the paper plots it. Each curve is the loss on its own mixture, so the levels
of different mixtures are not measured on a common set (as in the paper).
A jupytext percent script: it also opens as a notebook.
"""

# %%
from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from analysis import common, inference, values  # noqa: E402

# What this script reads and writes, for `python -m analysis` and the workflow (analysis/__init__.py).
SCRIPT = {"reads": ["runs.csv", "train_log.csv"],
          "writes": ["figures/fig3_loss.png", "figures/fig3_loss.pdf"]}
SMOOTH_WINDOW = 3        # logged points in the centred rolling mean applied to each run's loss
FINAL_FRACTION = values.FINAL_FRACTION  # the final loss: the mean over the last 10% of logged steps
MAX_COLUMNS = 4          # panels per row of the figure
PAPER_BACKBONE = "LLaMA-3-8B"

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
    """backbone, mixture, step, mean, lo, hi, n: the smoothed loss averaged over seeds at each step, with its
    95% interval (σ pooled over every cell at that step, log scale)."""
    stats = common.seed_stats(smooth(train_log, window), ["backbone", "mixture", "step"], value="loss",
                              scale=inference.POSITIVE)
    return common.sort_like_runs(stats, runs, extra=["step"])


def paper_finals(paper_curves: pd.DataFrame, fraction: float = values.FINAL_FRACTION) -> dict[str, float]:
    """label_key(method) -> the paper's final loss, with the same rule as ours."""
    n = max(1, round(fraction * len(paper_curves)))
    tail = paper_curves.sort_values("step").tail(n)
    return {common.label_key(c): float(tail[c].mean()) for c in paper_curves.columns if c != "step"}


# %% [markdown]
# ## The figure

# %%


def panels(runs: pd.DataFrame) -> list[tuple[str, list[str], str]]:
    """(backbone, mixtures, title) per panel: one per backbone with the mixtures every backbone ran, then one
    per backbone with its extra mixtures (e.g. the prior study) beside the first shared one for reference."""
    backbones, mixtures = common.run_order(runs)
    ran = {b: [m for m in mixtures if ((runs["backbone"] == b) & (runs["mixture"] == m)).any()] for b in backbones}
    shared = [m for m in mixtures if all(m in ran[b] for b in backbones)]
    labels = common.paper_labels(runs).drop_duplicates("backbone").set_index("backbone")["paper_backbone"]
    out = []
    for b in backbones:
        title = b + (f" (≈ {labels[b]})" if labels.get(b) else "")
        out.append((b, shared or ran[b], title))
    for b in backbones:
        extra = [m for m in ran[b] if m not in shared]
        if extra and shared:
            out.append((b, [*shared[:1], *extra], f"{b}: other mixtures\n({shared[0]} for reference)"))
    return out


def plot_panel(ax: plt.Axes, curves: pd.DataFrame, mixtures: list[str], styles: dict[str, dict],
               title: str) -> None:
    """One panel: a mean line (style of its mixture) and a 95% band per mixture."""
    for mixture in mixtures:
        c = curves[curves["mixture"] == mixture]
        if c.empty:
            continue
        style = styles.get(mixture, {})
        ax.plot(c["step"], c["mean"], lw=1.3, label=mixture, markersize=4, markevery=max(1, len(c) // 6), **style)
        band = c.dropna(subset=["lo"])
        ax.fill_between(band["step"], band["lo"], band["hi"], color=style.get("color"), alpha=0.12, lw=0)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("Training steps", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)


def plot_paper(ax: plt.Axes, paper_curves: pd.DataFrame) -> None:
    """The paper's digitized Figure 3 curves, each in the style of its method."""
    columns = [c for c in paper_curves.columns if c != "step"]
    styles = common.mixture_styles({c: c.replace("tau", "τ").replace("inf", "∞") for c in columns})
    for column in columns:
        ax.plot(paper_curves["step"], paper_curves[column], lw=1.2, markersize=4,
                markevery=max(1, len(paper_curves) // 6), label=column.replace("tau", "τ").replace("inf", "∞"),
                **styles[column])
    ax.set_title(f"Paper: {PAPER_BACKBONE} (digitized Fig. 3)", fontsize=9)
    ax.set_xlabel("Training steps", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, frameon=False, loc="upper right")


def make_figure(curves: pd.DataFrame, runs: pd.DataFrame, paper_curves: pd.DataFrame | None,
                window: int = SMOOTH_WINDOW) -> plt.Figure:
    """The panels of panels(), the paper's, and the legend of every mixture in the last slot of the grid."""
    layout = panels(runs)
    n = len(layout) + (paper_curves is not None)
    ncols = n + 1 if n + 1 <= MAX_COLUMNS else 3
    nrows = math.ceil((n + 1) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.9 * ncols, 3.1 * nrows + 0.3), squeeze=False)
    flat = list(axes.flat)
    labels = common.paper_labels(runs).drop_duplicates("mixture").set_index("mixture")["paper_method"]
    mixtures = common.run_order(runs)[1]
    styles = common.mixture_styles({m: labels.get(m, "") or m for m in mixtures})
    for ax, (backbone, mine, title) in zip(flat, layout, strict=False):
        plot_panel(ax, curves[curves["backbone"] == backbone], mine, styles, title)
    if paper_curves is not None:
        plot_paper(flat[n - 1], paper_curves)
    ymax = curves.loc[curves["step"] >= curves["step"].quantile(0.1), "hi"].max() if len(curves) else None
    for ax in flat[:len(layout)]:
        if ymax and ymax == ymax:  # the first steps' loss (~6) would flatten the part where mixtures differ
            ax.set_ylim(0, 1.05 * ymax)
    for row in axes:
        row[0].set_ylabel("Training loss", fontsize=8)
    for ax in flat[n:]:
        ax.axis("off")
    handles = [plt.Line2D([], [], lw=1.5, markersize=5, **styles[m]) for m in mixtures]
    names = [f"{m}\n({labels[m]})" if labels.get(m) and len(m) + len(labels[m]) > 40
             else (f"{m} ({labels[m]})" if labels.get(m) else m) for m in mixtures]
    flat[n].legend(handles, names, loc="center left", fontsize=7, frameon=False, ncol=1 if len(mixtures) <= 12 else 2,
                   title="Mixture (paper row)", title_fontsize=8, borderaxespad=0)
    smoothing = f"centred rolling mean of {window} logged steps" if window > 1 else "not smoothed"
    fig.text(0.01, 0.0, f"Lines: mean over seeds of each run's loss ({smoothing}); bands: 95% interval of the "
             "mean (σ pooled over every mixture at each step, log scale). The first 10% of steps are above the "
             "y-range.", fontsize=7, va="bottom")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


# %% [markdown]
# ## Final-loss table

# %%


def final_table(train_log: pd.DataFrame, runs: pd.DataFrame,
                paper_curves: pd.DataFrame | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Numeric and display tables of the final loss per backbone x mixture, with the paper's value."""
    stats = common.seed_stats(values.final_losses(train_log), ["backbone", "mixture"], scale=inference.POSITIVE)
    table = common.sort_like_runs(stats, runs).rename(columns={"mean": "final_loss_mean", "lo": "final_loss_lo",
                                                                 "hi": "final_loss_hi", "n": "n_seeds"})
    table = table.merge(common.paper_labels(runs), on=["backbone", "mixture"], how="left")
    finals = paper_finals(paper_curves) if paper_curves is not None else {}
    on_paper_fig = table["paper_backbone"].map(common.label_key) == common.label_key(PAPER_BACKBONE)
    table["paper_final_loss"] = [finals.get(common.label_key(m), float("nan")) if ok else float("nan")
                                 for m, ok in zip(table["paper_method"], on_paper_fig, strict=True)]
    display = pd.DataFrame({
        "Backbone": table["backbone"], "Mixture": table["mixture"], "Seeds": table["n_seeds"],
        "Final loss": [common.fmt_interval(m, lo, hi, 3) for m, lo, hi in
                       zip(table["final_loss_mean"], table["final_loss_lo"], table["final_loss_hi"], strict=True)],
        "Paper method": table["paper_method"],
        f"Paper final loss ({PAPER_BACKBONE})": table["paper_final_loss"].map(lambda v: common.fmt_number(v, 3)),
    })
    return table, display


def write_all(exp: Path, window: int = SMOOTH_WINDOW) -> Sequence[Path]:
    """Draw the figure and write its data and the final-loss table for one experiment folder."""
    runs = common.load_runs(exp)
    train_log = common.load_summary(exp, "train_log", ["backbone", "mixture", "seed", "step", "loss"])
    paper_curves = common.load_paper(exp, "fig3_training_loss.csv", ["step"])
    curves = loss_curves(train_log, runs, window)
    fig = make_figure(curves, runs, paper_curves, window)
    written = common.save_figure(fig, exp / "figures" / "fig3_loss")
    plt.close(fig)
    data = curves.rename(columns={"mean": "loss_mean", "lo": "loss_lo", "hi": "loss_hi", "n": "n_seeds"})
    written.append(common.write_frame_csv(data, exp / "figures" / "fig3_loss.csv"))
    table, display = final_table(train_log, runs, paper_curves)
    note = (f"Mean raw training loss over the last {FINAL_FRACTION:.0%} of logged steps of each run; "
            "the paper's value uses the same rule on its digitized curve. " + common.SEED_NOTE)
    written += common.write_table(display, table, exp / "tables" / "fig3_final_loss",
                                  "Final training loss per backbone and mixture", [note])
    return written


# %%
if __name__ == "__main__":
    raise SystemExit(common.run(write_all))
