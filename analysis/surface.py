"""The response surface of a metric over static mixtures (issue 20's headroom): a Scheffé quadratic
mixture model fitted to a design of static mixtures, and its predicted optimum on the simplex.

    python -m analysis.surface fit results/<exp>/headroom/design --metric mu_both --out optimum.json

`fit` reads an aggregated summary folder of the design's runs (summary/runs.csv, metrics.csv: each run's
sampling weights come from runs.csv's `params`-resolved final weights in run.json, copied by the
aggregation into runs.csv's `weights` column) and writes the predicted optimum as JSON, which the
`surface_optimum` strategy (baselines/surface_optimum.py) trains at full replication.

The model, for runs r with weights w_r (summing to 1) on θ0 t(r):

    y_r = Σ_i β_i w_ri + Σ_{i<j} β_ij w_ri w_rj + γ_t(r) + e_r        (Σ_t γ_t = 0)

least squares (statsmodels OLS), θ0 a fixed block (every comparison is within θ0s), the residual
holding the mixture × θ0 interaction, the seed noise and the model's lack of fit. The optimum is the
argmax of the fitted surface (the θ0 average) over the simplex: the best of 100,000 Dirichlet(1)
candidates, the vertices and the edge midpoints, refined by SLSQP within the simplex. Its predicted
value carries the fit's 95% confidence interval (a prediction of the mean, not of a new run).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.inference import Fit

CANDIDATES = 100_000


def design_matrix(W: np.ndarray) -> np.ndarray:
    """The Scheffé quadratic terms of weights W (n × K): the K weights, then every product w_i w_j, i < j."""
    K = W.shape[1]
    pairs = [W[:, i] * W[:, j] for i, j in itertools.combinations(range(K), 2)]
    return np.column_stack([W, *pairs]) if pairs else W


@dataclass
class Surface:
    """A fitted quadratic mixture surface: coefficients, their covariance, θ0 effects and fit statistics."""

    datasets: list[str]
    beta: np.ndarray          # K + K(K−1)/2 mixture terms
    cov: np.ndarray           # their covariance (the θ0 effects profiled out)
    df: float
    sigma: float
    n: int
    theta0s: int
    r2: float

    def predict(self, W: np.ndarray) -> np.ndarray:
        return design_matrix(np.atleast_2d(W)) @ self.beta

    def se(self, W: np.ndarray) -> np.ndarray:
        X = design_matrix(np.atleast_2d(W))
        return np.sqrt(np.einsum("ij,jk,ik->i", X, self.cov, X))

    def optimum(self, seed: int = 0) -> np.ndarray:
        """The weights maximising the fitted surface on the simplex (module docstring)."""
        from scipy.optimize import minimize

        K = len(self.datasets)
        rng = np.random.default_rng(seed)
        cands = np.vstack([rng.dirichlet(np.ones(K), CANDIDATES), np.eye(K),
                           [(np.eye(K)[i] + np.eye(K)[j]) / 2 for i, j in itertools.combinations(range(K), 2)]])
        start = cands[int(np.argmax(self.predict(cands)))]
        result = minimize(lambda w: -float(self.predict(w)[0]), start, method="SLSQP",
                          bounds=[(0.0, 1.0)] * K, constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0}])
        best = np.clip(result.x, 0.0, 1.0) if result.success else start
        best = best / best.sum()
        return best if self.predict(best)[0] >= self.predict(start)[0] else start


def fit_surface(frame: pd.DataFrame, datasets: Sequence[str]) -> Surface:
    """Fit the model to `frame` (one row per run: the weight of every dataset, theta0, value)."""
    import statsmodels.api as sm

    d = frame.dropna(subset=["value"]).reset_index(drop=True)
    W = d[list(datasets)].to_numpy(dtype=float)
    if not np.allclose(W.sum(axis=1), 1.0, atol=1e-6):
        raise ValueError("every design run's weights must sum to 1")
    X = design_matrix(W)
    thetas = pd.Categorical(d["theta0"].astype(str))
    if len(thetas.categories) > 1:  # sum-to-zero θ0 effects: the surface is the average over θ0s
        codes = thetas.codes
        T = np.zeros((len(d), len(thetas.categories) - 1))
        for k in range(len(thetas.categories) - 1):
            T[:, k] = (codes == k).astype(float) - (codes == len(thetas.categories) - 1).astype(float)
        X = np.hstack([X, T])
    p = design_matrix(W).shape[1]
    if len(d) <= X.shape[1]:
        raise ValueError(f"{len(d)} runs cannot fit {X.shape[1]} parameters: add design points or θ0s")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ols = sm.OLS(d["value"].to_numpy(dtype=float), X).fit()
    return Surface(list(datasets), ols.params[:p], ols.cov_params()[:p, :p], float(ols.df_resid),
                   float(math.sqrt(ols.scale)), len(d), len(thetas.categories), float(ols.rsquared))


def run_weights(runs: pd.DataFrame, datasets: Sequence[str]) -> pd.DataFrame:
    """backbone, mixture, seed and one column per dataset: each run's static sampling weights (runs.csv's
    `weights` column, a JSON object; a dataset the run did not train on has weight 0)."""
    rows = []
    for r in runs.itertuples(index=False):
        weights = json.loads(r.weights) if isinstance(r.weights, str) and r.weights else {}
        rows.append({"backbone": r.backbone, "mixture": r.mixture, "seed": r.seed,
                     **{d: float(weights.get(d, 0.0)) for d in datasets}})
    return pd.DataFrame(rows)


def design_frame(summary_exp: Path, metric: str) -> tuple[pd.DataFrame, list[str]]:
    """Per-run weights, theta0 and metric value of an aggregated experiment folder (summary/)."""
    from analysis import common, values

    inputs = common.load_inputs(summary_exp)
    per_run = values.metric_values(inputs.metrics, inputs.runs)
    if metric not in per_run:
        raise ValueError(f"{summary_exp}: no {metric} in its summary (which benchmarks were evaluated?)")
    runs = inputs.runs
    if "weights" not in runs.columns:
        raise ValueError(f"{summary_exp}/summary/runs.csv has no weights column (aggregate it again)")
    datasets = list(dict.fromkeys(k for w in runs["weights"].dropna() for k in json.loads(w)))
    frame = per_run[metric].merge(run_weights(runs, datasets), on=["backbone", "mixture", "seed"])
    return frame, datasets


def fit_optimum(summary_exp: Path, metric: str) -> dict:
    """Fit the design's surface and return the optimum as the JSON the surface_optimum strategy reads."""
    frame, datasets = design_frame(summary_exp, metric)
    surface = fit_surface(frame, datasets)
    w = surface.optimum()
    se = float(surface.se(w)[0])
    from scipy import stats

    t = float(stats.t.ppf(0.975, surface.df))
    pred = float(surface.predict(w)[0])
    return {"metric": metric, "weights": dict(zip(datasets, map(float, w), strict=True)),
            "predicted": pred, "predicted_lo": pred - t * se, "predicted_hi": pred + t * se,
            "design_runs": surface.n, "design_mixtures": int(frame["mixture"].nunique()),
            "theta0s": surface.theta0s, "residual_sd": surface.sigma, "df": surface.df, "r2": surface.r2,
            "coefficients": list(map(float, surface.beta))}


