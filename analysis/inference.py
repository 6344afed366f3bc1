"""The statistics of every table, figure band and the scorecard: one model, stated here.

    from analysis import inference
    fit = inference.Fit(values)                       # backbone, mixture, seed, theta0, value: one metric
    fit.compare("tiny-llama", "mos_diff_ema", "temperature")   # Δ, SE, df, p, interval, MDE

The model
---------
One metric of one experiment (e.g. µBOTH). A run r = (backbone b, mixture m, θ0 t, seed s) gives

    y_r = µ_bm + u_bt + v_bmt + ε_r,   u ~ N(0, σ²_θ0), v ~ N(0, σ²_m×θ0), ε ~ N(0, σ²_seed),

the cell (b, m) fixed, the pretrained backbone θ0 and its interaction with the mixture random, seeds
nested in θ0. θ0 is the unit of replication: the mixture × θ0 interaction is real on this testbed
(REVIEW §2: F = 4-5 against seed noise), so runs of one θ0 are not independent replicates of a cell.
Every statistic is therefore computed on θ0-level means (the seeds of a cell on one θ0 averaged), and
every comparison is tested against the interaction of its own cells, never against a variance pooled
over other mixtures (whose spread differs: REVIEW M6):

* a cell's mean and 95% interval: the mean over its θ0 means, t with n_θ0 − 1 df on the θ0 means'
  own SD (a bounded metric on its transformed scale, mapped back: see Scale);
* a contrast Σ w_c µ_c of cells of one backbone (a − b, a − constant): the per-θ0 contrast over the θ0s
  that all its cells share, d_t = Σ w_c ȳ_ct, and its mean with SE = SD(d)/√n, n − 1 df — the paired t
  on θ0 means. In a balanced design this is exactly the REML test of the mixed model above restricted to
  the contrast's cells, with Satterthwaite's (= the exact) degrees of freedom: θ0 and, with one seed per
  θ0, the interaction are not separately identifiable for one contrast, so the contrast carries its own
  error term (tests/test_inference.py checks the equivalence with statsmodels' MixedLM);
* a contrast across backbones (a gain on one backbone minus a gain on another): each backbone's part
  paired over its θ0s, the parts independent (different θ0s), Welch–Satterthwaite df;
* no shared θ0 (cells trained on disjoint θ0s): each cell's θ0 means as an independent part (Welch).

A part with fewer than two θ0 means has no SE: its comparison is "not testable" (NaN), never borrowed.
Intervals are 95% two-sided; p-values are one-sided in a stated direction or two-sided. The minimal
detectable effect at 80% power of a test at two-sided level α is (t_{1−α/2,df} + t_{0.80,df})·SE, and
power at Δ is the exact noncentral-t power (`mde`, `power_at`); the scorecard evaluates both at the
level each hypothesis is tested at. Best-of-k claims use a max-statistic permutation test that
shuffles arm labels within each (backbone, θ0) block of θ0 means (`best_differs_test`). Multiplicity:
Holm's step-down adjustment within a family (`holm`). The variance components themselves, the
planning over θ0s and the simulated error rates are in analysis/variance.py.

Every statistic is also computed for many simulated experiments at once (`Fit.contrast_stats(w, Y)`,
Y one row per experiment): the scorecard's chance pass rates and P(same verdict) run the verdict code
on simulated data through these same functions.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special, stats

ALPHA = 0.05  # two-sided 95% intervals
POWER = 0.80
THETA0_COLUMNS = ("theta0", "pretrain_seed")  # runs.csv columns naming a run's pretrained backbone θ0
KEY = ["backbone", "mixture", "seed"]


# ---------------------------------------------------------------- scales of bounded metrics


@dataclass(frozen=True)
class Scale:
    """The range of a metric: [lo, hi] (scaled logit), [lo, ∞) (log) or unbounded (identity).

    Cell intervals of a bounded metric are computed on z = log((y − lo + δ) / (hi − y + δ)) with δ = 0.5% of
    the range (positive metrics: log(y − lo)), centred on the transformed plain mean and mapped back, so
    they stay in range and contain the mean. Differences are on the metric's own scale (points)."""

    lo: float | None = None
    hi: float | None = None

    @property
    def bounded(self) -> bool:
        return self.lo is not None and self.hi is not None

    @property
    def margin(self) -> float:
        """δ of the scaled logit: 0.5% of the range, so that values on a bound stay finite."""
        return 0.005 * (self.hi - self.lo) if self.bounded else 0.0

    @property
    def width(self) -> float:
        """hi − lo (∞ when unbounded): the largest possible difference of two values."""
        return self.hi - self.lo if self.bounded else math.inf

    def check(self, y: np.ndarray, what: str = "value") -> None:
        bad = (self.lo is not None and (y < self.lo - 1e-9).any()) or (self.hi is not None and (y > self.hi + 1e-9).any())
        if bad or (self.lo is not None and not self.bounded and (y <= self.lo).any()):
            raise ValueError(f"{what}: values outside the metric's range {self}: "
                             f"min {np.nanmin(y):g}, max {np.nanmax(y):g}")

    def forward(self, y: np.ndarray) -> np.ndarray:
        y = np.asarray(y, dtype=float)
        if self.bounded:
            d = self.margin
            return np.log((y - self.lo + d) / (self.hi - y + d))
        return np.log(y - self.lo) if self.lo is not None else y

    def inverse(self, z: np.ndarray | float) -> np.ndarray:
        z = np.asarray(z, dtype=float)
        if self.bounded:
            d = self.margin
            return np.clip(self.lo - d + (self.hi - self.lo + 2 * d) * special.expit(z), self.lo, self.hi)
        return self.lo + np.exp(z) if self.lo is not None else z


