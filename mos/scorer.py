"""The learned scorer ψ of MoS (and of MultiDDS / MultiUAT): a distribution over datasets that a
reward-weighted policy-gradient step moves toward the datasets with higher reward.

Two parameterisations (SPEC §2.3, §11):
    "logits"  a free logit vector, initialised to 1 (the authors' code: a bias-free Linear(N, 1)
              applied to an all-ones feature); MultiDDS initialises it to 0
    "mlp"     a 2-layer perceptron on the availability vector of the datasets (the paper's text)
and two update rules:
    "adam"       `inner_steps` Adam steps on -Σ_i R_i log p_ψ(i), optimizer state kept across
                 updates (the code: 200 steps, lr 1e-4)
    "reinforce"  one gradient step ψ ← ψ + γ Σ_i R_i ∇ log p_ψ(i) (paper Algorithm 1, line 11)
Before training the scorer is fitted to the prior q_τ by minimising MSE(p_ψ, q_τ) with the same
optimizer, as the code does. The fixed point of the Adam objective is p_i = R_i / Σ R.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

SCORERS = ("logits", "mlp")
UPDATE_RULES = ("adam", "reinforce")


class LogitScorer(torch.nn.Module):
    def __init__(self, n: int, init: float = 1.0):
        super().__init__()
        self.logits = torch.nn.Parameter(torch.full((n,), float(init), dtype=torch.float64))

    def forward(self) -> torch.Tensor:
        return self.logits


class MLPScorer(torch.nn.Module):
    """Input: which datasets are available (all ones here); output: one logit per dataset."""

    def __init__(self, n: int, hidden: int, generator: torch.Generator):
        super().__init__()
        self.register_buffer("available", torch.ones(n, dtype=torch.float64))
        self.hidden = torch.nn.Linear(n, hidden, dtype=torch.float64)
        self.out = torch.nn.Linear(hidden, n, dtype=torch.float64)
        with torch.no_grad():  # seeded init, independent of the global RNG
            for layer in (self.hidden, self.out):
                bound = layer.in_features ** -0.5
                layer.weight.uniform_(-bound, bound, generator=generator)
                layer.bias.uniform_(-bound, bound, generator=generator)

    def forward(self) -> torch.Tensor:
        return self.out(torch.tanh(self.hidden(self.available)))


class ScorerPolicy:
    """A scorer plus its optimizer: prior fitting, reward updates, probabilities, state."""

    def __init__(self, names: Sequence[str], kind: str = "logits", lr: float = 1e-4, update_rule: str = "adam",
                 inner_steps: int = 200, init: float = 1.0, hidden: int = 32, seed: int = 0):
        if kind not in SCORERS:
            raise ValueError(f"scorer must be one of {SCORERS}, got {kind!r}")
        if update_rule not in UPDATE_RULES:
            raise ValueError(f"update_rule must be one of {UPDATE_RULES}, got {update_rule!r}")
        self.names = list(names)
        gen = torch.Generator().manual_seed(seed)
        n = len(self.names)
        self.model = LogitScorer(n, init) if kind == "logits" else MLPScorer(n, hidden, gen)
        self.lr, self.update_rule, self.inner_steps = lr, update_rule, inner_steps
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=lr)

    def probabilities(self) -> dict[str, float]:
        with torch.no_grad():
            p = torch.softmax(self.model(), dim=0)
        return {k: float(v) for k, v in zip(self.names, p, strict=True)}

    def fit_prior(self, prior: Mapping[str, float], tol: float = 1e-10, max_steps: int = 200_000) -> int:
        """Adam on MSE(softmax, prior) until the loss is <= tol (the code's pretrain_data_actor);
        returns the number of steps taken."""
        target = torch.tensor([prior[k] for k in self.names], dtype=torch.float64)
        for step in range(max_steps):
            loss = torch.mean((torch.softmax(self.model(), dim=0) - target) ** 2)
            if loss.item() <= tol:
                return step
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
        return max_steps

    def update(self, rewards: Mapping[str, float]) -> dict[str, float]:
        """Move toward datasets with high reward; returns the new probabilities."""
        r = torch.tensor([rewards[k] for k in self.names], dtype=torch.float64)
        if self.update_rule == "adam":
            for _ in range(self.inner_steps):
                self.optimizer.zero_grad()
                loss = -(torch.log_softmax(self.model(), dim=0) * r).sum()
                loss.backward()
                self.optimizer.step()
        else:  # one plain REINFORCE step with learning rate γ = lr
            self.model.zero_grad()
            (-(torch.log_softmax(self.model(), dim=0) * r).sum()).backward()
            with torch.no_grad():
                for p in self.model.parameters():
                    p -= self.lr * p.grad
        return self.probabilities()

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
