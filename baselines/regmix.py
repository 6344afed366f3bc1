"""RegMix (Liu et al., ICLR 2025, arXiv 2407.01492): a regression of the outcome on the mixture, fitted
on many small proxy runs with random mixtures, and the mixture it predicts best, used as a static one.

The proxy runs are a family of random static mixtures of the same backbone and seed at a fraction of
the budget (baselines/dirichlet.py with `replicas: N` and `proxy_run: true`), dependency runs in the
workflow's DAG: their examples are counted as this method's extra examples (run.json `budget`, like
DoReMi's reference). At step 0, before any training step, RegMix

  1. reads each proxy's mixture: the weights of its trajectory.csv, averaged over its steps (a static
     run's weights), as the regression's features;
  2. measures each proxy's held-out loss per dataset (the probe's `validation_loss` under the proxy's
     model: the token mean over this run's `validation_size` held-out examples per dataset, which the
     proxies must hold out too, `validation_size` of the proxy mixtures); the target is the mean of
     those losses over the datasets, or the loss of one `target` dataset (the reference: Pile-CC);
  3. fits `regressor` to (mixture, target) over the proxies;
  4. draws `n_candidates` mixtures from Dirichlet(candidate_strength · q), q the temperature prior of
     `candidate_tau` (the reference: 100,000 from its token distribution, strength 1), and keeps the
     mean of the `top_k` with the lowest predicted target (the reference: 128);

then samples by those weights for the rest of the run (`Update.final`).

Regressors (`regressor`). The reference fits LightGBM (gbdt, L2, 1000 iterations, learning rate 1e-2,
seed 42, early stopping after 3 rounds on 256 held-out proxy runs) on 512 runs. LightGBM is not one
of this suite's dependencies; `gbdt` is scikit-learn's HistGradientBoostingRegressor, the histogram
gradient boosting modelled on LightGBM, with LightGBM's tree defaults (31 leaves, 20 examples per
leaf) and the reference's settings (1000 iterations, learning rate 1e-2, early stopping after 3
rounds on a held-out third of the proxies, `search_seed`). With tens of proxies it cannot split
(20 per leaf) and predicts a constant: use it with hundreds. `linear` and `quadratic` are Scheffé
mixture models (no intercept: the weights sum to 1) fitted by least squares: Σ β_i w_i, plus
Σ_{i<j} β_ij w_i w_j (an interior optimum needs the products; K(K+1)/2 = 10 coefficients for K = 4).

    mixtures:
      regmix_proxy: {strategy: dirichlet, replicas: 16, proxy_run: true, validation_size: 100,
                     train: {steps: 150}}
      regmix: {strategy: regmix, proxies: regmix_proxy, n_proxies: 16, regressor: quadratic,
               validation_size: 100}
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from mos.mixing.strategy import MixingStrategy, UnboundRunsError, Update, Weights, temperature_weights

if TYPE_CHECKING:
    from mos.mixing.probe import Probe

REGRESSORS = ("gbdt", "linear", "quadratic")


def trained_mixture(path: Path, names: list[str]) -> dict[str, float]:
    """The mixture a run trained under: the weights of its trajectory.csv averaged over its optimizer
    steps (each row's weights hold until the next row's step; a static run's weights)."""
    by_step: dict[int, dict[str, float]] = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            by_step.setdefault(int(row["step"]), {})[row["dataset"]] = float(row["weight"])
    if not by_step:
        raise ValueError(f"{path}: no rows")
    for step, weights in by_step.items():
        if set(weights) != set(names):
            raise ValueError(f"{path}: step {step} has datasets {sorted(weights)}, this run trains on {sorted(names)}")
    steps = sorted(by_step)
    if steps[-1] == steps[0]:
        return {n: by_step[steps[0]][n] for n in names}
    total = steps[-1] - steps[0]
    return {n: sum(by_step[a][n] * (b - a) for a, b in zip(steps, steps[1:], strict=False)) / total for n in names}


def held_out_check(folder: str | Path, sizes: Mapping[str, int]) -> bool | None:
    """Whether a finished run held out the examples this run holds out (`sizes`: {dataset: n}, the same
    fixed split of mos.training.loop.hold_out); None for a run.json that does not record it. A dataset the
    run did not train on at all (a single-skill proxy's other datasets) is held out by construction."""
    info = json.loads((Path(folder) / "run.json").read_text())
    if "validation_sizes" not in info:
        return None
    got, trained = info["validation_sizes"], info.get("dataset_sizes")
    return all(got.get(d) == n or (trained is not None and d not in trained) for d, n in sizes.items())


def features(x: np.ndarray, regressor: str) -> np.ndarray:
    """The design matrix of the Scheffé models: the weights, plus their pairwise products (quadratic)."""
    if regressor == "linear":
        return x
    from sklearn.preprocessing import PolynomialFeatures

    return PolynomialFeatures(degree=2, interaction_only=True, include_bias=False).fit_transform(x)


def fit_regressor(x: np.ndarray, y: np.ndarray, regressor: str, seed: int):
    """The fitted model of `regressor` (scikit-learn) on mixtures x (n, K) and targets y (n,)."""
    if regressor == "gbdt":
        from sklearn.ensemble import HistGradientBoostingRegressor

        model = HistGradientBoostingRegressor(loss="squared_error", learning_rate=0.01, max_iter=1000,
                                              max_leaf_nodes=31, min_samples_leaf=20, early_stopping=True,
                                              validation_fraction=1 / 3, n_iter_no_change=3, random_state=seed)
        return model.fit(x, y)
    from sklearn.linear_model import LinearRegression

    return LinearRegression(fit_intercept=False).fit(features(x, regressor), y)


def predict(model, x: np.ndarray, regressor: str) -> np.ndarray:
    return model.predict(x if regressor == "gbdt" else features(x, regressor))


def top_k_mixture(candidates: np.ndarray, predicted: np.ndarray, top_k: int) -> np.ndarray:
    """The mean of the `top_k` candidates with the lowest prediction (ties: the earlier candidate)."""
    best = np.argsort(predicted, kind="stable")[:top_k]
    return candidates[best].mean(axis=0)


@dataclass
class RegMix(MixingStrategy):
    """RegMix: a regression of the held-out loss on the mixture over proxy runs; its best mixture, static."""

    name = "regmix"
    update_every = 1                        # one update, at step 0 (first_update), then final
    proxies: str = "regmix_proxy"           # the proxy family: mixtures <proxies>_0 .. <proxies>_<n-1>
    n_proxies: int = 16
    target: str | None = None               # a dataset whose held-out loss is minimised (None: the mean)
    regressor: Literal["gbdt", "linear", "quadratic"] = "gbdt"
    n_candidates: int = 100_000
    top_k: int = 128
    candidate_strength: float = 1.0         # Σ of the candidates' Dirichlet concentration (reference: 1)
    candidate_tau: float = 1.0              # their centre: the temperature prior (1: dataset sizes)
    search_seed: int = 42                   # the candidates and the gbdt (the reference's seed)
    scope: Literal["training", "response", "sequence"] = "training"
    validation_size: int = 100              # held out per dataset, here and in every proxy run
    _runs: dict[str, str] = field(default_factory=dict, init=False, repr=False)
    _names: list[str] = field(default_factory=list, init=False, repr=False)
    _sizes: dict[str, int] = field(default_factory=dict, init=False, repr=False)
    _weights: list[float] | None = field(default=None, init=False, repr=False)
    _report: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.proxies:
            raise ValueError("regmix needs its proxy family (proxies: <mixture>, expanded by replicas)")
        if self.n_proxies < 2 or self.top_k < 1 or self.n_candidates < self.top_k:
            raise ValueError(f"need n_proxies >= 2 and 1 <= top_k <= n_candidates, got {self.n_proxies}, "
                             f"{self.top_k}, {self.n_candidates}")
        if self.validation_size < 1:
            raise ValueError(f"regmix measures held-out losses: validation_size must be >= 1, got {self.validation_size}")
        if not (self.candidate_strength > 0 and math.isfinite(self.candidate_strength)):
            raise ValueError(f"candidate_strength must be a positive number, got {self.candidate_strength}")

    @property
    def first_update(self) -> int:
        return 0

    def dependencies(self) -> dict[str, str]:
        return {f"proxy_{k}": f"{self.proxies}_{k}" for k in range(self.n_proxies)}

    def bind_runs(self, runs: Mapping[str, str]) -> None:
        super().bind_runs(runs)
        self._runs = dict(runs)

    def initial_weights(self, sizes: Mapping[str, int], seed: int = 0) -> Weights:
        if self.target is not None and self.target not in sizes:
            raise ValueError(f"target {self.target!r} is not a training dataset: {', '.join(sizes)}")
        self._names = list(sizes)
        self._sizes = dict(sizes)
        return dict.fromkeys(sizes, 1.0 / len(sizes))  # replaced at step 0, before any training step

    def proxy_results(self, probe: Probe) -> list[dict[str, Any]]:
        """Per proxy: its run, mixture and held-out loss per dataset (one proxy model in memory at a time)."""
        if len(self._runs) < self.n_proxies:
            raise UnboundRunsError("regmix: the proxy runs' folders were not bound (bind_runs)")
        held = {n: len(probe.validation[n]) for n in self._names}
        out = []
        for k in range(self.n_proxies):
            folder = self._runs[f"proxy_{k}"]
            if held_out_check(folder, held) is False:
                raise ValueError(f"regmix: proxy run {folder} trained on the examples this run holds out; give "
                                 f"the proxy mixtures validation_size: {self.validation_size}, as this one")
            model = probe.run_model(folder)
            losses = {n: probe.validation_loss(n, self.scope, model=model) for n in self._names}
            probe.forget_model(folder)
            out.append({"role": f"proxy_{k}", "run": str(folder),
                        "mixture": trained_mixture(Path(folder) / "trajectory.csv", self._names),
                        "losses": losses, "target": self.target_of(losses)})
        return out

    def target_of(self, losses: Mapping[str, float]) -> float:
        return float(losses[self.target]) if self.target else float(np.mean([losses[n] for n in self._names]))

    def fit(self, results: list[dict[str, Any]], sizes: Mapping[str, int]) -> tuple[Weights, dict[str, Any]]:
        """The regression over the proxies' (mixture, target) and the top-k mixture of the candidates."""
        from scipy.stats import spearmanr

        x = np.array([[r["mixture"][n] for n in self._names] for r in results], dtype=np.float64)
        y = np.array([r["target"] for r in results], dtype=np.float64)
        model = fit_regressor(x, y, self.regressor, self.search_seed)
        fitted = predict(model, x, self.regressor)
        prior = temperature_weights(sizes, self.candidate_tau)
        concentration = self.candidate_strength * np.array([prior[n] for n in self._names], dtype=np.float64)
        candidates = np.random.default_rng(self.search_seed).dirichlet(concentration, size=self.n_candidates)
        predicted = predict(model, candidates, self.regressor)
        chosen = top_k_mixture(candidates, predicted, self.top_k)
        weights = dict(zip(self._names, (float(w) for w in chosen / chosen.sum()), strict=True))
        ss_res, ss_tot = float(((y - fitted) ** 2).sum()), float(((y - y.mean()) ** 2).sum())
        rho = spearmanr(y, fitted).statistic if np.ptp(y) > 0 and np.ptp(fitted) > 0 else float("nan")
        fit = {"regressor": self.regressor, "n_proxies": len(results), "r2": 1 - ss_res / ss_tot if ss_tot else None,
               "spearman": None if math.isnan(rho) else float(rho),
               "predicted_target": float(predict(model, chosen[None], self.regressor)[0]),
               "best_proxy_target": float(y.min())}
        if self.regressor == "gbdt":
            fit["iterations"] = int(model.n_iter_)
        else:
            fit["coefficients"] = [float(c) for c in model.coef_]
        return weights, fit

    def update(self, step: int, probe: Probe) -> Update:
        if self._weights is None:
            results = self.proxy_results(probe)
            weights, fit = self.fit(results, self._sizes)
            self._weights = [weights[n] for n in self._names]
            self._report = {"proxies": results, "fit": fit, "target": self.target or "mean held-out loss",
                            "search": {"n_candidates": self.n_candidates, "top_k": self.top_k,
                                       "candidate_strength": self.candidate_strength,
                                       "candidate_tau": self.candidate_tau, "seed": self.search_seed},
                            "weights": weights, "step": step}
        return Update(dict(zip(self._names, self._weights, strict=True)), final=True)

    def report(self, step: int) -> dict[str, Any]:
        return self._report

    def state_dict(self) -> dict[str, Any]:
        return {"weights": self._weights, "report": self._report}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self._weights = None if state["weights"] is None else [float(w) for w in state["weights"]]
        self._report = dict(state["report"])

    @classmethod
    def contract_params(cls, sizes: Mapping[str, int]) -> dict[str, Any]:
        return {"n_proxies": 3, "regressor": "quadratic", "n_candidates": 2000, "top_k": 16}
