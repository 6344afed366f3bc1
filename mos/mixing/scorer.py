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
optimizer, as the code does (`fit_prior`, in the code's step order by default; see PRIOR_FITS).
The fixed point of the Adam objective is p_i = R_i / Σ R.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch.optim.adam import adam

SCORERS = ("logits", "mlp")
UPDATE_RULES = ("adam", "reinforce")
# Step order of the prior fit. "code": the authors' pretrain_data_actor — compute the MSE, step the
# optimizer, then stop if that (pre-step) loss was <= tol; so it always takes at least one step (at
# τ = ∞ with equal initial logits a zero-gradient step that still advances Adam's step counter, and so
# the bias correction of every later update). "check_first": stop before stepping once the loss is
# <= tol (no step at all when the initial logits already give the prior; one step fewer otherwise).
PRIOR_FITS = ("code", "check_first")


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

    def fit_prior(self, prior: Mapping[str, float], tol: float = 1e-10, max_steps: int = 200_000,
                  order: str = "code") -> int:
        """Adam on MSE(softmax, prior) until the loss is <= tol (the code's pretrain_data_actor), in
        the step order `order` (PRIOR_FITS); returns the number of optimizer steps taken."""
        if order not in PRIOR_FITS:
            raise ValueError(f"prior fit order must be one of {PRIOR_FITS}, got {order!r}")
        target = torch.tensor([prior[k] for k in self.names], dtype=torch.float64)
        for step in range(max_steps):
            loss = torch.mean((torch.softmax(self.model(), dim=0) - target) ** 2)
            converged = loss.item() <= tol
            if converged and order == "check_first":
                return step
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            if converged:  # the code: the loss it checks is the one it has just stepped on
                return step + 1
        return max_steps

    def update(self, rewards: Mapping[str, float]) -> dict[str, float]:
        """Move toward datasets with high reward; returns the new probabilities."""
        r = torch.tensor([rewards[k] for k in self.names], dtype=torch.float64)
        if self.update_rule == "adam":
            if isinstance(self.model, LogitScorer):
                self._adam_steps_logits(r, self.inner_steps)
            else:
                self._adam_steps(r, self.inner_steps)
        else:  # one plain REINFORCE step with learning rate γ = lr
            self.model.zero_grad()
            (-(torch.log_softmax(self.model(), dim=0) * r).sum()).backward()
            with torch.no_grad():
                for p in self.model.parameters():
                    p -= self.lr * p.grad
        return self.probabilities()

    def _adam_steps(self, r: torch.Tensor, steps: int) -> None:
        """`steps` Adam steps on -Σ_i R_i log p_ψ(i): autograd and the optimizer's step()."""
        for _ in range(steps):
            self.optimizer.zero_grad()
            loss = -(torch.log_softmax(self.model(), dim=0) * r).sum()
            loss.backward()
            self.optimizer.step()

    def _adam_steps_logits(self, r: torch.Tensor, steps: int) -> None:
        """The same steps for the free-logit scorer, bit for bit, at a fraction of the cost.

        The loss is -Σ_i R_i log_softmax(w)_i, so autograd hands log_softmax's backward kernel the
        upstream gradient -R (exactly) and the forward's output; calling that kernel directly gives
        the gradient without building a graph. The step is torch's functional Adam, the function
        Adam.step() itself calls, on the optimizer's own state tensors (its state_dict stays
        valid). A 4-element vector has almost no arithmetic: the 200 inner steps through autograd
        and Adam.step() spend most of their time in bookkeeping, and this is several times faster
        (scripts/benchmark_mos_overhead.py checks the identity and times both).
        """
        w = self.model.logits
        group = self.optimizer.param_groups[0]
        if len(self.optimizer.param_groups) != 1 or any(group.get(k) for k in ("capturable", "differentiable",
                                                                                  "fused", "foreach")):
            self._adam_steps(r, steps)
            return
        if steps > 0 and not self.optimizer.state.get(w):  # let torch create the state on its first step
            self._adam_steps(r, 1)
            steps -= 1
        state = self.optimizer.state[w]
        beta1, beta2 = group["betas"]
        kwargs = {k: group[k] for k in ("amsgrad", "lr", "weight_decay", "eps", "maximize", "foreach", "capturable",
                                        "differentiable", "fused", "decoupled_weight_decay") if k in group}
        exp_avg, exp_avg_sq, step_t = [state["exp_avg"]], [state["exp_avg_sq"]], [state["step"]]
        max_sq = [state["max_exp_avg_sq"]] if group["amsgrad"] else []
        upstream = -r  # ∂loss/∂log_softmax(w): autograd's (-1 * R), the same bits
        backward = torch.ops.aten._log_softmax_backward_data
        w.grad = None
        with torch.no_grad():
            for _ in range(steps):
                grad = backward(upstream, torch.log_softmax(w, dim=0), 0, w.dtype)
                adam([w], [grad], exp_avg, exp_avg_sq, max_sq, step_t, has_complex=False,
                     beta1=beta1, beta2=beta2, **kwargs)

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
