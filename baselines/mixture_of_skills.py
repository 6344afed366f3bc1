"""Mixture-of-Skills (MoS) and MoSpec (Wu et al., EMNLP 2024), behind the strategy contract.

A scorer ψ (mos.mixing.scorer) gives the sampling distribution. It is fitted to the prior q_τ before
training; every `update_every` steps each dataset gets a reward from the current model, optionally
smoothed by an EMA, and the scorer takes a policy-gradient update toward high-reward datasets.

    reward="cossim"  transferability: mean cosine similarity of mean-pooled last-layer states
    reward="diff"    difficulty: perplexity now / perplexity of the base model θ0

Where the paper and the authors' code disagree (SPEC §11), the default is the code (it produced
the paper's numbers) and the paper's reading is one parameter away:

    parameter       code (default)                    paper text
    scorer          "logits" (free vector, init 1)    "mlp" (2-layer MLP on the availability vector)
    update_rule     "adam": 200 steps, lr 1e-4        "reinforce": one step ψ += γ Σ R ∇log p, γ = 1e-4
    ppl_scope       "sequence" (prompt + response)    "response" (Eq. 9)
    diff_examples   16                                64
(the sampling unit and the SFT loss are training settings: train.sampling_unit, train.loss)

    mixtures:
      mos_diff_ema: {strategy: mos, reward: diff, ema: true}
      mospec_cossim_ema: {strategy: mospec, reward: cossim, ema: true, target: Mathematics}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from mos.mixing import rewards as R
from mos.mixing.scored import ScoredStrategy
from mos.mixing.strategy import Weights

if TYPE_CHECKING:
    from mos.mixing.probe import Probe


@dataclass
class MixtureOfSkills(ScoredStrategy):
    """MoS: a learned scorer rewarded by transferability (COSSIM) or difficulty (DIFF)."""

    name = "mos"
    reward: Literal["cossim", "diff"] = "cossim"
    cossim_examples: int = 64               # 8 mini-batches of 8 in the code (and the paper)
    diff_examples: int = 16                 # 8 mini-batches of 2 in the code; the paper says 64
    ppl_scope: Literal["sequence", "response"] = "sequence"
    target: str | None = None               # MoSpec only

    @property
    def needs_base_ppl(self) -> bool:
        return self.reward == "diff"

    def initial_weights(self, sizes: Mapping[str, int], seed: int = 0) -> Weights:
        if self.target is not None and self.target not in sizes:
            raise ValueError(f"target {self.target!r} is not a training dataset: {sorted(sizes)}")
        return super().initial_weights(sizes, seed)

    def rewards(self, probe: Probe) -> dict[str, float]:
        """One raw reward per dataset from fresh probe mini-batches (MoSpec variants included)."""
        if self.reward == "cossim":
            z = {n: R.batch_embedding(probe.embeddings(n, probe.sample(n, self.cossim_examples))) for n in probe.names}
            return R.cossim_rewards(z) if self.target is None else R.cossim_to_target(z, self.target)
        now, base = {}, {}
        for n in probe.names:
            idx = probe.sample(n, self.diff_examples, among=probe.base_pool(n))
            now[n] = probe.perplexities(n, idx, self.ppl_scope)
            base[n] = probe.base_perplexities(n, idx, self.ppl_scope)
        raw = R.diff_rewards(now, base)
        return raw if self.target is None else R.double_target(raw, self.target)


@dataclass
class MoSpec(MixtureOfSkills):
    """MoSpec: MoS steered toward a target skill (COSSIM to the target; DIFF doubles its reward)."""

    name = "mospec"
    target: str | None = "Mathematics"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.target:
            raise ValueError("mospec needs a target dataset")