# Headroom and regret (analysis/headroom.py's table and the leaderboard's regret columns).
def heuristics(runs: pd.DataFrame, backbone: str) -> list[str]:
    """The temperature mixtures over every dataset of a backbone (PROP., TEMP., UNI.), in runs.csv order."""
    out = []
    for mixture, part in runs[runs["backbone"] == backbone].groupby("mixture", sort=False):
        row = part.iloc[0]
        weights = json.loads(row["weights"]) if isinstance(row.get("weights"), str) else {}
        if row["strategy"] == "temperature" and len(weights) > 1:
            out.append(mixture)
    return out


def regret(fit: Fit, backbone: str, mixture: str, optimum: str, reference: str | None) -> dict:
    """A mixture's regret: its mean minus the optimum's, paired over the θ0s they share (95% interval, MDE),
    and its share of the headroom, (mixture − reference) / (optimum − reference), where the headroom over the
    reference heuristic is positive and its interval excludes 0 (NaN otherwise). The leaderboard's regret
    columns come from here too."""
    c = fit.compare(backbone, mixture, optimum)
    share = math.nan
    if reference is not None and fit.has(backbone, reference):
        headroom = fit.compare(backbone, optimum, reference)
        if headroom.testable and headroom.excludes_zero and headroom.effect > 0:
            share = fit.compare(backbone, mixture, reference).effect / headroom.effect
    return {"effect": c.effect, "lo": c.lo, "hi": c.hi, "theta0s": c.n_a, "mde": c.mde, "share": share}


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m analysis.surface", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    fit = sub.add_parser("fit", help="fit a design's surface and write its optimum")
    fit.add_argument("experiment", help="an aggregated folder with summary/runs.csv and metrics.csv")
    fit.add_argument("--metric", default="mu_both")
    fit.add_argument("--out", required=True, help="the optimum's JSON")
    args = ap.parse_args(argv)
    from mos.common.io import write_json

    try:
        result = fit_optimum(Path(args.experiment), args.metric)
    except (ValueError, FileNotFoundError) as e:
        print(f"python -m analysis.surface: error: {e}", file=sys.stderr)
        return 2
    write_json(args.out, result)
    print(f"{args.out}: optimum {result['weights']} (predicted {args.metric} {result['predicted']:.2f} "
          f"[{result['predicted_lo']:.2f}, {result['predicted_hi']:.2f}])")
    return 0


if __name__ == "__main__":
    sys.exit(main())
