"""Figure 2 of the paper: the sampling probability of each dataset against training step, for MoS.

    python analysis/fig2_weights.py results/<exp>

Reads results/<exp>/summary/{runs,trajectory}.csv and the paper's digitized curves
results/paper/fig2a_mos_cossim_ema_probs.csv and fig2b_mos_diff_ema_probs.csv. One panel per backbone
x mixture whose paper_method starts with "MoS +" (MoSpec has its own figure, analysis/fig4_mospec_weights.py),
in runs.csv order, then one panel per paper curve. Each panel has one line per dataset in the paper's
colours and line styles (Mathematics red solid, Medicine blue dashed, General green dash-dot, NLP
orange dotted): the weight logged in trajectory.csv, averaged over seeds at each step, with a shaded
95% band (σ pooled over every panel's runs at that step and dataset, logit scale: analysis/inference.py). All
panels share one y-axis. Writes results/<exp>/figures/fig2_weights.{png,pdf} and .csv (the plotted
values, ours and the paper's), and results/<exp>/tables/fig2_final_weights.{md,csv,tex}: each dataset's
weight at the first and last logged step and the change, mean [95% interval] over seeds, beside the paper's for
the LLaMA-3-8B runs with the same paper_method. The drawing is analysis/weight_figure.py's (shared with
Figure 4). A jupytext percent script: it also opens as a notebook.
"""

# %%
from __future__ import annotations

from pathlib import Path

from analysis import common, values, weight_figure

# What this script reads and writes, for `python -m analysis` and the workflow (analysis/__init__.py).
SCRIPT = {"reads": ["runs.csv", "trajectory.csv"],
          "writes": ["figures/fig2_weights.png", "figures/fig2_weights.pdf", "tables/fig2_final_weights.csv"]}
FIG2 = weight_figure.FigureSpec(prefix="mos+", panels=values.FIG2_PANELS, figure_stem="fig2_weights",
                                table_stem="fig2_final_weights",
                                title="Figure 2: learned sampling probabilities of MoS")


def write_all(exp: Path) -> list[Path]:
    """Draw Figure 2 and write its data and start/end table for one experiment folder."""
    return weight_figure.write_all(exp, FIG2)


# %%
if __name__ == "__main__":
    raise SystemExit(common.run(write_all))
