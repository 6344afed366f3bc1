"""Variance components of the model of analysis/inference.py, planning over θ0s and seeds, and simulated
experiments drawn from the fitted components (the scorecard's chance pass rates and P(same verdict)).

    python -m analysis.variance plan --interaction 0.26 --seed-var 0.77 --half-width 1.0 --delta 2

(the components of a finished experiment are in its tables/power.md)

* `components`: REML estimates (statsmodels' MixedLM) of σ²_θ0 (the pretrained backbone's random effect,
  shared by every mixture), σ²_m×θ0 (a mixture's effect varying between θ0s) and σ²_seed (seeds within one
  mixture and θ0), from the runs of chosen cells of one backbone: value ~ cell, random intercept per θ0,
  a variance component per cell within θ0, residual = seeds. With one seed per (cell, θ0) the interaction
  and the seed noise are not separately identifiable: their sum is reported as σ²_m×θ0 and σ²_seed is 0.
* `plan`: a two-arm comparison on n θ0s with s seeds each has per-θ0 differences of variance
  2·(σ²_m×θ0 + σ²_seed / s), so SE = √(2(σ²_m×θ0 + σ²_seed/s) / n) with n − 1 df: more seeds only shrink
  the second term, and the interaction sets a floor that only more θ0s lower (REVIEW M5).
* `simulate`: experiments on the fitted design (the same cells, θ0s and seeds as the data), each run
  y = µ_cell + u_θ0 + v_cell×θ0 + ε with fresh draws of u, v and ε from the components, around given cell
  means (zero for the null). The chance pass rates and P(same verdict) feed these through the verdict code.
"""

from __future__ import annotations

import argparse
import math
import sys
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis import inference


@dataclass(frozen=True)
class Components:
    """Variance components of one metric on one backbone (points²), and what they were estimated from."""

    theta0: float        # σ²_θ0
    interaction: float   # σ²_m×θ0 (with one seed per cell and θ0: + σ²_seed)
    seed: float          # σ²_seed (0 when not identifiable)
    cells: int
    theta0s: int
    runs: int
    separable: bool      # whether some (cell, θ0) has several seeds, so interaction and seeds are apart

    def difference_var(self, seeds: int = 1) -> float:
        """Variance of one θ0's difference of two arms with `seeds` seeds each."""
        return 2 * (self.interaction + self.seed / seeds)


def components(frame: pd.DataFrame, cells: Sequence[tuple[str, str]] | None = None) -> Components:
    """REML variance components (module docstring) of the runs of `cells` (default: every cell of the
    frame; they must be on one backbone). `frame`: backbone, mixture, seed, theta0, value."""
    d = frame.dropna(subset=["value"]).copy()
    if cells is not None:
        keep = set(cells)
        d = d[[(b, m) in keep for b, m in zip(d["backbone"], d["mixture"], strict=True)]]
    if d["backbone"].nunique() > 1:
        raise ValueError("variance components are estimated on one backbone at a time")
    d["theta0"] = inference.replicate_unit(d)
    d["cell"] = d["mixture"].astype(str)
    n_theta, n_cells = d["theta0"].nunique(), d["cell"].nunique()
    separable = bool((d.groupby(["cell", "theta0"]).size() > 1).any())
    if n_theta < 2 or len(d) <= n_cells + 1:
        return Components(math.nan, math.nan, math.nan, n_cells, n_theta, len(d), separable)
    import statsmodels.formula.api as smf

    formula = "value ~ C(cell)" if n_cells > 1 else "value ~ 1"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # boundary fits (a component at 0) warn; the estimate is still REML's
        try:
            if separable:
                model = smf.mixedlm(formula, d, groups="theta0", re_formula="1", vc_formula={"cxt": "0 + C(cell)"})
                fit = model.fit(reml=True)
                return Components(float(fit.cov_re.iloc[0, 0]), float(fit.vcomp[0]), float(fit.scale), n_cells,
                                  n_theta, len(d), True)
            fit = smf.mixedlm(formula, d, groups="theta0", re_formula="1").fit(reml=True)
            return Components(float(fit.cov_re.iloc[0, 0]), float(fit.scale), 0.0, n_cells, n_theta, len(d), False)
        except (np.linalg.LinAlgError, ValueError):  # degenerate data (e.g. no residual variation): moments
            return moment_components(d, n_cells, n_theta, separable)


def moment_components(d: pd.DataFrame, n_cells: int, n_theta: int, separable: bool) -> Components:
    """Method-of-moments components of θ0-level means in a two-way layout (cell × θ0), where REML cannot fit:
    σ²_e from the additive model's residual mean square, σ²_θ0 = max(0, (MS_θ0 − MS_e) / cells)."""
    means = d.groupby(["cell", "theta0"])["value"].mean().unstack("theta0")
    y = means.to_numpy(dtype=float)
    ok = ~np.isnan(y)
    grand = np.nanmean(y)
    resid = y - np.nanmean(y, axis=1, keepdims=True) - np.nanmean(y, axis=0, keepdims=True) + grand
    df_e = max(1, int(ok.sum()) - y.shape[0] - y.shape[1] + 1)
    ms_e = float(np.nansum(resid ** 2) / df_e)
    ms_t = float(np.nansum((np.nanmean(y, axis=0) - grand) ** 2) * y.shape[0] / max(1, y.shape[1] - 1))
    return Components(max(0.0, (ms_t - ms_e) / max(1, y.shape[0])), ms_e, 0.0, n_cells, n_theta, len(d), separable)


