"""MultiDDS (Wang et al., ACL 2020), the MoS paper's first dynamic baseline: the reward of a
training dataset is how well its gradient agrees with the validation gradients.

    R(i) = 1/N Σ_j cos(∇L_train_i(θ), ∇L_val_j(θ))    (the "ave" utility of the MultiDDS code)

Validation sets are held out from every training dataset (`validation_size` examples each; the
MoS paper holds out 1K), so this strategy trains on slightly less data, as the paper's baseline
did. The scorer is MultiDDS's: free logits initialised at 0, fitted to the size prior (τ = 1; the
first author's slides suggest the paper's MultiDDS row used it), 200 Adam steps at lr 1e-4 per
update, no EMA.

    mixtures:
      multidds: {strategy: multidds, validation_size: 100}
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from mos.mixing.scored import ScoredStrategy

if TYPE_CHECKING:
    from mos.mixing.probe import Probe


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
        val = [probe.gradient(n, probe.sample(n, self.validation_examples, "validation"), "validation")
               for n in probe.names]
        out = {}
        for n in probe.names:
            g = probe.gradient(n, probe.sample(n, self.grad_examples))
            out[n] = float(torch.stack([torch.nn.functional.cosine_similarity(g, v, dim=0) for v in val]).mean())
        return out
