"""DynamixSFT (Shin et al., Findings of ACL 2026, arXiv 2508.12116, §4.1-4.2, Eqs. 2-5): a Boltzmann
policy anchored to the size prior, rewarded by how much one step on a dataset lowers its loss.

    p_k = (1 - γ) exp(β Q_k) p⁽⁰⁾_k / Σ_j exp(β Q_j) p⁽⁰⁾_j + γ / K        (p⁽⁰⁾: size-proportional, kept)
    r_k = mean_x (L_pre(x) - L_post(x)) / (L_pre(x) + ε)                    on a mini-batch of dataset k
    r̃ = (r - min r) / (max r - min r)                                       min-max across datasets
    Q_k ← α Q_k + (1 - α) r̃_k                                              (Q starts at 0, so p starts
                                                                            at (1 - γ) p⁽⁰⁾ + γ / K)

with the paper's γ = 0.3, α = 0.95, β = 4 (its 1B models; 5 for 8B). L(x) is an example's mean
token loss on its training targets. The paper contradicts itself on the reward's cost (§4.2's
virtual update vs §8's "forward-only", +12.7%), so both are here:

    reward: lookahead   (§4.2) for each dataset k, a fresh mini-batch of `examples`: L_pre, then
                        one virtual step on that mini-batch, L_post after it, parameters restored
                        bit for bit (mos.mixing.probe.Probe.lookahead). Cost per update: K x
                        (forward + backward + forward) on `examples` examples.
    reward: probe_drop  forward-only: a fixed probe mini-batch per dataset (drawn once), L_pre =
                        its losses at the previous update, L_post = its losses now: r_k is the
                        relative loss drop on dataset k caused by the training steps in between
                        (on the current mixture), the same formula. Cost per update: K forwards
                        on `examples` examples; a baseline measurement at step 0 (first_update 0).

The look-ahead's step (`lookahead_step`). The paper's "1-step look-ahead" reflects "how much the
dataset contributes to improving the model's performance at its current state" (abstract); no code
is public and its §4.2 could not be read here, so which optimizer the virtual step uses is NOT
verified. A look-ahead of one training step means a step of the optimizer that trains the model,
here AdamW:
    adam (default)  the run's AdamW step from the optimizer's current moments, read without changing
                    them (m' = β1 m + (1-β1) g, v' = β2 v + (1-β2) g², bias-corrected at t + 1,
                    decoupled weight decay; Probe.lookahead(step="adam")). Each coordinate moves by
                    about lr, so r_k measures how far a step of fixed size lowers dataset k's loss.
    sgd             θ' = θ - lr ∇L: to first order r_k ≈ lr ‖∇L_k‖² / L_k, a gradient-norm reward that
                    favours datasets with short responses (REVIEW M1: NLP's mean reward 0.0090 against
                    0.0019-0.0033, final NLP weight 0.74), the earlier default (`dynamixsft_sgd`).
The learning rate is the run's current one (`lookahead_lr` overrides it); neither step clips the
mini-batch gradient (the training step clips the whole batch's at grad_clip).

Schedule. The paper updates every T = 50 steps of batch 128 over 2 epochs of its Tülu mixtures,
i.e. on the order of 100 updates per run, and α = 0.95 averages over ~20 updates (1 - 0.95^20 =
64% of the weight on the last 20). What shapes the trajectory is the number of updates relative
to that horizon, so on a 600-step budget we keep it rather than T: `update_every: 10` gives 59
updates (Q holds 1 - 0.95^59 = 95% reward weight by the end; every 50 steps would give 11 updates
and only 43%, a policy that barely leaves p⁽⁰⁾). The mini-batch per dataset is 8 examples, half
our batch of 16 (the paper does not give its size).

Parameter by parameter (paper: FIELD.md §3.3, a secondary reading, not verified here; no released code):

    parameter          paper (FIELD.md)          released code   ours (default)
    γ                  0.3                       none public     0.3
    α                  0.95                      none public     0.95
    β                  4 (1B), 5 (8B)            none public     4
    p⁽⁰⁾               size-proportional         none public     τ = 1
    T (update_every)   50 steps of batch 128     none public     10 of 600 steps (above)
    mini-batch         not given                 none public     8 per dataset
    virtual step       "one-step update"         none public     AdamW from the run's moments (sgd: variant)
    look-ahead lr      the training lr (1e-5)    none public     the run's current lr
    ε in r             small                     none public     1e-8
    normalisation      min-max across datasets   none public     min-max
    loss scope         the trained tokens        none public     training targets

    mixtures:
      dynamixsft: {strategy: dynamixsft}
      dynamixsft_sgd: {strategy: dynamixsft, lookahead_step: sgd}
      dynamixsft_fwd: {strategy: dynamixsft, reward: probe_drop}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import torch

from mos.mixing.strategy import MixingStrategy, Update, Weights, temperature_weights

if TYPE_CHECKING:
    from mos.mixing.probe import Probe


def boltzmann_policy(q: list[float], prior: list[float], beta: float, gamma: float) -> list[float]:
    """p_k = (1 - γ) exp(β Q_k) p0_k / Σ_j exp(β Q_j) p0_j + γ / K (computed as a softmax of logs)."""
    logits = beta * torch.tensor(q, dtype=torch.float64) + torch.log(torch.tensor(prior, dtype=torch.float64))
    soft = torch.softmax(logits, dim=0)
    return [float((1.0 - gamma) * s + gamma / len(q)) for s in soft]


def relative_drop(pre: torch.Tensor, post: torch.Tensor, eps: float) -> float:
    """r = mean_x (L_pre(x) - L_post(x)) / (L_pre(x) + ε)."""
    return float(((pre.double() - post.double()) / (pre.double() + eps)).mean())


def min_max(values: list[float]) -> list[float]:
    """Scale to [0, 1] across datasets; all equal gives all 0 (Q then decays uniformly, p is unchanged)."""
    lo, hi = min(values), max(values)
    return [0.0] * len(values) if hi == lo else [(v - lo) / (hi - lo) for v in values]


@dataclass
class DynamixSFT(MixingStrategy):
    """DynamixSFT: a prior-anchored Boltzmann policy rewarded by one-step look-ahead loss drops."""

    name = "dynamixsft"
    reward: Literal["lookahead", "probe_drop"] = "lookahead"
    lookahead_step: Literal["adam", "sgd"] = "adam"   # the virtual step: the run's AdamW step, or plain SGD
    update_every: int = 10                  # the paper: 50 (see the module docstring for the scaling)
    gamma: float = 0.3
    alpha: float = 0.95
    beta: float = 4.0
    prior_tau: float = 1.0                  # p⁽⁰⁾: proportional to dataset size
    examples: int = 8                       # mini-batch per dataset
    lookahead_lr: float | None = None       # None: the run's current learning rate
    scope: Literal["training", "response", "sequence"] = "training"
    epsilon: float = 1e-8
    _names: list[str] = field(default_factory=list, init=False, repr=False)
    _prior: list[float] = field(default_factory=list, init=False, repr=False)
    _q: list[float] = field(default_factory=list, init=False, repr=False)
    _probe_idx: dict[str, list[int]] = field(default_factory=dict, init=False, repr=False)
    _previous: dict[str, list[float]] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.update_every < 1 or self.examples < 1:
            raise ValueError(f"update_every and examples must be >= 1, got {self.update_every}, {self.examples}")
        if not (0 <= self.gamma <= 1 and 0 <= self.alpha < 1):
            raise ValueError(f"gamma must be in [0, 1] and alpha in [0, 1), got {self.gamma}, {self.alpha}")
        if self.lookahead_lr is not None and not self.lookahead_lr > 0:
            raise ValueError(f"lookahead_lr must be > 0, got {self.lookahead_lr}")

    @property
    def first_update(self) -> int:
        return 0 if self.reward == "probe_drop" else self.update_every

    def policy(self) -> Weights:
        return dict(zip(self._names, boltzmann_policy(self._q, self._prior, self.beta, self.gamma), strict=True))

    def initial_weights(self, sizes: Mapping[str, int], seed: int = 0) -> Weights:
        self._names = list(sizes)
        self._prior = list(temperature_weights(sizes, self.prior_tau).values())
        self._q, self._probe_idx, self._previous = [0.0] * len(sizes), {}, None
        return self.policy()

    def rewards(self, probe: Probe) -> dict[str, float] | None:
        """r_k per dataset, or None at the forward-only variant's first (baseline) measurement."""
        if self.reward == "lookahead":
            lr = self.lookahead_lr if self.lookahead_lr is not None else probe.learning_rate
            if not lr:
                raise ValueError("dynamixsft: no learning rate for the look-ahead step (set lookahead_lr)")
            out = {}
            for n in self._names:
                pre, post = probe.lookahead(n, probe.sample(n, self.examples), lr, self.scope, self.lookahead_step)
                out[n] = relative_drop(pre, post, self.epsilon)
            return out
        if not self._probe_idx:
            self._probe_idx = {n: probe.sample(n, self.examples) for n in self._names}
        now = {n: probe.example_losses(n, self._probe_idx[n], scope=self.scope) for n in self._names}
        previous, self._previous = self._previous, {n: v.tolist() for n, v in now.items()}
        if previous is None:
            return None
        return {n: relative_drop(torch.tensor(previous[n], dtype=torch.float64), now[n], self.epsilon)
                for n in self._names}

    def update(self, step: int, probe: Probe) -> Update:
        raw = self.rewards(probe)
        if raw is None:
            return Update(self.policy())
        scaled = min_max([raw[n] for n in self._names])
        self._q = [self.alpha * q + (1.0 - self.alpha) * r for q, r in zip(self._q, scaled, strict=True)]
        return Update(self.policy(), reward=raw, smoothed_reward=dict(zip(self._names, self._q, strict=True)))

    def state_dict(self) -> dict[str, Any]:
        return {"q": list(self._q), "probe_idx": {n: list(v) for n, v in self._probe_idx.items()},
                "previous": self._previous}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self._q = [float(x) for x in state["q"]]
        self._probe_idx = {n: [int(i) for i in v] for n, v in state["probe_idx"].items()}
        self._previous = state["previous"]
