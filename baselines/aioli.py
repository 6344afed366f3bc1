"""Aioli (Chen et al., ICLR 2025, arXiv 2411.05735): online estimation of a linear mixing law from
short training bursts, then exponentiated gradient on the mixture.

Mixing law: L_i^{t+1} = L_i^t - Σ_j A_ij p_j (per-group validation loss after training on p).
Training runs in rounds of `round_steps` optimizer steps. Each round starts with LearnParams:
`lp_rounds` sweeps over the K groups in a random order; for group j, `lp_steps` ordinary training
steps on the mixture m_j that puts `one_hot_factor` δ on j and (1 - δ)/(K - 1) on every other
group, then the drop of every group's validation loss since the previous measurement is added to
column j of β. Then

    β ← β / lp_rounds;   A = β M^{-1}   (M's columns are the m_j; the identity when δ = 1)
    A ← (A - min A) / Σ (A - min A)        when normalize_A (shift to non-negative, sum to 1)

and the rest of the round trains on p, set by one of two updates:

    ema: λ (default 0.1)  the released code's (HazyResearch/aioli at a236112, trainer/aioli_trainer.py:
                          334-345, scripts/full/aioli/run.sh `--ema 0.1`): Ā = A at the first round, then
                          (1 - λ) A + λ Ā, and p = p⁽⁰⁾ exp(η Σ_i Ā_ij) from the anchor p⁽⁰⁾ every round
                          (not cumulative; the code's anchor is uniform, ours q_τ, the same at τ = ∞).
                          Since normalised A sums to 1, no weight ratio exceeds e^η.
    ema: null             cumulative, p_j ← p_j exp(η Σ_i A_ij), normalised (FIELD.md §3.4's reading of
                          the paper; the code without --ema): `aioli_cumulative`.

Budget: the bursts are ordinary steps of the one training loop at the learning rate of the
schedule; they count against the run's steps (never extra): `next_update_in` gives the loop each
burst's end and the round's end. Validation losses are the token-mean training loss of a fixed
subset of `validation_examples` held-out examples per group (`validation_size` are held out, as for
MultiDDS / MultiUAT), measured K·lp_rounds + 1 times per round. run.json's strategy_report gives the
burst steps trained and their share of the steps (the exploration cost), the largest movement of
the exploit weights from p⁽⁰⁾ (what the method did with it), and, with lp_rounds ≥ 2, the agreement
(Pearson r) of the loss-drop matrices of the sweeps, a signal-to-noise check of A.

Scale. The reference script trains 40,000 steps in rounds of 200 with 2 sweeps of 10-step bursts
over 7 groups (140 of every 200 steps are bursts, 70%). Our 600 steps: rounds of 100 (6 rounds), 2
sweeps of 5-step bursts over 4 groups = 40 burst steps per round (40%). At this horizon the
exploration cost dominates; `aioli_short` (1 sweep of 3-step bursts: 12%, the order of the code's
2-group script, 12.8%) separates the method from that cost.

Parameter by parameter (paper: not verified here; code: scripts/full/aioli/run.sh at a236112):

    parameter          paper    released code (full script; small scripts)   ours (default)
    η                  —        1 (0.2; 0.1)                                 1
    EMA of A, λ        —        0.1 (0.1; 0.5)                               0.1
    lp_rounds          —        2 (4)                                        2
    lp_steps           —        10 (4; 6)                                    5 (half, as the round)
    round_steps        —        200 (250)                                    100 of 600 steps
    δ one_hot_factor   —        0.75 (0.625; 0.5)                            0.75
    normalize_A        —        on                                           on
    anchor p⁽⁰⁾        —        uniform (ones)                               q_τ, τ = ∞: uniform
    validation data    held out the val split                                100 held out, 32 used
    burst share        —        70% (12.8%; 28.8%)                           40%

    mixtures:
      aioli: {strategy: aioli, validation_size: 100}
      aioli_cumulative: {strategy: aioli, validation_size: 100, ema: null}
      aioli_short: {strategy: aioli, validation_size: 100, lp_rounds: 1, lp_steps: 3}
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch

from mos.mixing.strategy import MixingStrategy, Update, Weights, temperature_weights

if TYPE_CHECKING:
    from mos.mixing.probe import Probe


def burst_mixture(k: int, j: int, one_hot_factor: float) -> np.ndarray:
    """m_j: δ on group j, (1 - δ)/(K - 1) on every other group."""
    m = np.full(k, (1.0 - one_hot_factor) / (k - 1))
    m[j] = one_hot_factor
    return m


def interaction_matrix(beta: np.ndarray, one_hot_factor: float, normalize: bool) -> np.ndarray:
    """A from the averaged loss drops β (column j: drops after bursts on m_j): A = β M^{-1}."""
    k = beta.shape[0]
    mix = np.stack([burst_mixture(k, j, one_hot_factor) for j in range(k)], axis=1)  # column j = m_j
    a = beta if one_hot_factor == 1 else np.linalg.solve(mix.T, beta.T).T
    if normalize:
        a = a - min(0.0, float(a.min()))
        total = float(a.sum())
        if total > 0:
            a = a / total
    return a


def sweep_agreement(sweeps: np.ndarray) -> float | None:
    """Mean Pearson correlation between the loss-drop matrices of every pair of LearnParams sweeps
    (None when a matrix is constant): near 1 the bursts measure A, near 0 they measure noise."""
    flat = [s.ravel() for s in np.asarray(sweeps, dtype=float)]
    rs = [float(np.corrcoef(a, b)[0, 1]) for i, a in enumerate(flat) for b in flat[i + 1:]
          if a.std() > 0 and b.std() > 0]
    return sum(rs) / len(rs) if rs else None


@dataclass
class Aioli(MixingStrategy):
    """Aioli: learn a linear mixing law from training bursts, then exponentiated gradient."""

    name = "aioli"
    round_steps: int = 100
    lp_rounds: int = 2
    lp_steps: int = 5
    one_hot_factor: float = 0.75
    eta: float = 1.0
    normalize_A: bool = True
    ema: float | None = 0.1                 # the released script's; null: cumulative
    prior_tau: float = math.inf
    validation_size: int = 100
    validation_examples: int = 32
    scope: Literal["training", "response", "sequence"] = "training"
    _names: list[str] = field(default_factory=list, init=False, repr=False)
    _init: list[float] = field(default_factory=list, init=False, repr=False)
    _p: list[float] = field(default_factory=list, init=False, repr=False)
    _state: dict[str, Any] = field(default_factory=dict, init=False, repr=False)
    _generator: torch.Generator | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if min(self.round_steps, self.lp_rounds, self.lp_steps, self.validation_examples, self.validation_size) < 1:
            raise ValueError("round_steps, lp_rounds, lp_steps, validation_examples and validation_size must be >= 1")
        if not 0 < self.one_hot_factor <= 1:
            raise ValueError(f"one_hot_factor must be in (0, 1], got {self.one_hot_factor}")
        if self.ema is not None and not 0 <= self.ema < 1:
            raise ValueError(f"ema must be in [0, 1) or null, got {self.ema}")

    @property
    def update_every(self) -> int:  # the loop's default interval; every update sets its own
        return self.round_steps

    @property
    def first_update(self) -> int:
        return 0  # the first round's LearnParams starts at step 0 with a validation measurement

    def initial_weights(self, sizes: Mapping[str, int], seed: int = 0) -> Weights:
        k = len(sizes)
        if k < 2:
            raise ValueError("aioli needs at least two datasets")
        if self.one_hot_factor < 1 and self.one_hot_factor <= 1.0 / k:
            raise ValueError(f"one_hot_factor {self.one_hot_factor} must exceed 1/K = {1 / k:.3g} (M must be invertible)")
        if self.lp_rounds * k * self.lp_steps >= self.round_steps:
            raise ValueError(f"a round of {self.round_steps} steps has no room after LearnParams' "
                             f"{self.lp_rounds} x {k} x {self.lp_steps} burst steps")
        self._names = list(sizes)
        self._init = list(temperature_weights(sizes, self.prior_tau).values())
        self._p = list(self._init)
        self._generator = torch.Generator().manual_seed(90_001 + 7 * seed)
        self._state = {"phase": "start", "order": [], "pos": 0, "beta": None, "previous": None, "ema_A": None,
                       "val_idx": None, "burst_steps": 0, "burst_start": None, "rounds": 0, "last_A": None,
                       "sweeps": None, "agreement": [], "movement": 0.0}
        return dict(zip(self._names, self._p, strict=True))

    def validation_losses(self, probe: Probe) -> np.ndarray:
        """Token-mean loss of each group's fixed validation subset."""
        st = self._state
        if st["val_idx"] is None:
            st["val_idx"] = {n: probe.sample(n, self.validation_examples, "validation") for n in self._names}
        out = []
        for n in self._names:
            tok = probe.token_losses(n, st["val_idx"][n], "validation", self.scope)
            out.append(sum(float(t.double().sum()) for t in tok) / max(1, sum(t.numel() for t in tok)))
        return np.array(out)

    def _burst(self, step: int) -> Update:
        st = self._state
        j = st["order"][st["pos"]]
        st["burst_start"] = step
        m = burst_mixture(len(self._names), j, self.one_hot_factor)
        return Update(dict(zip(self._names, m.tolist(), strict=True)), next_update_in=self.lp_steps)

    def update(self, step: int, probe: Probe) -> Update:
        st, k = self._state, len(self._names)
        losses = self.validation_losses(probe)
        if st["phase"] in ("start", "exploit"):  # a round begins: LearnParams
            order = torch.cat([torch.randperm(k, generator=self._generator) for _ in range(self.lp_rounds)])
            st.update(phase="learn", order=order.tolist(), pos=0, beta=np.zeros((k, k)).tolist(),
                      previous=losses.tolist(), sweeps=np.zeros((self.lp_rounds, k, k)).tolist())
            return self._burst(step)
        drop = np.array(st["previous"]) - losses
        j = st["order"][st["pos"]]
        beta, sweeps = np.array(st["beta"]), np.array(st["sweeps"])
        beta[:, j] += drop
        sweeps[st["pos"] // k, :, j] = drop
        st.update(beta=beta.tolist(), sweeps=sweeps.tolist(), previous=losses.tolist(), pos=st["pos"] + 1,
                  burst_steps=st["burst_steps"] + (step - st["burst_start"]), burst_start=None)
        reward = dict(zip(self._names, drop.tolist(), strict=True))
        if st["pos"] < len(st["order"]):
            next_burst = self._burst(step)
            next_burst.reward = reward
            return next_burst
        a = interaction_matrix(beta / self.lp_rounds, self.one_hot_factor, self.normalize_A)
        if self.ema is None:
            logits = np.log(np.array(self._p)) + self.eta * a.sum(axis=0)
        else:
            smooth = a if st["ema_A"] is None else (1.0 - self.ema) * a + self.ema * np.array(st["ema_A"])
            st["ema_A"] = smooth.tolist()
            logits = np.log(np.array(self._init)) + self.eta * smooth.sum(axis=0)
        p = np.exp(logits - logits.max())
        self._p = (p / p.sum()).tolist()
        movement = float(np.abs(np.array(self._p) - np.array(self._init)).max())
        st.update(phase="exploit", rounds=st["rounds"] + 1, last_A=a.tolist(),
                  movement=max(st.get("movement", 0.0), movement),
                  agreement=st.get("agreement", []) + ([sweep_agreement(sweeps)] if self.lp_rounds > 1 else []))
        remaining = self.round_steps - self.lp_rounds * k * self.lp_steps
        return Update(dict(zip(self._names, self._p, strict=True)), reward=reward,
                      smoothed_reward=dict(zip(self._names, a.sum(axis=0).tolist(), strict=True)),
                      next_update_in=remaining)

    def report(self, step: int) -> dict[str, Any]:
        st = self._state
        open_burst = 0 if st.get("burst_start") is None else step - st["burst_start"]
        bursts = st.get("burst_steps", 0) + open_burst
        agreement = [x for x in st.get("agreement", []) if x is not None]
        return {"burst_steps": bursts, "burst_share": bursts / step if step else None,
                "rounds_completed": st.get("rounds", 0),
                "exploit_weight_movement": st.get("movement", 0.0),
                "sweep_agreement": sum(agreement) / len(agreement) if agreement else None,
                "last_interaction_matrix": st.get("last_A"),
                "note": "burst steps are ordinary training steps inside the run's budget; exploit_weight_movement: "
                        "the largest |p - p0| of the weights set after a LearnParams phase"}

    def state_dict(self) -> dict[str, Any]:
        return {"p": list(self._p), "state": dict(self._state),
                "generator": self._generator.get_state() if self._generator is not None else None}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self._p = [float(x) for x in state["p"]]
        self._state = dict(state["state"])
        if state.get("generator") is not None:
            self._generator.set_state(state["generator"])
