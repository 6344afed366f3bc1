"""MixMin (Thudi et al., ICML 2025, arXiv 2502.10510): one proxy model per source dataset, and the convex
combination of their predictive distributions that best fits target data, whose weights become the
mixture (static).

Proxies: a finished run per dataset trained on that dataset alone, of the same backbone and seed
(`proxies: {dataset: mixture}`, by default the transfer matrix's single-skill runs math_only,
medicine_only, general_only, nlp_only; dependency runs whose examples are counted as this method's
extra examples, run.json `budget`). The reference trains small proxies on a fraction of the data; the
transfer matrix's runs are full-budget ones, so the extra cost here is 4 runs' worth, reported.

Target data: the held-out examples of the `target` datasets (all of them by default: the mixture of
the training datasets' held-out sets, the same number per dataset), `validation_size` per dataset,
the fixed split of mos.training.loop.hold_out. The reference's target is a downstream task's
examples, which no proxy trained on; here a proxy that did not hold out the same examples (the
transfer matrix's runs hold out none) has trained on its own dataset's target examples, which favours
it on them: `require_held_out: true` refuses such proxies, false accepts them and the report says
which ones saw their targets.

The fit (reference: LLM_DataMixing/mixmin_gen.py), at step 0 before any training step: per target
example x and proxy i, log p_i(x) is the summed log-probability of x's `scope` tokens under the
proxy's model and |x| their number;

    f(λ) = −mean_x [ log Σ_i λ_i p_i(x) ] / |x|                   (a logsumexp weighted by λ)
    ∇_i  = −mean_x [ p_i(x) / Σ_j λ_j p_j(x) ] / |x|
    λ ← λ ⊙ exp(−lr ∇) / ⟨λ, exp(−lr ∇)⟩                          (exponentiated gradient, λ_0 uniform)

with lr 1.0, at most 100 steps, stopping after the step whose max|∇| < 1e-4; fitted on a random 80%
of the target examples (seeded here by the run's seed; the reference's split is unseeded), the
objective reported on the other 20% for λ and for each proxy alone. On the simplex ⟨λ, ∇⟩ =
−mean_x 1/|x|, so ∇ never vanishes and the stopping rule rarely fires: the reference's fit, like
this one, then runs its 100 steps.

    mixtures:
      mixmin: {strategy: mixmin, proxies: {Mathematics: math_only, Medicine: medicine_only,
               General: general_only, NLP: nlp_only}, require_held_out: false}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from scipy.special import logsumexp

from baselines.regmix import held_out_check
from mos.mixing.strategy import MixingStrategy, UnboundRunsError, Update, Weights

if TYPE_CHECKING:
    from mos.mixing.probe import Probe

SINGLE_SKILL_RUNS = {"Mathematics": "math_only", "Medicine": "medicine_only", "General": "general_only",
                     "NLP": "nlp_only"}


def objective(lam: np.ndarray, logp: np.ndarray, lengths: np.ndarray) -> float:
    """f(λ) = −mean_x [log Σ_i λ_i p_i(x)] / |x|; logp (K, n) summed log-probabilities, lengths (n,)."""
    return float(-np.mean(logsumexp(logp, axis=0, b=lam[:, None]) / lengths))


def gradient(lam: np.ndarray, logp: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """∇_i f(λ) = −mean_x [p_i(x) / Σ_j λ_j p_j(x)] / |x|."""
    mix = logsumexp(logp, axis=0, b=lam[:, None])
    return -np.mean(np.exp(logp - mix) / lengths, axis=1)


def exponentiated_gradient(logp: np.ndarray, lengths: np.ndarray, lr: float = 1.0, max_steps: int = 100,
                           tol: float = 1e-4) -> tuple[np.ndarray, int, np.ndarray]:
    """MixMin's fit from the uniform λ: (λ, steps taken, the gradient of the last step)."""
    lam = np.full(logp.shape[0], 1.0 / logp.shape[0])
    grad = np.zeros_like(lam)
    steps = 0
    while steps < max_steps:
        grad = gradient(lam, logp, lengths)
        moved = lam * np.exp(-lr * grad)
        lam = moved / moved.sum()
        steps += 1
        if not np.all(np.isfinite(lam)):
            raise FloatingPointError(f"mixmin: the weights left the simplex at step {steps} (gradient {grad})")
        if np.max(np.abs(grad)) < tol:
            break
    return lam, steps, grad


