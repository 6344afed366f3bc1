"""DoReMi (Xie et al., NeurIPS 2023, arXiv 2305.10429, §2 and Algorithm 1): domain weights moved by
exponentiated gradient toward the datasets where the current model's loss most exceeds a
reference model's.

The reference model is a finished run of the same backbone and seed (default: the UNI. mixture,
`reference: uniform`), a dependency in the workflow's DAG: the job spec gets its folder under
`runs.reference` and the probe loads its model once. At every update, for each dataset i, a fresh
probe mini-batch B_i of `examples` examples (uniform over datasets, as Algorithm 1 draws the
proxy's batch) gives the per-domain excess loss on response tokens:

    λ_i = (1 / Σ_{x∈B_i} |x|) Σ_{x∈B_i} Σ_j max(ℓ_θ,j(x) - ℓ_ref,j(x), 0)
    α' = α ⊙ exp(η λ),   α ← (1 - c) α' / Σ α' + c / k         (η = 1, c = 1e-3; α_0 uniform)

Two variants, two strategies of this file:

    doremi             online: α is the main model's sampling distribution as it trains (what
                       DataFlex's DoReMi mixer does); every `update_every` steps (Algorithm 1
                       updates every proxy step; each update costs 2 x k x `examples` forwards)
    doremi_two_stage   the paper's: the averaged weights ᾱ = 1/T Σ_t α_t of a finished online
                       DoReMi run (`proxy: doremi`, a second dependency) used as a static mixture.
                       The paper's proxy is a smaller model trained on the α-weighted loss; here
                       the proxy is the online run of the same backbone, trained by sampling.

Budgets (run.json `budget`): the runs a DoReMi run reads are extra training it costs, reported
as `extra_training_examples` with each `dependency_runs` entry (for the two-stage variant, the
proxy run and, through it, the reference run). The reference UNI. run is one the grid trains
anyway; the extra cost is counted, not hidden.

    mixtures:
      doremi: {strategy: doremi, reference: uniform}
      doremi_two_stage: {strategy: doremi_two_stage, proxy: doremi}
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import torch

from mos.mixing.strategy import MixingStrategy, UnboundRunsError, Update, Weights, temperature_weights

if TYPE_CHECKING:
    from mos.mixing.probe import Probe


def excess_loss(current: list[torch.Tensor], reference: list[torch.Tensor]) -> float:
    """λ: per-token excess loss clipped at 0, summed over the examples' tokens, over their count."""
    clipped = sum(float(torch.clamp(c.double() - r.double(), min=0).sum()) for c, r in zip(current, reference, strict=True))
    tokens = sum(c.numel() for c in current)
    return clipped / max(1, tokens)


def exponentiated_gradient(alpha: list[float], lam: list[float], eta: float, smoothing: float) -> list[float]:
    """α' = α exp(η λ), normalised, then mixed with the uniform distribution: (1 - c) α' + c / k."""
    log = torch.log(torch.tensor(alpha, dtype=torch.float64)) + eta * torch.tensor(lam, dtype=torch.float64)
    new = torch.softmax(log, dim=0)
    return [float((1.0 - smoothing) * a + smoothing / len(alpha)) for a in new]


