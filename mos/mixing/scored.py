"""Shared machinery of the learned-scorer strategies (MoS, MoSpec, MultiDDS, MultiUAT): a scorer
fitted to a prior q_τ, one reward per dataset every `update_every` steps, an optional EMA, and a
policy-gradient update of the scorer (mos.mixing.scorer). A subclass only says how rewards are computed.

Each update also times its two phases, the rewards (the probe's forward and backward passes) and the
scorer's update, in wall seconds; `report()` gives the sums (run.json `strategy_report.phase_seconds`,
this process's updates since it started: a resumed run counts those after the resume). The overhead
benchmark reads them there instead of wrapping the methods.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from mos.mixing import rewards as R
from mos.mixing.scorer import ScorerPolicy
from mos.mixing.strategy import MixingStrategy, Update, Weights, temperature_weights

if TYPE_CHECKING:
    from mos.mixing.probe import Probe


@dataclass
class ScoredStrategy(MixingStrategy):
    """Base class: fields are the scorer settings every learned strategy shares."""

    prior_tau: float = math.inf             # the scorer starts at q_tau
    update_every: int = 100                 # S: optimizer steps between scorer updates
    scorer: Literal["logits", "mlp"] = "logits"
    scorer_init: float = 1.0                # initial logits of the "logits" scorer (MoS: 1, MultiDDS: 0)
    mlp_hidden: int = 32
    update_rule: Literal["adam", "reinforce"] = "adam"
    inner_steps: int = 200                  # Adam steps per update (the code, from MultiDDS)
    scorer_lr: float = 1e-4                 # learning rate of ψ
    prior_tol: float = 1e-10                # MSE tolerance of the prior fit (the code)
    prior_fit: Literal["code", "check_first"] = "code"  # step order of the prior fit (scorer.PRIOR_FITS)
    ema: bool = False
    ema_beta: float = 0.9                   # weight of the current reward (Eq. 11)
    _policy: ScorerPolicy | None = field(default=None, init=False, repr=False)
    _smoothed: dict[str, float] | None = field(default=None, init=False, repr=False)
    _phase_seconds: dict[str, float] = field(default_factory=lambda: {"rewards": 0.0, "scorer": 0.0},
                                             init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.update_every < 1:
            raise ValueError(f"update_every must be >= 1, got {self.update_every}")
        if not 0 <= self.ema_beta <= 1:
            raise ValueError(f"ema_beta must be in [0, 1], got {self.ema_beta}")
        if not self.prior_tau > 0:
            raise ValueError(f"prior_tau must be > 0 (inf for uniform), got {self.prior_tau}")

    def rewards(self, probe: Probe) -> dict[str, float]:
        """One raw reward per dataset (higher = sample more)."""
        raise NotImplementedError

    def initial_weights(self, sizes: Mapping[str, int], seed: int = 0) -> Weights:
        self._policy = ScorerPolicy(list(sizes), self.scorer, self.scorer_lr, self.update_rule, self.inner_steps,
                                    init=self.scorer_init, hidden=self.mlp_hidden, seed=seed)
        self._policy.fit_prior(temperature_weights(sizes, self.prior_tau), tol=self.prior_tol,
                               order=self.prior_fit)
        self._smoothed = None
        return self._policy.probabilities()

    def update(self, step: int, probe: Probe) -> Update:
        began = time.perf_counter()
        raw = self.rewards(probe)
        rewarded = time.perf_counter()
        used = raw
        if self.ema:
            self._smoothed = used = R.ema(self._smoothed, raw, self.ema_beta)
        weights = self._policy.update(used)
        self._phase_seconds["rewards"] += rewarded - began
        self._phase_seconds["scorer"] += time.perf_counter() - rewarded
        return Update(weights, reward=raw, smoothed_reward=used if self.ema else None)

    def report(self, step: int) -> dict[str, Any]:
        """The wall seconds this process spent in the rewards and in the scorer's updates."""
        return {"phase_seconds": {k: round(v, 6) for k, v in self._phase_seconds.items()}}

    def state_dict(self) -> dict[str, Any]:
        return {"policy": self._policy.state_dict() if self._policy else None, "smoothed": self._smoothed}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if state.get("policy") is not None:
            self._policy.load_state_dict(state["policy"])
        self._smoothed = state.get("smoothed")