FREE = Scale()
PERCENT = Scale(0.0, 100.0)      # accuracies and win rates in %
SCORE = Scale(1.0, 10.0)         # MT-Bench-style judge scores
BOTH = Scale(5.0, 100.0)         # µBOTH = (µMU + 10 µMB) / 2 with µMU in [0, 100], µMB in [1, 10]
WEIGHT = Scale(0.0, 1.0)         # sampling probabilities
CHANGE = Scale(-1.0, 1.0)        # end − start of a sampling probability
POSITIVE = Scale(0.0, None)      # losses and perplexities


# ---------------------------------------------------------------- t quantiles, MDE and power


def t_crit(df: float, level: float = 1 - ALPHA / 2) -> float:
    """The Student-t quantile t_{level, df} (NaN without degrees of freedom)."""
    return float(stats.t.ppf(level, df)) if df and df > 0 else math.nan


def mde(se: float, df: float, alpha: float = ALPHA, power: float = POWER) -> float:
    """Minimal detectable effect of a two-sided level-α t test: (t_{1−α/2,df} + t_{power,df}) · SE."""
    return (t_crit(df, 1 - alpha / 2) + t_crit(df, power)) * se


def power_at(delta: float, se: float, df: float, alpha: float = ALPHA) -> float:
    """Exact power of the two-sided level-α t test to detect a true difference `delta`."""
    if not (se > 0 and df > 0):
        return math.nan
    tc, nc = t_crit(df, 1 - alpha / 2), abs(delta) / se
    lower = stats.nct.cdf(-tc, df, nc)  # the wrong-sign tail: negligible, and NaN in scipy far out in the tail
    return float(stats.nct.sf(tc, df, nc) + (lower if lower == lower else 0.0))


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class Comparison:
    """A difference (arm a − arm b, a contrast, or a cell − a constant) with its inference."""

    effect: float
    se: float
    df: float
    n_a: int                 # θ0 means behind the positive side (pairs, for a paired contrast)
    n_b: int                 # ... and the negative side
    sigma: float             # SD of the per-θ0 contrast (paired), or NaN
    width: float = math.inf  # largest possible |effect| (the metric's range), for clipping the interval

    @property
    def testable(self) -> bool:
        return bool(self.df > 0 and self.se >= 0 and not math.isnan(self.effect))

    def half_width(self, alpha: float = ALPHA) -> float:
        return t_crit(self.df, 1 - alpha / 2) * self.se

    def interval(self, alpha: float = ALPHA) -> tuple[float, float]:
        """The two-sided (1 − α) interval, clipped to the metric's range."""
        hw = self.half_width(alpha)
        return max(self.effect - hw, -self.width), min(self.effect + hw, self.width)

    @property
    def lo(self) -> float:
        return self.interval()[0]

    @property
    def hi(self) -> float:
        return self.interval()[1]

    def p(self, direction: int = 0, null: float = 0.0) -> float:
        """p-value of effect = `null`: two-sided (0), one-sided for effect > null (+1) or < null (−1)."""
        if not self.testable:
            return math.nan
        if self.se == 0:  # no residual variation at all: the sign decides
            gap = self.effect - null
            return float(gap == 0) if direction == 0 else float(direction * gap <= 0)
        t = (self.effect - null) / self.se
        if direction == 0:
            return float(2 * stats.t.sf(abs(t), self.df))
        return float(stats.t.sf(direction * t, self.df))

    def bound(self, direction: int, alpha: float = ALPHA) -> float:
        """One-sided (1 − α) confidence bound in `direction`: the lower bound for +1, the upper for −1."""
        return self.effect - direction * t_crit(self.df, 1 - alpha) * self.se

    def mde_at(self, alpha: float = ALPHA, power: float = POWER) -> float:
        return mde(self.se, self.df, alpha, power) if self.testable else math.nan

    @property
    def mde(self) -> float:
        return self.mde_at()

    def power(self, delta: float, alpha: float = ALPHA) -> float:
        return power_at(delta, self.se, self.df, alpha)

    @property
    def excludes_zero(self) -> bool:
        return bool(self.lo > 0 or self.hi < 0)


