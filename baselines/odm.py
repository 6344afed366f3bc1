"""ODM, online data mixing (Albalak, Pan, Raffel, Wang 2023, arXiv 2312.02406): a multi-armed bandit
whose arms are the datasets and whose reward is the training loss of the batches it drew, so it
costs no extra forward or backward pass (the loop records the losses: `needs_train_losses`).

Default: what the authors' released code runs. The repository's README names
`SmoothedMeanWeightUpdater` as "the data mixing implementation described in the paper"
(alon-albalak/online-data-mixing at edbfdad, megatron/data/data_sampling_utils.py:455-528); its
scripts run it through `group_update` (`--mixed_minibatches true`, scripts/train_1B_ema.sh), the only
path that can build it. At an update after t optimizer steps, with K datasets and ℓ_i the mean token
loss of dataset i's examples among those drawn since the last update (n_i of n):

    R̂_i ← s R̂_i + (1 - s) exp(ℓ_i)                 (only arms drawn; R̂ starts at 0; s = alpha = 0.9)
    ε_t = min{1/K, sqrt(ln K / (K t))}               (t the global step, warm-up included)
    π_t(i) = (1 - K ε_t) R̂_i / Σ_j R̂_j + ε_t         (linear in R̂; no importance weight 1/π)

For the first `warmup_steps` steps the policy is held at the prior q_τ and nothing is learned (the
code trains its first 2,000 of ~100,000 steps on the natural mixture, τ = 1). A step with no arm
estimated yet leaves the linear part uniform (the code would divide by zero).

Variants (every difference is a parameter):

    reward_transform   exp (code) | loss                  what is smoothed: exp(ℓ) or ℓ
    importance_weight  none (code) | draw_share | pulled_arm
                       draw_share: r̂ = s_r ℓ (n_i / n) / π(i), the bandit's importance weight per example
                       drawn (paper Alg. 1 as FIELD.md reads it; E[n_i / (n π(i))] = 1);
                       pulled_arm: r̂ = s_r ℓ / π(i) for every drawn arm (Exp3WeightUpdater.group_update)
    policy             linear (code) | exponential: (1 - K ε_t) softmax(ε_{t-1} R̂)_i + ε_t (EXP3)
    estimator          moving_average (code) | cumulative: R̂_i += r̂_i
    alpha              0.9: the class default, train_1B_ema.sh; four of the released scripts pass 0.5
                       (train_1B_ema_0.5smoothing.sh and its 150B-token, seqlen-2048 and 3B siblings)
    reward_scale s_r   1; the Exp3 class divides the loss by 10 (0.1)
    warmup_steps       12 = 2% of our 600 steps, as the code's 2,000 of 100,000
    prior_tau          1: the policy before the first update is proportional to dataset size
    min_epsilon / fixed_epsilon   a floor on ε_t / a constant ε (DataFlex's 0.03; fms-acceleration)

Parameter by parameter (paper: FIELD.md §3.2's reading of Algorithm 1; the paper's text could not be
read here, so that column is secondary; code: the README-named class at edbfdad):

    parameter            paper (Alg. 1)       released code                       ours (default)
    reward               ℓ                    exp(ℓ) (:511)                       exp(ℓ)
    importance weight    1/π                  none                                none
    policy               exponential (EXP3)   linear R̂/ΣR̂ (:515-521)              linear
    estimator, s         moving average 0.9   moving average 0.9 (0.5 in 4 scripts)  moving average 0.9
    ε_t                  min{1/K, √(lnK/Kt)}  same, t global (:503-504)           same, t global
    warm-up              on the prior         2,000 of ~100k steps, natural mix   12 of 600 steps, τ = 1
    update interval      every step           every step                          every step
    unit of a pull       one batch            one micro-batch (one dataset)       per example (train.sampling_unit)

With per-example draws (the default unit) every dataset in the batch is pulled; its reward is the
token-mean loss of its examples in the step, as the code's mean over its micro-batches. Rewards are
logged as ℓ_i, the smoothed reward as R̂_i.

    mixtures:
      odm: {strategy: odm}                                                       # the released code
      odm_s05: {strategy: odm, alpha: 0.5}                                       # its 0.5-smoothing scripts
      odm_alg1: {strategy: odm, reward_transform: loss, importance_weight: draw_share,
                 policy: exponential, warmup_steps: 0, prior_tau: .inf}          # Alg. 1 as FIELD.md reads it
      odm_exp3: {strategy: odm, estimator: cumulative, reward_transform: loss, reward_scale: 0.1,
                 importance_weight: pulled_arm, policy: exponential, warmup_steps: 0, prior_tau: .inf}
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


def linear_policy(rewards: list[float], eps: float) -> list[float]:
    """π(i) = (1 - K ε) R̂_i / Σ_j R̂_j + ε (uniform linear part while no estimate is positive)."""
    k, total = len(rewards), sum(rewards)
    share = [r / total for r in rewards] if total > 0 else [1.0 / k] * k
    return [(1.0 - k * eps) * x + eps for x in share]


@dataclass
class ODM(MixingStrategy):
    """ODM: a bandit over datasets rewarded by the training loss of the batches it drew."""

    name = "odm"
    needs_train_losses = True
    update_every: int = 1                    # the paper and the code update after every step
    estimator: Literal["moving_average", "cumulative"] = "moving_average"
    alpha: float = 0.9                       # smoothing s: moving-average weight of the previous estimate
    reward_transform: Literal["exp", "loss"] = "exp"
    importance_weight: Literal["none", "draw_share", "pulled_arm"] = "none"
    policy: Literal["linear", "exponential"] = "linear"
    reward_scale: float = 1.0
    min_epsilon: float = 0.0
    fixed_epsilon: float | None = None       # a constant ε instead of the schedule (fms-acceleration)
    warmup_steps: int = 12                   # 2% of 600 steps (the code: 2,000 of ~100,000)
    prior_tau: float = 1.0                   # the policy before the first update (the code: natural mixture)
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

    def reward(self, loss: float, drawn: float, total: float, pi: float) -> float:
        """r̂ of one pulled arm: the (transformed, scaled) loss times its importance weight."""
        r = self.reward_scale * (math.exp(loss) if self.reward_transform == "exp" else loss)
        if self.importance_weight == "draw_share":
            return r * (drawn / total) / pi
        return r / pi if self.importance_weight == "pulled_arm" else r

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
            r_hat = self.reward(loss[n], stats[n]["examples"], drawn, self._policy[i])
            if self.estimator == "cumulative":
                self._estimates[i] += r_hat
            else:
                self._estimates[i] = self.alpha * self._estimates[i] + (1.0 - self.alpha) * r_hat
        eps_prev, self._eps = self._eps, self.epsilon(step)
        if self.policy == "linear":
            self._policy = linear_policy(self._estimates, self._eps)
        else:
            self._policy = exp3_policy(self._estimates, eps_prev, self._eps)
        return Update(dict(zip(self._names, self._policy, strict=True)), reward=loss,
                      smoothed_reward=dict(zip(self._names, self._estimates, strict=True)))

    def state_dict(self) -> dict[str, Any]:
        return {"estimates": list(self._estimates), "policy": list(self._policy), "eps": self._eps}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self._estimates = [float(x) for x in state["estimates"]]
        self._policy = [float(x) for x in state["policy"]]
        self._eps = float(state["eps"])
