"""MultiUAT (Wu et al., EMNLP 2021), the MoS paper's second dynamic baseline: the reward of a
dataset is the model's uncertainty on its held-out validation set (uncertain = sample more).

    uncertainty="entropy"  mean predictive entropy per target token (default)
    uncertainty="ppl"      perplexity of the validation responses

Validation sets are held out from every training dataset (`validation_size` each; the paper 1K).
The scorer matches MultiDDS's (logits at 0, prior τ = 1, 200 Adam steps at lr 1e-4, no EMA).

    mixtures:
      multiuat: {strategy: multiuat, validation_size: 100}
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import torch

from mos.mixing.scored import ScoredStrategy

if TYPE_CHECKING:
    from mos.mixing.probe import Probe


@dataclass
class MultiUAT(ScoredStrategy):
    """Uncertainty-aware balancing: reward = uncertainty on each dataset's validation set."""

    name = "multiuat"
    prior_tau: float = 1.0
    scorer_init: float = 0.0
    uncertainty: Literal["entropy", "ppl"] = "entropy"
    validation_size: int = 1000
    validation_examples: int = 64

    def rewards(self, probe: Probe) -> dict[str, float]:
        out = {}
        for n in probe.names:
            idx = probe.sample(n, self.validation_examples, "validation")
            # the entropy is a second pass over the vocabulary: asked for only when it is the reward
            stats = probe.token_stats(n, idx, "response", "validation", entropy=self.uncertainty == "entropy")
            tokens = stats["count"].sum().clamp(min=1).double()
            if self.uncertainty == "entropy":
                out[n] = float(stats["entropy"].sum() / tokens)
            else:
                out[n] = float(torch.exp(stats["nll"].sum() / tokens))
        return out
