"""Reward functions of MoS and MoSpec (paper §3.2, §6), small and pure: tensors in, floats out.

    COSSIM  R(i) = 1/N Σ_n cos(z_i, z_n), z_i the mean of mean-pooled last-layer states of a
            mini-batch of dataset i under the current model (Eq. 7-8; n = i included)
    DIFF    R(i) = mean_j PPL_θ(x_j) / PPL_θ0(x_j) over a mini-batch of dataset i (Eq. 10)
    EMA     R(i) = β R'(i) + (1 - β) R''(i), R'' the previous smoothed reward, starting at 1 (Eq. 11)
MoSpec: COSSIM against the target dataset only; DIFF with the target's reward doubled.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch


def batch_embedding(example_embeddings: torch.Tensor) -> torch.Tensor:
    """z_i: the mean of the per-example mean-pooled states (Eq. 7)."""
    return example_embeddings.double().mean(dim=0)


def cossim_rewards(z: Mapping[str, torch.Tensor]) -> dict[str, float]:
    """Transferability: each dataset's mean cosine similarity to all datasets, itself included."""
    names = list(z)
    mat = torch.nn.functional.normalize(torch.stack([z[n].double() for n in names]), dim=1)
    sims = mat @ mat.T
    return {n: float(sims[i].mean()) for i, n in enumerate(names)}


def cossim_to_target(z: Mapping[str, torch.Tensor], target: str) -> dict[str, float]:
    """MoSpec's transferability: cosine similarity of each dataset to the target (1 for itself)."""
    t = z[target].double()
    return {n: float(torch.nn.functional.cosine_similarity(v.double(), t, dim=0)) for n, v in z.items()}


def diff_rewards(ppl_now: Mapping[str, torch.Tensor], ppl_base: Mapping[str, torch.Tensor]) -> dict[str, float]:
    """Difficulty: mean per-example ratio of current to base-model perplexity (Eq. 10)."""
    return {n: float((ppl_now[n].double() / ppl_base[n].double()).mean()) for n in ppl_now}


def double_target(rewards: Mapping[str, float], target: str) -> dict[str, float]:
    """MoSpec + DIFF: the target dataset's reward counts twice (applied before the EMA)."""
    return {n: (2.0 * r if n == target else r) for n, r in rewards.items()}


def ema(previous: Mapping[str, float] | None, current: Mapping[str, float], beta: float = 0.9) -> dict[str, float]:
    """Eq. 11 with β on the current reward; the previous smoothed value starts at 1 (the code)."""
    prev = previous or {}
    return {n: beta * r + (1.0 - beta) * prev.get(n, 1.0) for n, r in current.items()}


def perplexity(token_nll_sum: torch.Tensor, n_tokens: torch.Tensor) -> torch.Tensor:
    """exp(mean negative log-likelihood) per example (Eq. 9)."""
    return torch.exp(token_nll_sum.double() / n_tokens.clamp(min=1).double())