# ---------------------------------------------------------------- planning over θ0s and seeds


def half_width(diff_var: float, n: int, alpha: float = inference.ALPHA) -> float:
    """95% half-width of a two-arm difference over n θ0s whose per-θ0 differences have variance diff_var."""
    return inference.t_crit(n - 1, 1 - alpha / 2) * math.sqrt(diff_var / n) if n > 1 else math.inf


def theta0s_needed(diff_var: float, half: float = 2.0, delta: float = 2.0, power: float = inference.POWER,
                   alpha: float = inference.ALPHA, max_n: int = 1000) -> int | float:
    """The fewest θ0s for a half-width ≤ `half` and power ≥ `power` at `delta` (two-sided level α)."""
    for n in range(2, max_n + 1):
        se = math.sqrt(diff_var / n)
        if half_width(diff_var, n, alpha) <= half and inference.power_at(delta, se, n - 1, alpha) >= power:
            return n
    return math.nan


def plan_table(c: Components, theta0s: Sequence[int] = (3, 6, 9, 12, 16, 24), seeds: Sequence[int] = (1, 2, 3),
               delta: float = 2.0, alpha: float = inference.ALPHA) -> pd.DataFrame:
    """Half-width and power at `delta` of a two-arm difference for every n θ0s × s seeds (runs = n·s per arm)."""
    rows = []
    for n in theta0s:
        for s in seeds:
            v = c.difference_var(s)
            se = math.sqrt(v / n)
            rows.append({"theta0s": n, "seeds": s, "runs_per_arm": n * s, "se": se,
                         "half_width": half_width(v, n, alpha), "power": inference.power_at(delta, se, n - 1, alpha)})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- simulated experiments


def simulate(fit: inference.Fit, comps: Mapping[str, Components], sims: int, rng: np.random.Generator,
             means: Mapping[tuple[str, str], float] | None = None) -> np.ndarray:
    """S × runs values of `sims` experiments on `fit`'s design (fresh θ0s and seeds), each run
    µ_cell + u_θ0 + v_cell×θ0 + ε drawn from the components of its backbone (`comps`), µ_cell from
    `means` (0 where absent: the null of no mixture effect)."""
    frame = fit.frame
    backbone = frame["backbone"].to_numpy()
    out = np.zeros((sims, len(frame)))
    for b in dict.fromkeys(backbone):
        c = comps.get(b)
        if c is None or not np.isfinite([c.theta0, c.interaction, c.seed]).all():
            raise ValueError(f"{fit.what}: no variance components for {b}")
        rows = np.flatnonzero(backbone == b)
        theta = pd.factorize(frame["theta0"].to_numpy()[rows])[0]
        cell_theta = pd.factorize(pd.Series(list(zip(frame["mixture"].to_numpy()[rows], theta, strict=True))))[0]
        u = rng.normal(0.0, math.sqrt(max(c.theta0, 0.0)), (sims, theta.max() + 1))
        v = rng.normal(0.0, math.sqrt(max(c.interaction, 0.0)), (sims, cell_theta.max() + 1))
        e = rng.normal(0.0, math.sqrt(max(c.seed, 0.0)), (sims, len(rows)))
        mu = np.array([(means or {}).get((b, m), 0.0) for m in frame["mixture"].to_numpy()[rows]])
        out[:, rows] = mu[None, :] + u[:, theta] + v[:, cell_theta] + e
    return out


# ---------------------------------------------------------------- command line


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m analysis.variance", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    plan = sub.add_parser("plan", help="θ0s and seeds per arm for a half-width and a power")
    plan.add_argument("--interaction", type=float, required=True, help="σ²_m×θ0 (points²)")
    plan.add_argument("--seed-var", type=float, default=0.0, help="σ²_seed (points²)")
    plan.add_argument("--half-width", type=float, default=2.0, help="target 95%% half-width of a difference")
    plan.add_argument("--delta", type=float, default=2.0, help="difference to detect")
    plan.add_argument("--power", type=float, default=inference.POWER, help="target power (two-sided α)")
    plan.add_argument("--alpha", type=float, default=inference.ALPHA, help="two-sided level of the test")
    args = ap.parse_args(argv)
    if args.command == "plan":
        if args.interaction < 0 or args.seed_var < 0:
            ap.error("variances must be >= 0")
        c = Components(math.nan, args.interaction, args.seed_var, 2, 0, 0, args.seed_var > 0)
        for s in (1, 2, 3):
            n = theta0s_needed(c.difference_var(s), args.half_width, args.delta, args.power, args.alpha)
            print(f"{s} seed(s) per θ0: {n} θ0s ({n * s if n == n else 'no'} runs per arm) for half-width ≤ "
                  f"{args.half_width:g} and power ≥ {args.power:.0%} at Δ = {args.delta:g}")
        print(plan_table(c, delta=args.delta, alpha=args.alpha).to_string(index=False, float_format="%.3f"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
