"""Figure 4 of the paper: the sampling probability of each dataset against training step, for MoSpec.

    python analysis/fig4_mospec_weights.py results/<exp>

The same figure as analysis/fig2_weights.py (see there; both drawn by analysis/weight_figure.py), for
the mixtures whose paper_method starts with "MoSpec +" (the math specialist, MoSpec + COSSIM + EMA and
MoSpec + DIFF + EMA), beside the paper's digitized Figure 4 curves
results/paper/fig4a_mospec_cossim_ema_probs.csv and fig4b_mospec_diff_ema_probs.csv. Reads
results/<exp>/summary/{runs,trajectory}.csv. Writes results/<exp>/figures/fig4_mospec_weights.{png,pdf,csv}
and results/<exp>/tables/fig4_final_weights.{md,csv,tex} (each dataset's weight at the first and last
logged step and the change, mean [95% interval] over seeds, beside the paper's).
A jupytext percent script: it also opens as a notebook.
"""

# %%
from __future__ import annotations

from pathlib import Path

from analysis import common, values, weight_figure

# What this script reads and writes, for `python -m analysis` and the workflow (analysis/__init__.py).
SCRIPT = {"reads": ["runs.csv", "trajectory.csv"],
          "writes": ["figures/fig4_mospec_weights.png", "figures/fig4_mospec_weights.pdf",
                     "tables/fig4_final_weights.csv"]}
FIG4 = weight_figure.FigureSpec(prefix="mospec+", panels=values.FIG4_PANELS,
                                figure_stem="fig4_mospec_weights", table_stem="fig4_final_weights",
                                title="Figure 4: learned sampling probabilities of MoSpec")


def write_all(exp: Path) -> list[Path]:
    """Draw Figure 4 and write its data and start/end table for one experiment folder."""
    return weight_figure.write_all(exp, FIG4)


# %%
if __name__ == "__main__":
    raise SystemExit(common.run(write_all))
