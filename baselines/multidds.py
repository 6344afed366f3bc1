"""MultiDDS (Wang et al., ACL 2020), the MoS paper's first dynamic baseline: the reward of a
training dataset is how well its gradient agrees with the validation gradients.

    R(i) = 1/N Σ_j cos(∇L_train_i(θ), ∇L_val_j(θ))    (the "ave" utility of the MultiDDS code)

Validation sets are held out from every training dataset (`validation_size` examples each; the
MoS paper holds out 1K), so this strategy trains on slightly less data, as the paper's baseline
did. The scorer is MultiDDS's: free logits initialised at 0, fitted to the size prior (τ = 1; the
first author's slides suggest the paper's MultiDDS row used it), 200 Adam steps at lr 1e-4 per
update, no EMA.

Memory O(parameters / GPUs), not O(N · parameters): the cosine is linear in its normalised second
argument,

    R(i) = 1/N Σ_j g_i·v_j / (|g_i| |v_j|) = g_i·u / |g_i|,   u = 1/N Σ_j v_j / |v_j|,

so the N validation gradients are computed one at a time and folded into u, then each training
gradient is dotted with u: N validation and N training gradients, the same arithmetic as keeping
all N validation gradients (the old way: N + 1 float64 copies of all parameters on the host).

Against the reference code. cindyxinyiwang/multiDDS (7ceab0b) has two rules:
- MultiDDS-S (`--data-actor-multilin`, fairseq/trainer.py:330-442) and noah-research's MultiDDS
  (noahnmt/multiuat, tasks/multidds-multidomain-translation.py:525-584): for every dev set j a
  FRESH training batch and gradient per training set i, N² training gradients, then the mean of
  the cosines ('ave'). We take ONE training gradient g_i per training set and reuse it against
  every dev gradient. Each cos(g_i, v_j) has the same distribution whether g_i is fresh or shared,
  so the expected reward is the same; its variance is higher (the N terms of R(i) share g_i's
  noise). Equivalent in expectation, not per update; N² gradients would cost N times more.
- MultiDDS (`multidds.sh`, trainer.py:445-523): one training gradient per set, a virtual step
  θ + 0.001 g_i, then the cosine with the SUM of the dev gradients (token-summed losses) at the
  moved point; `utility_type` unused. Not equivalent (a cosine with a token-weighted sum at a
  perturbed point); by reading, that path indexes an empty list on its first call. We follow the
  -S / noah rule.
- The reference takes its gradients in train mode (dropout 0.3 in the TED scripts); our backbones
  have no dropout, so train and eval mode compute the same gradients.

    parameter               paper           code (-S / noah)          ours (default)
    utility                 mean cosine     'ave' (mean over dev)     mean cosine
    training gradients      per dev set     N² fresh                  N, one per training set (above)
    virtual step            (non-S only)    none                      none
    scorer init / prior     —               0, fitted to τ = 1        0, τ = 1
    actor lr / steps / int. —               1e-4 / 200 / 1000         1e-4 / 200 / 100 (config scales)
    dropout during reward   —               train mode (0.1-0.3)      none (no dropout in our backbones) Under data parallel each rank runs the
same backward passes but keeps the gradient of its own share of the parameter tensors only
(`probe.gradients(..., shard=True)`), and the dot products and norms are summed over the ranks.
Alive at once per GPU: u (float32) and one gradient of 1/GPUs of the parameters, plus the backward
pass's own tensors; dot products and norms are summed in float64 per tensor. docs/memory.md has
the numbers.

    mixtures:
      multidds: {strategy: multidds, validation_size: 100}
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from mos.mixing.scored import ScoredStrategy

if TYPE_CHECKING:
    from mos.mixing.probe import Probe

EPS = 1e-8      # torch.nn.functional.cosine_similarity's floor on a norm
PIECE = 1 << 24  # elements per float64 piece of a dot product (128 MiB), so no tensor is copied whole


def dot(a: Sequence[torch.Tensor], b: Sequence[torch.Tensor]) -> float:
    """Σ over tensors of a_t · b_t, accumulated in float64 piece by piece."""
    total = 0.0
    for x, y in zip(a, b, strict=True):
        for p, q in zip(x.reshape(-1).split(PIECE), y.reshape(-1).split(PIECE), strict=True):
            total += float(torch.dot(p.double(), q.double()))
    return total



@dataclass
class MultiDDS(ScoredStrategy):
    """Differentiable data selection: reward = train/validation gradient cosine similarity."""

    name = "multidds"
    prior_tau: float = 1.0
    scorer_init: float = 0.0
    validation_size: int = 1000      # held out per dataset (the paper: 1K)
    grad_examples: int = 16          # training examples per gradient
    validation_examples: int = 16    # validation examples per dataset per gradient

    def rewards(self, probe: Probe) -> dict[str, float]:
        u: list[torch.Tensor] | None = None  # 1/N Σ_j v_j / |v_j| over this rank's parameter tensors
        for n in probe.names:
            v = probe.gradients(n, probe.sample(n, self.validation_examples, "validation"), "validation", shard=True)
            (vv,) = probe.all_sum([dot(v, v)])
            scale = 1.0 / (len(probe.names) * max(vv ** 0.5, EPS))
            if u is None:
                u = [t.float().mul_(scale) for t in v]  # float32 (a copy only for bf16 gradients)
            else:
                for acc, t in zip(u, v, strict=True):
                    acc.add_(t, alpha=scale)
            del v
        out = {}
        for n in probe.names:
            g = probe.gradients(n, probe.sample(n, self.grad_examples), shard=True)
            gu, gg = probe.all_sum([dot(g, u), dot(g, g)])
            out[n] = gu / max(gg ** 0.5, EPS)
            del g
        return out