@dataclass(frozen=True)
class Estimate:
    """A cell mean with its 95% interval over θ0 means (in range for a bounded metric)."""

    mean: float
    lo: float
    hi: float
    n: int


def comparison(effect: float, se: float, df: float, n_a: int, n_b: int, sigma: float,
               scale: Scale = FREE) -> Comparison:
    return Comparison(float(effect), float(se), float(df), int(n_a), int(n_b), float(sigma), scale.width)


# ---------------------------------------------------------------- θ0 of each run


def theta0_of(runs: pd.DataFrame) -> pd.Series | None:
    """runs.csv's θ0 column (theta0, else pretrain_seed) as strings, or None when the design has one θ0."""
    col = next((c for c in THETA0_COLUMNS if c in runs.columns), None)
    return None if col is None else runs[col].astype(str)


def attach_theta0(values: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """values with a `theta0` column from runs.csv (per backbone, mixture, seed) when runs.csv has one."""
    theta0 = theta0_of(runs)
    if theta0 is None or "theta0" in values.columns:
        return values
    keys = runs[KEY].assign(theta0=theta0).drop_duplicates(KEY)
    return values.merge(keys, on=KEY, how="left")


def replicate_unit(df: pd.DataFrame) -> pd.Series:
    """The unit of replication of each row: its θ0 where the frame names one, else its seed (a frame
    without θ0, e.g. a figure's per-step values, treats every seed as its own pretraining)."""
    if "theta0" in df.columns and df["theta0"].notna().all():
        return df["theta0"].astype(str)
    return df["seed"].astype(str) if "seed" in df.columns else pd.Series(np.arange(len(df)).astype(str), df.index)


# ---------------------------------------------------------------- cell means of many groups at once (tables, bands)


def cell_intervals(df: pd.DataFrame, value: str = "value", cells: Sequence[str] = ("backbone", "mixture"),
                   by: Sequence[str] = (), scale: Scale | Mapping[str, Scale] = FREE) -> pd.DataFrame:
    """Mean and 95% interval of every cell (within each `by` group, e.g. a table column or a figure's
    step and dataset), over the cell's θ0 means (replicate_unit): the transformed θ0 means' own SD, t with
    n − 1 df, centred on the transformed plain mean (so the interval contains the mean) and mapped back.
    `scale` is one Scale, or a mapping from the value of by[0] to a Scale. A cell with one θ0 has no
    interval (NaN). Returns by + cells + mean, lo, hi, n (θ0s), df."""
    cells, by = list(cells), list(by)
    d = df.dropna(subset=[value]).copy()
    key = by or ["_all"]
    if not by:
        d["_all"] = 0
    d["_unit"] = replicate_unit(d)
    units = d.groupby([*key, *cells, "_unit"], sort=False, as_index=False)[value].mean()
    scales = units[key[0]].map(scale) if isinstance(scale, Mapping) else pd.Series([scale] * len(units), index=units.index)
    y = units[value].to_numpy(dtype=float)
    z = np.empty(len(units))
    for sc in dict.fromkeys(scales):  # one Scale object per kind of metric
        mask = (scales == sc).to_numpy()
        sc.check(y[mask], value)
        z[mask] = sc.forward(y[mask])
    units["_z"], units["_scale"] = z, scales.to_numpy()
    groups = units.groupby([*key, *cells], sort=False)
    out = groups.agg(mean=(value, "mean"), n=(value, "size"), sd=("_z", "std"), _scale=("_scale", "first")).reset_index()
    out["df"] = out["n"] - 1
    with np.errstate(invalid="ignore", divide="ignore"):
        hw = stats.t.ppf(1 - ALPHA / 2, out["df"].where(out["df"] > 0)) * out["sd"] / np.sqrt(out["n"])
    lo, hi = np.full(len(out), np.nan), np.full(len(out), np.nan)
    for sc in dict.fromkeys(out["_scale"]):
        mask = (out["_scale"] == sc).to_numpy()
        centre = sc.forward(out["mean"][mask].to_numpy())  # the plain mean, on the transformed scale
        lo[mask] = sc.inverse(centre - hw[mask])
        hi[mask] = sc.inverse(centre + hw[mask])
    out["lo"], out["hi"] = lo, hi
    out.loc[out["df"] < 1, ["lo", "hi"]] = np.nan
    return out[[*by, *cells, "mean", "lo", "hi", "n", "df"]]


# ---------------------------------------------------------------- the fit of one metric


def _weighted_parts(df: int, mean: np.ndarray, var: np.ndarray, n: np.ndarray) -> tuple:
    """Combine independent parts (columns) into one estimate: sum of means, Welch–Satterthwaite df."""
    effect = mean.sum(axis=-1)
    v = var / n
    se2 = v.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        dfs = np.where(v.shape[-1] == 1, df, se2 ** 2 / (v ** 2 / np.maximum(n - 1, 1)).sum(axis=-1))
    return effect, np.sqrt(se2), dfs


class Fit:
    """The model above for one metric over every cell of an experiment.

    `frame` has one row per run: backbone, mixture, seed, value, and theta0 (without it, each seed is its
    own θ0: the unit of replication is then the seed). `scale` is the metric's range.
    """

    def __init__(self, frame: pd.DataFrame, scale: Scale = FREE, pair_by_seed: bool = True,
                 what: str = "metric") -> None:
        missing = [c for c in [*KEY, "value"] if c not in frame.columns]
        if missing:
            raise ValueError(f"{what}: missing column(s) {missing}")
        df = frame.dropna(subset=["value"]).reset_index(drop=True)
        keys = list(zip(*(df[c].tolist() for c in KEY), strict=True))
        if len(set(keys)) < len(keys):
            raise ValueError(f"{what}: more than one value per run: {sorted({k for k in keys if keys.count(k) > 1})}")
        self.scale, self.what = scale, what
        self.pair_by_seed = pair_by_seed  # kept for callers; θ0 means pair every comparison
        self.y = df["value"].to_numpy(dtype=float)
        scale.check(self.y, what)
        self.frame = df.assign(theta0=replicate_unit(df).to_numpy())
        self.cells = list(dict.fromkeys(zip(df["backbone"], df["mixture"], strict=True)))
        self.index = {c: i for i, c in enumerate(self.cells)}
        # θ0-level means: unit u = (backbone, mixture, θ0); A averages the runs of each unit
        unit_keys = list(zip(df["backbone"], df["mixture"], self.frame["theta0"], strict=True))
        self.units = list(dict.fromkeys(unit_keys))
        position = {u: i for i, u in enumerate(self.units)}
        code = np.array([position[u] for u in unit_keys], dtype=int)
        counts = np.bincount(code, minlength=len(self.units)).astype(float)
        self.A = np.zeros((len(self.y), len(self.units)))
        self.A[np.arange(len(self.y)), code] = 1.0 / counts[code]
        self.theta0s: dict[tuple[str, str], list[str]] = {}
        for b, m, t in self.units:
            self.theta0s.setdefault((b, m), []).append(t)
        self.n = np.array([len(self.theta0s[c]) for c in self.cells])
        self._unit_pos = position

    # -- cells

    @functools.cached_property
    def intervals(self) -> pd.DataFrame:
        """cell_intervals of this metric, indexed by backbone and mixture (computed when first asked)."""
        return cell_intervals(self.frame, scale=self.scale).set_index(["backbone", "mixture"])

    def cell(self, backbone: str, mixture: str) -> Estimate:
        """The cell's mean with its 95% interval over its θ0 means (NaN interval with one θ0)."""
        if (backbone, mixture) not in self.index:
            return Estimate(math.nan, math.nan, math.nan, 0)
        row = self.intervals.loc[(backbone, mixture)]
        return Estimate(float(row["mean"]), float(row["lo"]), float(row["hi"]), int(row["n"]))

    def cells_frame(self) -> pd.DataFrame:
        """backbone, mixture, mean, lo, hi, n for every cell."""
        return self.intervals.reset_index()[["backbone", "mixture", "mean", "lo", "hi", "n"]]

    def has(self, backbone: str, mixture: str) -> bool:
        return (backbone, mixture) in self.index

    # -- contrasts: the same code for the data (Y = y[None]) and for simulated experiments (Y: S × runs)

    def plan(self, weights: Mapping[tuple[str, str], float]) -> list[np.ndarray]:
        """The parts of a contrast: one (θ0s × units) weight matrix per independent part (see the docstring)."""
        for cell in weights:
            if cell not in self.index:
                raise KeyError(f"{self.what}: no runs of {cell[0]} × {cell[1]}")
        parts = []
        for backbone in dict.fromkeys(b for b, _ in weights):
            mine = {c: w for c, w in weights.items() if c[0] == backbone and w != 0}
            if not mine:
                continue
            shared = set.intersection(*(set(self.theta0s[c]) for c in mine))
            shared_order = [t for t in self.theta0s[next(iter(mine))] if t in shared]
            groups = [mine] if len(shared_order) >= 2 or len(mine) == 1 else [{c: w} for c, w in mine.items()]
            for group in groups:
                thetas = shared_order if group is mine and len(mine) > 1 else self.theta0s[next(iter(group))]
                W = np.zeros((len(thetas), len(self.units)))
                for i, t in enumerate(thetas):
                    for (b, m), w in group.items():
                        W[i, self._unit_pos[(b, m, t)]] = w
                parts.append(W)
        return parts

    def contrast_stats(self, weights: Mapping[tuple[str, str], float], Y: np.ndarray,
                       constant: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """effect, SE and df (each of length S) of Σ w_c µ_c − constant for the experiments Y (S × runs)."""
        M = Y @ self.A  # S × units: θ0 means
        means, variances, ns = [], [], []
        for W in self.plan(weights):
            d = M @ W.T  # S × θ0s of this part
            n = d.shape[1]
            means.append(d.mean(axis=1))
            variances.append(d.var(axis=1, ddof=1) if n > 1 else np.full(len(Y), np.nan))
            ns.append(n)
        if not means:
            nan = np.full(len(Y), np.nan)
            return nan, nan, nan
        n = np.array(ns, dtype=float)
        effect, se, df = _weighted_parts(int(n[0] - 1), np.column_stack(means), np.column_stack(variances), n)
        return effect - constant, se, np.where(np.isnan(se), 0.0, df)

    def contrast(self, weights: Mapping[tuple[str, str], float], constant: float = 0.0) -> Comparison:
        """Σ w_c µ_c − constant (e.g. {(b, a): 1, (b, ref): −1}) with its SE and df (the module docstring)."""
        effect, se, df = (float(v[0]) for v in self.contrast_stats(weights, self.y[None, :], constant))
        parts = self.plan(weights)
        paired = len(parts) == 1
        n_pos = parts[0].shape[0] if parts else 0
        n_neg = parts[-1].shape[0] if parts else 0
        return comparison(effect, se, df, n_pos, n_neg, se * math.sqrt(n_pos) if paired else math.nan, self.scale)

    def compare(self, backbone: str, a: str, b: str) -> Comparison:
        """Arm a minus arm b on one backbone: the paired t on their shared θ0s' means."""
        return self.contrast({(backbone, a): 1.0, (backbone, b): -1.0})

    def versus(self, backbone: str, mixture: str, value: float) -> Comparison:
        """The cell mean minus a constant (e.g. a win rate − 50): the one-sample t on its θ0 means."""
        if (backbone, mixture) not in self.index:
            return comparison(math.nan, math.nan, 0, 0, 0, math.nan, self.scale)
        return self.contrast({(backbone, mixture): 1.0}, constant=value)


# ---------------------------------------------------------------- multiplicity


def holm(p: np.ndarray) -> np.ndarray:
    """Holm-adjusted p-values along the last axis (NaN p-values are left out of the family)."""
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    flat_p, flat_out = p.reshape(-1, p.shape[-1]), out.reshape(-1, p.shape[-1])
    for row, dest in zip(flat_p, flat_out, strict=True):
        ok = ~np.isnan(row)
        m = int(ok.sum())
        if not m:
            continue
        idx = np.flatnonzero(ok)[np.argsort(row[ok], kind="stable")]
        adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * row[idx]))
        dest[idx] = adj
    return out


def holm_levels(p: np.ndarray, alpha: float = ALPHA) -> np.ndarray:
    """The level Holm tests each hypothesis at (α/m for the smallest p, ..., α for the largest), NaN left out."""
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    m = int(ok.sum())
    idx = np.flatnonzero(ok)[np.argsort(p[ok], kind="stable")]
    out[idx] = alpha / (m - np.arange(m))
    return out
