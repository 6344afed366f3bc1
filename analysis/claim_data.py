"""What the claims are tested on: one experiment's summaries, claims.json and the paper's numbers, read
once (`load` -> `Data`), and the paper's value of a hypothesis (`paper_value`: Table 2, else Table 3 on
the LLaMA stand-in, Table 5 for µALL). Part of the analysis library, under analysis/claims.py.

    from analysis.claim_data import load
    data = load(Path("results/default"))
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import common, inference, values, variance

CLAIMS_FILE = common.CLAIMS_FILE
# metric -> (header, scale, the paper's column): analysis/values.py's metrics
METRICS = {k: (*values.METRICS[k], k) for k in ("mu_both", "mu_mmlu", "mu_mtbench", "mu_all", "train_loss")}
WEIGHT = values.WEIGHT
PAPER_LLAMA = "LLaMA-3-8B"  # the backbone of the paper's Tables 3 and 5 and of its figures


# ---------------------------------------------------------------- loading


@dataclass
class Data:
    """What the claims need: per-run values of each metric, the claims, the paper's tables."""

    exp: Path
    runs: pd.DataFrame
    spec: dict | None                              # claims.json, None when absent
    values: dict[str, pd.DataFrame]                # metric -> backbone, mixture, seed, theta0, value
    paper: dict[str, pd.DataFrame]                 # table2 / table3 / table5, indexed by label keys
    paper_changes: dict[tuple[str, str], float]    # (label key of method, dataset) -> end − start
    notes: list[str] = field(default_factory=list)
    fits: dict[str, inference.Fit] = field(default_factory=dict)
    components: dict[str, dict[str, variance.Components]] = field(default_factory=dict)

    def fit(self, metric: str) -> inference.Fit | None:
        """The model of one metric over every cell of the experiment (None when it was not measured)."""
        if metric not in self.fits:
            frame = self.values.get(metric)
            if frame is None or frame.empty:
                return None
            scale = METRICS[metric][1] if metric in METRICS else inference.CHANGE
            self.fits[metric] = inference.Fit(frame, scale, what=f"{self.exp.name} {metric}")
        return self.fits[metric]

    def components_of(self, metric: str) -> dict[str, variance.Components]:
        """backbone -> REML variance components of `metric` over its cells with two or more θ0s (zeros where
        no cell has two: nothing on that backbone is testable, in the data or in a simulation)."""
        if metric not in self.components:
            fit, out = self.fit(metric), {}
            for backbone in dict.fromkeys(b for b, _ in fit.cells):
                cells = [c for c in fit.cells if c[0] == backbone and len(fit.theta0s[c]) >= 2]
                c = variance.components(fit.frame, cells) if cells else None
                out[backbone] = c if c is not None and np.isfinite([c.theta0, c.interaction, c.seed]).all() else \
                    variance.Components(0.0, 0.0, 0.0, len(cells), 0, 0, False)
            self.components[metric] = out
        return self.components[metric]

    def __post_init__(self) -> None:
        labels = common.paper_labels(self.runs)
        self._labels = dict(zip(zip(labels["backbone"], labels["mixture"], strict=True), labels["paper_method"],
                                strict=True))
        self._paper_backbones = dict(zip(labels["backbone"], labels["paper_backbone"], strict=False))

    def label(self, backbone: str, mixture: str) -> str:
        return self._labels.get((backbone, mixture), "")

    def paper_backbone(self, backbone: str) -> str:
        return self._paper_backbones.get(backbone, "")


def load(exp: Path) -> Data:
    """Read the summaries, claims.json and the paper's numbers of one experiment (analysis/values.py)."""
    inputs = common.load_inputs(exp)
    runs, trajectory = inputs.runs, common.load_trajectory(inputs.exp, required=False)
    train_log = common.load_train_log(inputs.exp, required=False)
    data = Data(inputs.exp, runs, inputs.claims,
                values.metric_values(inputs.metrics, runs, trajectory, train_log),
                values.paper_tables(inputs.exp), values.paper_weight_changes(inputs.exp))
    if inference.theta0_of(runs) is None:
        data.notes.append("runs.csv has no theta0 column: every seed is treated as its own pretrained θ0.")
    return data


# ---------------------------------------------------------------- the paper's numbers


def paper_value(data: Data, backbone: str, mixture: str, metric: str) -> float:
    """The paper's number for the run's paper labels: Table 2, else Table 3 (LLaMA), Table 5 for µALL."""
    if metric not in METRICS or metric == "train_loss":
        return math.nan
    column = METRICS[metric][2]
    method, paper_backbone = data.label(backbone, mixture), data.paper_backbone(backbone)
    llama = common.label_key(paper_backbone) == common.label_key(PAPER_LLAMA)
    lookups = [("table5", "math-only" if common.is_math_only(method) else common.label_key(method))] \
        if metric == "mu_all" else [("table2", (common.label_key(paper_backbone), common.label_key(method))),
                                    ("table3", common.label_key(method))]
    for name, key in lookups:
        table = data.paper[name]
        if table.empty or column not in table.columns or key not in table.index or (name != "table2" and not llama):
            continue
        value = table.loc[key, column]
        return float(value.iloc[0] if isinstance(value, pd.Series) else value)
    return math.nan
