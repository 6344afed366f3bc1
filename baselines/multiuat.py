"""MultiUAT (Wu et al., EMNLP 2021), the MoS paper's second dynamic baseline: the reward of a
dataset is the model's uncertainty on its held-out validation set (uncertain = sample more).

    uncertainty="entropy"  mean predictive entropy per target token (default)
    uncertainty="ppl"      perplexity of the validation responses

Validation sets are held out from every training dataset (`validation_size` each; the paper 1K).
The scorer matches MultiDDS's (logits at 0, prior τ = 1, 200 Adam steps at lr 1e-4, no EMA).

Against the reference code (huawei-noah/noah-research `noahnmt/multiuat` at aa0f80c,
tasks/multiuat-multidomain-translation.py): its `enttp` reward runs K = 10 forward passes per
domain's validation batch IN TRAIN MODE (Monte-Carlo dropout at fairseq's default 0.1) and averages
the token-mean entropies (:662-673). We run one pass in eval mode. With dropout 0, as in every
backbone here (transformers' defaults for these families; mos.models.backbones sets none), the K
train-mode passes are identical to each other and to the eval pass, so one pass gives the K-pass
average exactly. With dropout > 0 they would differ (an average of entropies under dropout is not
the entropy of the deterministic model), and this strategy would need K passes in train mode. The
code's `xentropy` reward is the mean NLL; our `ppl` is exp(mean NLL), a different reward under the
Adam objective, whose fixed point is p ∝ R (kept as it was; not the default).

    parameter               paper        code                          ours (default)
    reward                  uncertainty  enttp: token-mean entropy     entropy
    MC passes               —            10, train mode, dropout 0.1   1, eval mode, dropout 0 (equal)
    validation sample       1K held out  one batch ≤ 1,024 tokens      64 of the held-out examples
    NLL variant             —            xentropy: mean NLL            ppl: exp(mean NLL)
    scorer init / prior     —            logits fitted to the prior    0, τ = 1
    actor lr / steps / int. —            1e-4 / 200 / 1000             1e-4 / 200 / 100 (config scales)

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
