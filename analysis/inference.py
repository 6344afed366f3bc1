"""The statistics of every table, figure band and the scorecard: one model, stated here.

    python -m analysis.inference plan --sigma 2.26                  # seeds per arm for ±2.0 and 80% power
    python -m analysis.inference plan --sigma 2.26 --cells 34 --paired-sd 3.0 --delta 2 --half-width 2

The model
---------
One metric of one experiment (e.g. µBOTH). A run r = (backbone b, mixture m, seed s) gives y_r; a
cell c = (b, m) is one arm on one backbone, and its seeds are replicates:

    y_r = µ_c + β_k(r) + ε_r,      ε_r ~ N(0, σ²) independent, one σ for every cell of the experiment.

* Cell means (the interval of every table cell and figure band): the one-way model (no β: a cell
  mean carries its seeds' block effects and, with several θ0, their θ0s), σ pooled over all cells,
  df = N − C (runs minus cells). A bounded metric is fitted on a transformed scale and
  its interval mapped back, so it stays in range: accuracies and win rates in [0, 100], judge scores
  in [1, 10], µBOTH in [5, 100], sampling weights in [0, 1] and their changes in [−1, 1] on the scaled
  logit z = log((y − lo + δ) / (hi − y + δ)) with δ = 0.5% of the range (the endpoints mapped back are
  clipped to [lo, hi], the only clipping); positive metrics (loss, perplexity) on log(y − lo). The
  point estimate is always the plain mean ȳ of the runs, and the interval z(ȳ) ± t·σ_z/√n mapped back
  (σ_z pooled on the transformed scale; the delta method), so it contains ȳ.
* Differences (every Δ, p-value and MDE): the two-way additive model fitted by least squares on the
  metric's own scale (points), with blocks k = (b, θ0, seed) where the design pairs arms by seed — a
  seed draws the same sampler stream whatever the mixture, so runs of one seed share a block — else
  k = (b, θ0). σ² = RSS / (N − rank X). A difference of two cells is c'µ with SE σ·√(c'(X'X)⁻c).
* θ0: a `theta0` (or `pretrain_seed`) column in runs.csv names the pretrained backbone each run
  started from; without it every run of a backbone shares one θ0. θ0 is a random factor: with two or
  more θ0 per backbone a mixture's effect may differ between θ0s, so a difference is tested against
  the mean square of the cell × θ0 interaction (E = σ² + n·σ²_mθ, df of the interaction), the
  error term of a fixed factor crossed with a random one; when that mean square is below the pure
  residual one (no interaction seen) the additive model's residual is used.
* Intervals are 95% two-sided Student t; one-sided p-values test the paper's direction. The minimal
  detectable effect at 80% power (two-sided α = 0.05) is MDE = (t_{0.975,df} + t_{0.80,df}) · SE, the
  usual closed form; power at a given Δ is the exact noncentral-t power of the two-sided test.
* The reviewer's check (`paired_t`): the seed-level paired t over the seeds two arms share, with
  n − 1 df and nothing pooled, as one would compute it from summary/metrics.csv by hand.
* Selection-aware tests of "the best arm differs between backbones" (`best_differs_test`): a
  max-statistic permutation test, arm labels shuffled within blocks, with a fixed seed.
* Multiplicity: Holm's step-down adjustment across a family of hypotheses (`holm`).
"""

from __future__ import annotations

import argparse
import functools
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special, stats

ALPHA = 0.05  # two-sided 95% intervals; one-sided tests at α
POWER = 0.80
THETA0_COLUMNS = ("theta0", "pretrain_seed")  # runs.csv columns naming a run's pretrained backbone θ0
KEY = ["backbone", "mixture", "seed"]


# ---------------------------------------------------------------- scales of bounded metrics


