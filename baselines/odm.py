"""ODM, online data mixing (Albalak, Pan, Raffel, Wang 2023, arXiv 2312.02406, Algorithm 1): an
EXP3 bandit whose arms are the datasets and whose reward is the training loss of the batches it
drew, so it costs no extra forward or backward pass (the loop records the losses: `needs_train_losses`).

At an update after t optimizer steps, with K datasets, π the policy the batches were drawn under,
and ℓ_i the mean token loss of dataset i's examples among the n drawn since the last update
(n_i of them):

    r̂_i = s · ℓ_i · (n_i / n) / π(i)                         importance-weighted reward, scale s
    R̂_i ← α R̂_i + (1 - α) r̂_i      (estimator: moving_average, only arms drawn; the paper)
    R̂_i ← R̂_i + r̂_i                 (estimator: cumulative)
    ε_t = min{1/K, sqrt(ln K / (K t))}                       exploration (floored at min_epsilon)
    π_t(i) = (1 - K ε_t) exp(ε_{t-1} R̂_i) / Σ_j exp(ε_{t-1} R̂_j) + ε_t

With one dataset per step (train.sampling_unit: batch) and an update every step this is the
paper's Algorithm 1 exactly (n_i / n is 1 for the pulled arm, 0 for the others); with a dataset
drawn per example (the default unit), every dataset in the batch is an arm pulled n_i times and
n_i / (n π(i)) is its importance weight, whose expectation is 1. During the first `warmup_steps`
steps the policy stays at the prior q_τ and nothing is learned. Rewards are logged as ℓ_i, the
smoothed reward as R̂_i.

The three public implementations differ (FIELD.md §3.2); each difference is a parameter:

    setting                                         paper (default)   megatron code      DataFlex odm_mixer
    estimator                                       moving_average    cumulative         moving_average
    alpha (moving average)                          0.9               -                  0.9
    reward_scale s                                  1                 0.1 (loss / 10)    15
    min_epsilon (floor on ε_t)                      0                 0                  0.03
    warmup_steps (policy held at the prior)         0                 (its warm-up)      (its warm-up)

`alon-albalak/online-data-mixing` `Exp3WeightUpdater` is the megatron code; DataFlex's values are
those FIELD.md §3.2 records. The fms-acceleration plugin uses a fixed exploration rate γ and step
size η instead of the schedule: `fixed_epsilon: ε` holds ε_t = ε at every update (its γ is K ε;
its separate η has no counterpart here, the exponent's scale is ε as in the paper).

    mixtures:
      odm: {strategy: odm}                                    # the paper
      odm_megatron: {strategy: odm, estimator: cumulative, reward_scale: 0.1}
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import torch

from mos.mixing.strategy import MixingStrategy, Update, Weights, temperature_weights

if TYPE_CHECKING:
    from mos.mixing.probe import Probe


def exp3_policy(rewards: list[float], eps_prev: float, eps: float) -> list[float]:
    """π(i) = (1 - K ε) softmax(ε_prev R̂)_i + ε (a stable softmax: R̂ may grow large)."""
    k = len(rewards)
    soft = torch.softmax(torch.tensor(rewards, dtype=torch.float64) * eps_prev, dim=0)
    return [(1.0 - k * eps) * float(x) + eps for x in soft]


@dataclass
class ODM(MixingStrategy):
    """ODM: an EXP3 bandit over datasets rewarded by the training loss of the batches it drew."""

    name = "odm"
    needs_train_losses = True
    update_every: int = 1                    # the paper updates after every step
    estimator: Literal["moving_average", "cumulative"] = "moving_average"
    alpha: float = 0.9                       # moving-average weight of the previous estimate
    reward_scale: float = 1.0
    min_epsilon: float = 0.0
    fixed_epsilon: float | None = None       # a constant ε instead of the schedule (fms-acceleration)
    warmup_steps: int = 0
    prior_tau: float = math.inf              # the policy before the first update (uniform)
    _names: list[str] = field(default_factory=list, init=False, repr=False)
    _estimates: list[float] = field(default_factory=list, init=False, repr=False)
    _policy: list[float] = field(default_factory=list, init=False, repr=False)
    _eps: float = field(default=0.0, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.update_every < 1:
            raise ValueError(f"update_every must be >= 1, got {self.update_every}")
        if not 0 <= self.alpha < 1:
            raise ValueError(f"alpha must be in [0, 1), got {self.alpha}")
        if not self.reward_scale > 0:
            raise ValueError(f"reward_scale must be > 0, got {self.reward_scale}")
        if self.min_epsilon < 0 or (self.fixed_epsilon is not None and not self.fixed_epsilon > 0):
            raise ValueError("min_epsilon must be >= 0 and fixed_epsilon > 0")
        if self.warmup_steps < 0:
            raise ValueError(f"warmup_steps must be >= 0, got {self.warmup_steps}")

    def initial_weights(self, sizes: Mapping[str, int], seed: int = 0) -> Weights:
        k = len(sizes)
        for what, eps in (("min_epsilon", self.min_epsilon), ("fixed_epsilon", self.fixed_epsilon or 0.0)):
            if eps > 1.0 / k:
                raise ValueError(f"{what} {eps} is more than 1/K = {1 / k:.4g} for {k} datasets")
        self._names = list(sizes)
        self._estimates = [0.0] * k
        self._policy = list(temperature_weights(sizes, self.prior_tau).values())
        self._eps = self.fixed_epsilon or 1.0 / k  # ε_0 = 1/K
        return dict(zip(self._names, self._policy, strict=True))

    def epsilon(self, t: int) -> float:
        """ε_t = min{1/K, sqrt(ln K / (K t))}, floored at min_epsilon (or fixed_epsilon)."""
        if self.fixed_epsilon is not None:
            return self.fixed_epsilon
        k = len(self._names)
        return max(self.min_epsilon, min(1.0 / k, math.sqrt(math.log(k) / (k * max(1, t)))))

    def update(self, step: int, probe: Probe) -> Update:
        stats = probe.train_losses()
        weights = dict(zip(self._names, self._policy, strict=True))
        if step <= self.warmup_steps:
            return Update(weights)
        drawn = sum(stats[n]["examples"] for n in self._names)
        loss = {n: stats[n]["loss_sum"] / stats[n]["tokens"] if stats[n]["tokens"] else None for n in self._names}
        for i, n in enumerate(self._names):
            if not stats[n]["examples"] or loss[n] is None:
                continue  # an arm not pulled: its estimate is unchanged (its reward estimate is 0)
            r_hat = self.reward_scale * loss[n] * (stats[n]["examples"] / drawn) / self._policy[i]
            if self.estimator == "cumulative":
                self._estimates[i] += r_hat
            else:
                self._estimates[i] = self.alpha * self._estimates[i] + (1.0 - self.alpha) * r_hat
        eps_prev, self._eps = self._eps, self.epsilon(step)
        self._policy = exp3_policy(self._estimates, eps_prev, self._eps)
        return Update(dict(zip(self._names, self._policy, strict=True)), reward=loss,
                      smoothed_reward=dict(zip(self._names, self._estimates, strict=True)))

    def state_dict(self) -> dict[str, Any]:
        return {"estimates": list(self._estimates), "policy": list(self._policy), "eps": self._eps}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self._estimates = [float(x) for x in state["estimates"]]
        self._policy = [float(x) for x in state["policy"]]
        self._eps = float(state["eps"])