@dataclass
class DoReMi(MixingStrategy):
    """DoReMi, online: exponentiated gradient on the excess loss over a reference run's model."""

    name = "doremi"
    reference: str = "uniform"              # mixture label of the reference run (same backbone, seed)
    update_every: int = 10
    examples: int = 8                       # probe examples per dataset per update
    eta: float = 1.0                        # step size η (the paper: 1)
    smoothing: float = 1e-3                 # c (the paper: 1e-3)
    scope: Literal["response", "training", "sequence"] = "response"
    prior_tau: float = math.inf             # α_0 (the paper: uniform)
    _names: list[str] = field(default_factory=list, init=False, repr=False)
    _alpha: list[float] = field(default_factory=list, init=False, repr=False)
    _alpha_sum: list[float] = field(default_factory=list, init=False, repr=False)
    _updates: int = field(default=0, init=False, repr=False)
    _runs: dict[str, str] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.update_every < 1 or self.examples < 1:
            raise ValueError(f"update_every and examples must be >= 1, got {self.update_every}, {self.examples}")
        if not 0 <= self.smoothing < 1 or not self.eta > 0:
            raise ValueError(f"smoothing must be in [0, 1) and eta > 0, got {self.smoothing}, {self.eta}")
        if not self.reference:
            raise ValueError("doremi needs a reference mixture (e.g. reference: uniform)")

    def dependencies(self) -> dict[str, str]:
        return {"reference": self.reference}

    def bind_runs(self, runs: Mapping[str, str]) -> None:
        super().bind_runs(runs)
        self._runs = dict(runs)

    def initial_weights(self, sizes: Mapping[str, int], seed: int = 0) -> Weights:
        self._names = list(sizes)
        self._alpha = list(temperature_weights(sizes, self.prior_tau).values())
        self._alpha_sum, self._updates = [0.0] * len(sizes), 0
        return dict(zip(self._names, self._alpha, strict=True))

    def excess_losses(self, probe: Probe) -> dict[str, float]:
        if "reference" not in self._runs:
            raise UnboundRunsError("doremi: the reference run's folder was not bound (bind_runs)")
        ref_model = probe.run_model(self._runs["reference"])
        out = {}
        for n in self._names:
            idx = probe.sample(n, self.examples)
            out[n] = excess_loss(probe.token_losses(n, idx, scope=self.scope),
                                 probe.token_losses(n, idx, scope=self.scope, model=ref_model))
        return out

    def update(self, step: int, probe: Probe) -> Update:
        lam = self.excess_losses(probe)
        self._alpha = exponentiated_gradient(self._alpha, [lam[n] for n in self._names], self.eta, self.smoothing)
        self._alpha_sum = [s + a for s, a in zip(self._alpha_sum, self._alpha, strict=True)]
        self._updates += 1
        return Update(dict(zip(self._names, self._alpha, strict=True)), reward=lam)

    def average_weights(self) -> dict[str, float] | None:
        """ᾱ = 1/T Σ_t α_t over the T updates so far (None before the first)."""
        if not self._updates:
            return None
        return {n: s / self._updates for n, s in zip(self._names, self._alpha_sum, strict=True)}

    def report(self, step: int) -> dict[str, Any]:
        return {"updates": self._updates, "average_weights": self.average_weights()}

    def state_dict(self) -> dict[str, Any]:
        return {"alpha": list(self._alpha), "alpha_sum": list(self._alpha_sum), "updates": self._updates}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self._alpha = [float(x) for x in state["alpha"]]
        self._alpha_sum = [float(x) for x in state["alpha_sum"]]
        self._updates = int(state["updates"])


def averaged_trajectory_weights(path: Path, names: list[str]) -> tuple[dict[str, float], int]:
    """ᾱ from a run's trajectory.csv: the mean over its updates (the rows that carry a reward) of the
    weights they set, i.e. 1/T Σ_t α_t; also returns T."""
    by_step: dict[int, dict[str, float]] = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if row["reward"] != "":
                by_step.setdefault(int(row["step"]), {})[row["dataset"]] = float(row["weight"])
    if not by_step:
        raise ValueError(f"{path}: no strategy updates (rows with a reward); is it a dynamic DoReMi run?")
    for step, weights in by_step.items():
        if set(weights) != set(names):
            raise ValueError(f"{path}: step {step} has datasets {sorted(weights)}, this run trains on {sorted(names)}")
    return {n: sum(w[n] for w in by_step.values()) / len(by_step) for n in names}, len(by_step)


@dataclass
class DoReMiTwoStage(MixingStrategy):
    """DoReMi, the paper's two stages: a static mixture of the averaged weights of an online run."""

    name = "doremi_two_stage"
    proxy: str = "doremi"                   # mixture label of the online DoReMi run (same backbone, seed)
    _runs: dict[str, str] = field(default_factory=dict, init=False, repr=False)
    _average: dict[str, float] | None = field(default=None, init=False, repr=False)
    _proxy_updates: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.proxy:
            raise ValueError("doremi_two_stage needs the proxy mixture (an online doremi run)")

    def dependencies(self) -> dict[str, str]:
        return {"proxy": self.proxy}

    def bind_runs(self, runs: Mapping[str, str]) -> None:
        super().bind_runs(runs)
        self._runs = dict(runs)

    def initial_weights(self, sizes: Mapping[str, int], seed: int = 0) -> Weights:
        if "proxy" not in self._runs:
            raise UnboundRunsError("doremi_two_stage reads its proxy run's trajectory: bind_runs was not called")
        self._average, self._proxy_updates = averaged_trajectory_weights(
            Path(self._runs["proxy"]) / "trajectory.csv", list(sizes))
        return dict(self._average)

    def report(self, step: int) -> dict[str, Any]:
        return {"proxy_run": self._runs.get("proxy"), "proxy_updates": self._proxy_updates,
                "average_weights": self._average}