@dataclass
class MixMin(MixingStrategy):
    """MixMin: exponentiated gradient on the target log-likelihood of a mixture of per-dataset proxies; static."""

    name = "mixmin"
    update_every = 1                        # one update, at step 0 (first_update), then final
    proxies: dict[str, str] = field(default_factory=lambda: dict(SINGLE_SKILL_RUNS))  # dataset -> mixture
    target: list[str] | None = None         # datasets whose held-out examples are the target (None: all)
    lr: float = 1.0
    max_steps: int = 100
    tol: float = 1e-4
    fit_fraction: float = 0.8               # share of the target examples fitted on (the rest: reported)
    scope: Literal["training", "response", "sequence"] = "training"
    validation_size: int = 100              # held out per dataset: the target examples
    require_held_out: bool = True           # refuse proxies that trained on this run's held-out examples
    _runs: dict[str, str] = field(default_factory=dict, init=False, repr=False)
    _names: list[str] = field(default_factory=list, init=False, repr=False)
    _seed: int = field(default=0, init=False, repr=False)
    _weights: list[float] | None = field(default=None, init=False, repr=False)
    _report: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.proxies:
            raise ValueError("mixmin needs a proxy run per dataset (proxies: {dataset: mixture})")
        if not (self.lr > 0 and self.max_steps >= 1 and self.tol >= 0):
            raise ValueError(f"need lr > 0, max_steps >= 1, tol >= 0; got {self.lr}, {self.max_steps}, {self.tol}")
        if not 0 < self.fit_fraction <= 1:
            raise ValueError(f"fit_fraction must be in (0, 1], got {self.fit_fraction}")
        if self.validation_size < 1:
            raise ValueError(f"mixmin fits on held-out examples: validation_size must be >= 1, got {self.validation_size}")

    @property
    def first_update(self) -> int:
        return 0

    def dependencies(self) -> dict[str, str]:
        return dict(self.proxies)

    def dependency_datasets(self, role: str, datasets: Sequence[str]) -> list[str]:
        return [role]  # the proxy of a dataset trains on it alone

    def bind_runs(self, runs: Mapping[str, str]) -> None:
        super().bind_runs(runs)
        self._runs = dict(runs)

    def initial_weights(self, sizes: Mapping[str, int], seed: int = 0) -> Weights:
        missing, extra = sorted(set(sizes) - set(self.proxies)), sorted(set(self.proxies) - set(sizes))
        if missing or extra:
            raise ValueError(f"proxies must name one run per training dataset {list(sizes)}; missing {missing}, "
                             f"unknown {extra}")
        unknown = sorted(set(self.target or []) - set(sizes))
        if unknown:
            raise ValueError(f"target datasets {unknown} are not training datasets: {', '.join(sizes)}")
        self._names, self._seed = list(sizes), int(seed)
        return dict.fromkeys(sizes, 1.0 / len(sizes))  # replaced at step 0, before any training step

    def log_probabilities(self, probe: Probe) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
        """(K, n) summed log-probabilities of the n target examples under each proxy, their lengths (n,),
        and per proxy its run and whether it held out the targets (one proxy model in memory at a time)."""
        if set(self._runs) != set(self.proxies):
            raise UnboundRunsError("mixmin: the proxy runs' folders were not bound (bind_runs)")
        targets = self.target or self._names
        held = {n: len(probe.validation[n]) for n in self._names}
        rows, lengths, proxies = [], None, {}
        for name in self._names:
            folder = self._runs[name]
            held_out = held_out_check(folder, {t: held[t] for t in targets})
            if held_out is False and self.require_held_out:
                raise ValueError(f"mixmin: the {name} proxy {folder} trained on this run's held-out target examples; "
                                 f"hold out validation_size: {self.validation_size} there too, or set "
                                 "require_held_out: false")
            model = probe.run_model(folder)
            losses = [t for d in targets
                      for t in probe.token_losses(d, range(len(probe.validation[d])), "validation", self.scope, model)]
            probe.forget_model(folder)
            counts = np.array([t.numel() for t in losses], dtype=np.float64)
            if lengths is not None and not np.array_equal(counts, lengths):
                raise RuntimeError("mixmin: the proxies disagree on the target lengths")
            lengths = counts
            rows.append([-float(t.double().sum()) for t in losses])
            proxies[name] = {"run": str(folder), "held_out_targets": held_out}
        keep = lengths > 0  # an example without targets has no likelihood to fit
        return np.array(rows, dtype=np.float64)[:, keep], lengths[keep], proxies

    def fit(self, logp: np.ndarray, lengths: np.ndarray) -> tuple[Weights, dict[str, Any]]:
        n = logp.shape[1]
        split = np.random.default_rng(self._seed).choice(2, p=[1 - self.fit_fraction, self.fit_fraction], size=n)
        on = split == 1
        if not on.any():
            raise ValueError(f"mixmin: none of the {n} target examples fell in the fitted {self.fit_fraction:.0%}")
        lam, steps, grad = exponentiated_gradient(logp[:, on], lengths[on], self.lr, self.max_steps, self.tol)
        uniform = np.full(len(lam), 1.0 / len(lam))
        fit = {"examples_fitted": int(on.sum()), "examples_reported": int((~on).sum()), "steps": steps,
               "max_abs_gradient": float(np.max(np.abs(grad))),
               "objective_fitted": {"uniform": objective(uniform, logp[:, on], lengths[on]),
                                    "fitted": objective(lam, logp[:, on], lengths[on])}}
        if (~on).any():
            rest = logp[:, ~on], lengths[~on]
            fit["objective_reported"] = {"fitted": objective(lam, *rest),
                                         **{f"{name} alone": float(-np.mean(rest[0][i] / rest[1]))
                                            for i, name in enumerate(self._names)}}
        return dict(zip(self._names, (float(x) for x in lam), strict=True)), fit

    def update(self, step: int, probe: Probe) -> Update:
        if self._weights is None:
            logp, lengths, proxies = self.log_probabilities(probe)
            weights, fit = self.fit(logp, lengths)
            self._weights = [weights[n] for n in self._names]
            self._report = {"proxies": proxies, "targets": self.target or self._names, "scope": self.scope,
                            "fit": fit, "weights": weights, "step": step}
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
        return {"proxies": {n: f"{n.lower()}_only" for n in sizes}}