@dataclass(frozen=True)
class Scale:
    """The range of a metric: [lo, hi] (scaled logit), [lo, ∞) (log) or unbounded (identity)."""

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
    """Minimal detectable effect of a two-sided level-α test: (t_{1−α/2,df} + t_{power,df}) · SE."""
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
    """A difference (arm a − arm b, or a cell − a constant) with its inference."""

    effect: float
    se: float
    df: float
    n_a: int
    n_b: int
    sigma: float
    width: float = math.inf  # largest possible |effect| (the metric's range), for clipping the interval

    @property
    def half_width(self) -> float:
        return t_crit(self.df) * self.se

    @property
    def lo(self) -> float:
        return max(self.effect - self.half_width, -self.width)

    @property
    def hi(self) -> float:
        return min(self.effect + self.half_width, self.width)

    def p(self, direction: int = 0) -> float:
        """p-value: two-sided (0), one-sided for a > b (+1) or a < b (−1)."""
        if not self.df > 0 or not self.se >= 0 or math.isnan(self.effect):
            return math.nan
        if self.se == 0:  # no residual variation at all: the sign decides
            return float(self.effect == 0) if direction == 0 else float(direction * self.effect <= 0)
        t = self.effect / self.se
        if direction == 0:
            return float(2 * stats.t.sf(abs(t), self.df))
        return float(stats.t.sf(direction * t, self.df))

    def bound(self, direction: int, alpha: float = ALPHA) -> float:
        """One-sided (1 − α) confidence bound in `direction`: the lower bound for +1, the upper for −1."""
        return self.effect - direction * t_crit(self.df, 1 - alpha) * self.se

    @property
    def mde(self) -> float:
        return mde(self.se, self.df)

    def power(self, delta: float) -> float:
        return power_at(delta, self.se, self.df)

    @property
    def excludes_zero(self) -> bool:
        return bool(self.lo > 0 or self.hi < 0)


@dataclass(frozen=True)
class Estimate:
    """A cell mean with its 95% interval from the pooled σ (in range for a bounded metric)."""

    mean: float
    lo: float
    hi: float
    n: int


def comparison(effect: float, se: float, df: float, n_a: int, n_b: int, sigma: float,
               scale: Scale = FREE) -> Comparison:
    return Comparison(float(effect), float(se), float(df), int(n_a), int(n_b), float(sigma), scale.width)


def paired_t(a: pd.Series, b: pd.Series, scale: Scale = FREE) -> Comparison:
    """The reviewer's seed-level paired t: a and b indexed by seed, differences over the shared seeds, n − 1 df."""
    shared = a.dropna().index.intersection(b.dropna().index)
    d = (a.loc[shared] - b.loc[shared]).to_numpy(dtype=float)
    n = len(d)
    if n == 0:
        return comparison(math.nan, math.nan, 0, 0, 0, math.nan, scale)
    sd = float(d.std(ddof=1)) if n > 1 else math.nan
    return comparison(d.mean(), sd / math.sqrt(n) if n > 1 else math.nan, n - 1, n, n, sd, scale)


# ---------------------------------------------------------------- cell means of many groups at once (tables, bands)


def cell_intervals(df: pd.DataFrame, value: str = "value", cells: Sequence[str] = ("backbone", "mixture"),
                   by: Sequence[str] = (), scale: Scale | Mapping[str, Scale] = FREE) -> pd.DataFrame:
    """Mean and 95% interval of every cell, with σ pooled over all cells of each `by` group.

    The one-way model of the module docstring, group by group (e.g. per table column, or per
    training step and dataset of a figure): z = the scale's transform of each run's value, σ_z pooled
    within cells (df = runs − cells of the group), the interval z̄ ± t·σ_z/√n mapped back. `scale` is one
    Scale, or a mapping from the value of by[0] to a Scale. The interval is centred on the transformed
    plain mean, g(ȳ) ± t·σ_z/√n (the delta method), so it always contains ȳ. Returns by + cells + mean,
    lo, hi, n, df.
    """
    cells, by = list(cells), list(by)
    d = df.dropna(subset=[value]).copy()
    key = by or ["_all"]
    if not by:
        d["_all"] = 0
    scales = d[key[0]].map(scale) if isinstance(scale, Mapping) else pd.Series(scale, index=d.index)
    y = d[value].to_numpy(dtype=float)
    z = np.empty(len(d))
    for sc in dict.fromkeys(scales):  # one Scale object per kind of metric
        mask = (scales == sc).to_numpy()
        sc.check(y[mask], value)
        z[mask] = sc.forward(y[mask])
    d["_z"], d["_scale"] = z, scales
    groups = d.groupby([*key, *cells], sort=False)
    out = groups.agg(mean=(value, "mean"), n=(value, "size")).reset_index()
    d["_dev2"] = (d["_z"] - groups["_z"].transform("mean")) ** 2
    pooled = d.groupby(key, sort=False).agg(ss=("_dev2", "sum"), runs=("_dev2", "size"), _scale=("_scale", "first"))
    pooled["cells"] = out.groupby(key, sort=False).size()
    pooled["df"] = pooled["runs"] - pooled["cells"]
    out = out.merge(pooled[["ss", "df", "_scale"]].reset_index(), on=key)
    with np.errstate(invalid="ignore", divide="ignore"):
        sigma = np.sqrt(out["ss"] / out["df"].where(out["df"] > 0))
        hw = stats.t.ppf(1 - ALPHA / 2, out["df"].where(out["df"] > 0)) * sigma / np.sqrt(out["n"])
    lo, hi = np.empty(len(out)), np.empty(len(out))
    for sc in dict.fromkeys(out["_scale"]):
        mask = (out["_scale"] == sc).to_numpy()
        centre = sc.forward(out["mean"][mask].to_numpy())  # the plain mean, on the transformed scale
        lo[mask] = sc.inverse(centre - hw[mask])
        hi[mask] = sc.inverse(centre + hw[mask])
    out["lo"], out["hi"] = lo, hi
    return out[[*by, *cells, "mean", "lo", "hi", "n", "df"]]


# ---------------------------------------------------------------- the fit of one metric


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


def _dummies(codes: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros((len(codes), n))
    out[np.arange(len(codes)), codes] = 1.0
    return out


def _codes(keys: Sequence[tuple]) -> tuple[np.ndarray, list[tuple]]:
    levels = list(dict.fromkeys(keys))
    index = {k: i for i, k in enumerate(levels)}
    return np.array([index[k] for k in keys], dtype=int), levels


class Fit:
    """The model above for one metric over every cell of an experiment.

    `frame` has one row per run: backbone, mixture, seed, value (and theta0 when the design has several).
    """

    def __init__(self, frame: pd.DataFrame, scale: Scale = FREE, pair_by_seed: bool = True,
                 what: str = "metric") -> None:
        missing = [c for c in [*KEY, "value"] if c not in frame.columns]
        if missing:
            raise ValueError(f"{what}: missing column(s) {missing}")
        df = frame.dropna(subset=["value"]).reset_index(drop=True)
        self.scale, self.pair_by_seed, self.what = scale, pair_by_seed, what
        self.y = df["value"].to_numpy(dtype=float)
        scale.check(self.y, what)
        theta0 = df["theta0"].astype(str).tolist() if "theta0" in df.columns else ["θ0"] * len(df)
        self.frame = df.assign(theta0=theta0)
        backbone, mixture, seed = (df[c].tolist() for c in KEY)  # plain lists: pandas is slow per element
        keys = list(zip(backbone, mixture, seed, strict=True))
        if len(set(keys)) < len(keys):
            raise ValueError(f"{what}: more than one value per run: "
                             f"{sorted({k for k in keys if keys.count(k) > 1})}")
        self.cell_code, self.cells = _codes(list(zip(backbone, mixture, strict=True)))
        self.index = {c: i for i, c in enumerate(self.cells)}
        self.n = np.bincount(self.cell_code, minlength=len(self.cells))
        self._one_way()
        self._two_way(backbone, mixture, seed, theta0)

    # -- cell means: one-way model, σ pooled over cells (intervals on the metric's transformed scale)

    def _one_way(self) -> None:
        C, N = len(self.cells), len(self.y)
        self.df_cell = N - C
        self.mean = np.bincount(self.cell_code, self.y, C) / self.n
        raw_ss = ((self.y - self.mean[self.cell_code]) ** 2).sum()
        self.sigma_cell = math.sqrt(raw_ss / self.df_cell) if self.df_cell > 0 else math.nan

    @functools.cached_property
    def intervals(self) -> pd.DataFrame:
        """cell_intervals of this metric, indexed by backbone and mixture (computed when first asked)."""
        return cell_intervals(self.frame, scale=self.scale).set_index(["backbone", "mixture"])

    def cell(self, backbone: str, mixture: str) -> Estimate:
        """The cell's mean with its 95% interval (pooled σ; mapped back from the transformed scale)."""
        if (backbone, mixture) not in self.index:
            return Estimate(math.nan, math.nan, math.nan, 0)
        row = self.intervals.loc[(backbone, mixture)]
        return Estimate(float(row["mean"]), float(row["lo"]), float(row["hi"]), int(row["n"]))

    def cells_frame(self) -> pd.DataFrame:
        """backbone, mixture, mean, lo, hi, n for every cell."""
        return self.intervals.reset_index()[["backbone", "mixture", "mean", "lo", "hi", "n"]]

    def versus(self, backbone: str, mixture: str, value: float) -> Comparison:
        """The cell mean minus a constant (e.g. a win rate − 50), with the pooled σ of the one-way model."""
        i = self.index.get((backbone, mixture))
        if i is None:
            return comparison(math.nan, math.nan, 0, 0, 0, math.nan, self.scale)
        se = self.sigma_cell / math.sqrt(self.n[i])
        return comparison(self.mean[i] - value, se, self.df_cell, self.n[i], 0, self.sigma_cell, self.scale)

    # -- differences: two-way additive model with blocks, least squares on the metric's scale

    def _two_way(self, backbone: list, mixture: list, seed: list, theta0: list) -> None:
        block_keys = (list(zip(backbone, theta0, seed, strict=True)) if self.pair_by_seed
                      else list(zip(backbone, theta0, strict=True)))
        block_code, self.blocks = _codes(block_keys)
        C, N = len(self.cells), len(self.y)
        self.X = np.hstack([_dummies(self.cell_code, C), _dummies(block_code, len(self.blocks))])
        self.pinv = np.linalg.pinv(self.X)
        self.rank = int(np.linalg.matrix_rank(self.X))
        self.rowspace = self.pinv @ self.X
        self.cov = self.pinv @ self.pinv.T  # (X'X)⁻ as a Moore-Penrose inverse
        self.df_resid = N - self.rank
        # θ0 random: the cell × θ0 interaction model, when some backbone has several θ0
        self.X_int = None
        if len(set(zip(backbone, theta0, strict=True))) > len(set(backbone)):  # some backbone has several θ0
            ct_code, ct = _codes(list(zip(backbone, mixture, theta0, strict=True)))
            X_int = np.hstack([_dummies(ct_code, len(ct)), _dummies(block_code, len(self.blocks))])
            rank_int = int(np.linalg.matrix_rank(X_int))
            if rank_int > self.rank:
                self.X_int, self.rank_int = X_int, rank_int
        sigma2, dfe = self.error_variance(self.y[None, :])
        self.sigma2, self.df = float(sigma2[0]), float(dfe[0])
        self.sigma = math.sqrt(self.sigma2) if self.sigma2 == self.sigma2 else math.nan

    def error_variance(self, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """σ² and its df for each row of Y (runs in this fit's order): residual, or the interaction mean square."""
        cached = getattr(self, "_error_cache", None)
        if cached is not None and cached[0] is Y:
            return cached[1]
        self._error_cache = (Y, self._error_variance(Y))
        return self._error_cache[1]

    def _error_variance(self, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        N = Y.shape[1]
        rss = ((Y - (Y @ self.pinv.T) @ self.X.T) ** 2).sum(axis=1)
        dfr = N - self.rank
        sigma2 = rss / dfr if dfr > 0 else np.full(len(Y), np.nan)
        df = np.full(len(Y), float(dfr))
        if self.X_int is not None:
            fit_int = (Y @ np.linalg.pinv(self.X_int).T) @ self.X_int.T
            rss_int = ((Y - fit_int) ** 2).sum(axis=1)
            df_inter, df_pure = self.rank_int - self.rank, N - self.rank_int
            ms_inter = (rss - rss_int) / df_inter
            ms_pure = rss_int / df_pure if df_pure > 0 else np.full(len(Y), np.inf)
            use = ms_inter > ms_pure
            sigma2 = np.where(use, ms_inter, sigma2)
            df = np.where(use, float(df_inter), df)
        return sigma2, df

    def contrast_vector(self, weights: Mapping[tuple[str, str], float]) -> np.ndarray:
        """The coefficient vector of Σ w_c µ_c; an error when it is not estimable in this design."""
        c = np.zeros(self.X.shape[1])
        for cell, w in weights.items():
            if cell not in self.index:
                raise KeyError(f"{self.what}: no runs of {cell[0]} × {cell[1]}")
            c[self.index[cell]] += w
        if not np.allclose(self.rowspace @ c, c, atol=1e-8):
            raise ValueError(f"{self.what}: the contrast {dict(weights)} is not estimable in this design")
        return c

    def contrast(self, weights: Mapping[tuple[str, str], float]) -> Comparison:
        """Σ w_c µ_c (e.g. {(b, a): 1, (b, ref): −1}) with its SE from the pooled σ of the blocked model."""
        c = self.contrast_vector(weights)
        effect = float(c @ self.pinv @ self.y)
        se = self.sigma * math.sqrt(float(c @ self.cov @ c))
        pos = [self.n[self.index[k]] for k, w in weights.items() if w > 0]
        neg = [self.n[self.index[k]] for k, w in weights.items() if w < 0]
        return comparison(effect, se, self.df, min(pos, default=0), min(neg, default=0), self.sigma, self.scale)

    def compare(self, backbone: str, a: str, b: str) -> Comparison:
        """Arm a minus arm b on one backbone."""
        return self.contrast({(backbone, a): 1.0, (backbone, b): -1.0})

    def has(self, backbone: str, mixture: str) -> bool:
        return (backbone, mixture) in self.index

    # -- null simulations (t statistics are scale free: standard normal noise on this design)

    def null_t(self, vectors: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """t statistics (S × h) and df (S) of contrast vectors (h × p) on simulated data Y (S × N)."""
        est = Y @ (self.pinv.T @ vectors.T)
        sigma2, df = self.error_variance(Y)
        factor = np.einsum("hp,pq,hq->h", vectors, self.cov, vectors)
        return est / np.sqrt(sigma2[:, None] * factor[None, :]), df

    def null_versus_t(self, cells: Sequence[tuple[str, str]], Y: np.ndarray) -> tuple[np.ndarray, float]:
        """t statistics (S × h) of cell mean − constant under the null (Y: S × N standard normal)."""
        C = len(self.cells)
        sums = np.stack([np.bincount(self.cell_code, y, C) for y in Y]) if len(Y) else np.zeros((0, C))
        means = sums / self.n
        ss = ((Y - means[:, self.cell_code]) ** 2).sum(axis=1)
        sigma = np.sqrt(ss / self.df_cell)
        idx = [self.index[c] for c in cells]
        return means[:, idx] / (sigma[:, None] / np.sqrt(self.n[idx])[None, :]), float(self.df_cell)


# ---------------------------------------------------------------- multiplicity


def holm(p: np.ndarray) -> np.ndarray:
    """Holm-adjusted p-values along the last axis (NaN p-values are left out of the family)."""
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    flat_p, flat_out = p.reshape(-1, p.shape[-1]), out.reshape(-1, p.shape[-1])
    for row, dest in zip(flat_p, flat_out, strict=True):
        ok = np.flatnonzero(~np.isnan(row))
        m = len(ok)
        if not m:
            continue
        order = ok[np.argsort(row[ok], kind="stable")]
        adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * row[order]))
        dest[order] = adjusted
    return out


def holm_levels(p: np.ndarray, alpha: float = ALPHA) -> np.ndarray:
    """The one-sided level α / (m − r + 1) at which Holm tests each hypothesis (r = its rank by p)."""
    p = np.asarray(p, dtype=float)
    ok = np.flatnonzero(~np.isnan(p))
    levels = np.full(p.shape, np.nan)
    order = ok[np.argsort(p[ok], kind="stable")]
    levels[order] = alpha / (len(ok) - np.arange(len(ok)))
    return levels


# ---------------------------------------------------------------- selection-aware test: does the best arm differ?


@dataclass(frozen=True)
class BestDiffers:
    """Result of the max-statistic permutation test of one best-of-k claim."""

    best: dict[str, str]        # backbone -> the arm with the highest mean
    p_each: dict[str, float]    # arm -> p of "this arm is beaten somewhere" (max statistic over backbones, rivals)
    p_held: float               # the claim (every arm is beaten on some backbone): intersection-union, max of p_each
    p_contradicted: float       # some arm beats every rival on every backbone (Bonferroni over the arms)
    permutations: int


class BestDiffersDesign:
    """Runs of k arms on several backbones, arranged for the permutation test (labels shuffled within blocks)."""

    def __init__(self, fit: Fit, backbones: Sequence[str], arms: Sequence[str]) -> None:
        df = fit.frame.assign(_i=np.arange(len(fit.frame)))
        df = df[df["backbone"].isin(backbones) & df["mixture"].isin(arms)]
        missing = [(b, a) for b in backbones for a in arms if not fit.has(b, a)]
        if missing:
            raise KeyError(f"{fit.what}: no runs of {', '.join(f'{b} × {a}' for b, a in missing)}")
        self.backbones, self.arms, self.rows = list(backbones), list(arms), df["_i"].to_numpy()
        group = df["backbone"].map({b: i for i, b in enumerate(backbones)}).to_numpy() * len(arms) + \
            df["mixture"].map({a: i for i, a in enumerate(arms)}).to_numpy()
        blocks = (list(zip(df["backbone"], df["theta0"], df["seed"], strict=True)) if fit.pair_by_seed
                  else list(zip(df["backbone"], df["theta0"], strict=True)))
        self.block = _codes(blocks)[0]
        self.base = np.argsort(self.block, kind="stable")
        G = len(backbones) * len(arms)
        self.n = np.bincount(group, minlength=G).astype(float)
        self.A = _dummies(group, G) / self.n  # N × G averaging matrix

    def statistics(self, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For values Y (… × N): per arm h, max over (backbone, rival) of the scaled difference rival − h
        (beaten), and min over them of h − rival (beats all)."""
        k = len(self.arms)
        m = (Y @ self.A).reshape(*Y.shape[:-1], len(self.backbones), k)
        scale = np.sqrt(1 / self.n[:, None] + 1 / self.n[None, :])  # only within a backbone's k arms matter
        scale = np.stack([scale[i * k:(i + 1) * k, i * k:(i + 1) * k] for i in range(len(self.backbones))])
        d = (m[..., :, None] - m[..., None, :]) / scale  # d[..., b, r, h] = (m_r − m_h) / √(1/n_r + 1/n_h)
        off = ~np.eye(k, dtype=bool)
        beaten = np.where(off, d, -np.inf).max(axis=-2).max(axis=-2)   # max over rivals r, backbones b
        beats = np.where(off, -d, np.inf).min(axis=-2).min(axis=-2)    # min over r, b of m_h − m_r
        return beaten, beats

    def permute(self, Y: np.ndarray, permutations: int, rng: np.random.Generator) -> np.ndarray:
        """Y (S × N) -> (S × B × N): arm labels shuffled within each block."""
        S, N = Y.shape
        keys = self.block[None, None, :] * 2.0 + rng.random((S, permutations, N))
        order = np.argsort(keys, axis=-1)  # positions grouped block by block, random within a block
        out = np.empty((S, permutations, N))
        np.put_along_axis(out, np.broadcast_to(self.base, (S, permutations, N)),
                          np.take_along_axis(np.broadcast_to(Y[:, None, :], (S, permutations, N)), order, axis=-1),
                          axis=-1)
        return out

    def pvalues(self, Y: np.ndarray, permutations: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
        """p_each (S × k), p_held (S), p_contradicted (S) for values Y (S × N, this design's runs)."""
        beaten, beats = self.statistics(Y)
        perm_beaten, perm_beats = self.statistics(self.permute(Y, permutations, rng))
        p_each = (1 + (perm_beaten >= beaten[:, None, :] - 1e-12).sum(axis=1)) / (permutations + 1)
        p_best = (1 + (perm_beats >= beats[:, None, :] - 1e-12).sum(axis=1)) / (permutations + 1)
        k = len(self.arms)
        return p_each, p_each.max(axis=1), np.minimum(1.0, k * p_best.min(axis=1))

    def null_pvalues(self, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """p_held and p_contradicted (S) of simulated null experiments Y (S × N), without nested permutations.

        Each experiment's statistics are ranked among those of the other S − 1 (their null
        distribution): an exact level-α test of the same statistics, as the permutation test is, at
        the cost of one pass instead of S × B shuffles.
        """
        S, k = len(Y), len(self.arms)
        beaten, beats = self.statistics(Y)

        def rank_p(stat: np.ndarray) -> np.ndarray:  # (S × k): share of the experiments at least as extreme
            order = np.sort(stat, axis=0)
            return np.column_stack([(S - np.searchsorted(order[:, j], stat[:, j], side="left")) / S
                                    for j in range(k)])

        return rank_p(beaten).max(axis=1), np.minimum(1.0, k * rank_p(beats).min(axis=1))


def best_differs_test(fit: Fit, backbones: Sequence[str], arms: Sequence[str], permutations: int = 2000,
                      seed: int = 0) -> BestDiffers:
    """Selection-aware test of "the best of `arms` differs between `backbones`" on one metric.

    The claim holds when every arm is beaten on some backbone (else one arm would be best everywhere):
    for each arm h the statistic is the largest scaled difference rival − h over all backbones and
    rivals, its null distribution comes from shuffling arm labels within blocks (seeds when the
    design pairs by seed), and the claim's p is the largest of the arms' p (intersection-union test,
    level α without further correction). Contradicted: one arm beats every rival on every backbone
    (its smallest scaled difference, permutation p, Bonferroni over the k arms).
    """
    design = BestDiffersDesign(fit, backbones, arms)
    y = fit.y[design.rows][None, :]
    p_each, p_held, p_contra = design.pvalues(y, permutations, np.random.default_rng(seed))
    means = (y @ design.A).reshape(len(backbones), len(arms))
    best = {b: arms[int(np.argmax(means[i]))] for i, b in enumerate(backbones)}
    return BestDiffers(best, dict(zip(arms, map(float, p_each[0]), strict=True)), float(p_held[0]),
                       float(p_contra[0]), permutations)


# ---------------------------------------------------------------- planning: how many seeds?


def same_verdict_probability(effect: float, se: float, df: float, alpha: float = ALPHA) -> float:
    """How likely an independent rerun of the same design (another machine: same seeds and sizes, other
    rounding) reaches the same verdict as this one on a difference: above 0, below 0, or inconclusive by
    its 95% interval.

    The rerun's estimate is predicted from this one with a flat prior: d' ~ N(d, 2·SE²) (the unknown true
    difference has SE around d, and the rerun adds its own SE). The verdict regions are d' > c·SE,
    d' < −c·SE and between, with c = t_{1−α/2}(df), the critical value of the interval.
    """
    if not (se > 0 and df > 0) or math.isnan(effect):
        return math.nan
    c = t_crit(df, 1 - alpha / 2) * se
    spread = math.sqrt(2) * se
    above = stats.norm.sf((c - effect) / spread)
    below = stats.norm.cdf((-c - effect) / spread)
    if effect > c:
        return float(above)
    if effect < -c:
        return float(below)
    return float(1 - above - below)


def seeds_needed(sigma: float, half_width: float = 2.0, delta: float = 2.0, power: float = POWER,
                 cells: int = 1, paired_sd: float | None = None, max_n: int = 10_000) -> dict[str, int | float]:
    """Seeds per arm for a two-arm difference with CI half-width ≤ `half_width` and power ≥ `power` at `delta`.

    pooled: σ pooled over `cells` cells with n seeds each (df = cells · (n − 1)), SE = σ √(2/n).
    paired: the reviewer's paired t over n shared seeds (df = n − 1), SE = sd_d / √n with the SD of the
    per-seed differences `paired_sd` (default σ √2: no pairing benefit).
    """
    sd_d = paired_sd if paired_sd is not None else sigma * math.sqrt(2)
    out: dict[str, int | float] = {}
    for name, se_of, df_of in (("pooled", lambda n: sigma * math.sqrt(2 / n), lambda n: cells * (n - 1)),
                               ("paired", lambda n: sd_d / math.sqrt(n), lambda n: n - 1)):
        out[name] = next((n for n in range(2, max_n + 1)
                          if t_crit(df_of(n)) * se_of(n) <= half_width
                          and power_at(delta, se_of(n), df_of(n)) >= power), math.nan)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m analysis.inference", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    plan = sub.add_parser("plan", help="seeds per arm to reach a CI half-width and a power")
    plan.add_argument("--sigma", type=float, required=True, help="pooled within-cell SD of the metric")
    plan.add_argument("--half-width", type=float, default=2.0, help="target 95%% CI half-width of a difference")
    plan.add_argument("--delta", type=float, default=2.0, help="difference to detect")
    plan.add_argument("--power", type=float, default=POWER, help="target power (two-sided α = 0.05)")
    plan.add_argument("--cells", type=int, default=1, help="cells the σ is pooled over (df = cells·(n−1))")
    plan.add_argument("--paired-sd", type=float, help="SD of per-seed differences (reviewer's paired t)")
    args = ap.parse_args(argv)
    if args.sigma <= 0:
        ap.error("--sigma must be positive")
    need = seeds_needed(args.sigma, args.half_width, args.delta, args.power, args.cells, args.paired_sd)
    print(f"σ = {args.sigma:g}: half-width ≤ {args.half_width:g} and power ≥ {args.power:.0%} at Δ = "
          f"{args.delta:g} need {need['pooled']} seeds per arm with σ pooled over {args.cells} cell(s), "
          f"{need['paired']} with the reviewer's paired t.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
