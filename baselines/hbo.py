"""HBO (Wang, Wu, Haddow, Birch; ICLR 2026, arXiv 2505.12300; `weixuan-wang123/HBO`): MoS's global
scorer over datasets plus one local scorer per dataset over its difficulty buckets.

Global actor: the MoS scorer (mos.mixing.scored / mos.mixing.scorer, reused, the same settings: free
logits at 1 fitted to q_τ, 200 Adam steps at `scorer_lr` on -Σ R log p, optional EMA) with a
gradient-norm reward: R(i) = the mean over examples of ‖∇ L(x)‖, the norm of the gradient of one
example's mean token loss, over `grad_examples_per_level` examples from every bucket of dataset i
(the code: 4 batches of 2 per level; it then divides by one more factor 2, a rescaling that moves
neither the Adam objective's fixed point p ∝ R nor, much, its steps).

Local actors: dataset i's examples are split by θ0's perplexity into `levels` equal buckets
(0 = lowest perplexity; the perplexities come from the base_ppl cache the workflow already builds
for DIFF, so `base_ppl.pool_size` must be null: every training example scored). At every update
each bucket b gets r_b = mean_x PPL_θ(x) / PPL_θ0(x) over `ppl_examples_per_level` examples (the
code: 8 batches of 2), made relative, r_b / mean_b' r_b', and the dataset's local scorer (free
logits at 1, i.e. uniform over buckets, no prior fit, the same Adam rule) takes its update. The
sampler then draws a dataset's examples with weight p_i(b) / |bucket b| (Update.example_weights;
before the first update, uniformly).

Differences from the code, all small: buckets are np.array_split of the sorted pool (the code
drops the last n mod levels examples); examples within a bucket are probe-drawn without
replacement (the code: with); `grad_scope` defaults to the whole sequence as the code's
gradient-norm reward uses labels = input_ids, and `ppl_scope` to the response as its perplexity
masks the prompt.

    mixtures:
      hbo: {strategy: hbo, update_every: 50, scorer_lr: 4.0e-4}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from mos.mixing import rewards as R
from mos.mixing.scored import ScoredStrategy
from mos.mixing.scorer import ScorerPolicy
from mos.mixing.strategy import Update, Weights

if TYPE_CHECKING:
    from mos.mixing.probe import Probe


def relative(rewards: list[float]) -> list[float]:
    """Each bucket's reward over the mean of the buckets' rewards (the code's compute_relative_rewards)."""
    mean = sum(rewards) / len(rewards)
    return [r / mean for r in rewards]


def difficulty_buckets(ppl: Mapping[int, float], size: int, levels: int, dataset: str) -> list[list[int]]:
    """Example indices split into `levels` buckets of increasing θ0 perplexity (ties by index)."""
    missing = sorted(set(range(size)) - set(ppl))
    if missing:
        raise ValueError(f"hbo: θ0 perplexities cover {len(ppl)} of the {size} examples of {dataset!r} (first "
                         f"missing: {missing[:3]}); the local actors need every example: set base_ppl.pool_size: null")
    order = sorted(range(size), key=lambda i: (ppl[i], i))
    return [chunk.tolist() for chunk in np.array_split(np.array(order, dtype=np.int64), levels)]


@dataclass
class HBO(ScoredStrategy):
    """HBO: MoS's scorer with a gradient-norm reward plus local scorers over difficulty buckets."""

    name = "hbo"
    needs_base_ppl = True
    levels: int = 4                         # difficulty buckets per dataset (the code's default)
    grad_examples_per_level: int = 8        # the code: 4 batches of 2
    ppl_examples_per_level: int = 16        # the code: 8 batches of 2
    grad_scope: Literal["sequence", "training", "response"] = "sequence"
    ppl_scope: Literal["response", "sequence"] = "response"
    _buckets: dict[str, list[list[int]]] = field(default_factory=dict, init=False, repr=False)
    _locals: dict[str, ScorerPolicy] = field(default_factory=dict, init=False, repr=False)
    _sizes: dict[str, int] = field(default_factory=dict, init=False, repr=False)
    _seed: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.levels < 1 or self.grad_examples_per_level < 1 or self.ppl_examples_per_level < 1:
            raise ValueError("levels, grad_examples_per_level and ppl_examples_per_level must be >= 1")

    def initial_weights(self, sizes: Mapping[str, int], seed: int = 0) -> Weights:
        small = {n: s for n, s in sizes.items() if s < self.levels}
        if small:
            raise ValueError(f"hbo: datasets with fewer examples than levels={self.levels}: {small}")
        self._sizes, self._seed, self._buckets = dict(sizes), seed, {}
        self._locals = {n: ScorerPolicy([str(b) for b in range(self.levels)], "logits", self.scorer_lr,
                                        self.update_rule, self.inner_steps, init=1.0, seed=seed)
                        for n in sizes}
        return super().initial_weights(sizes, seed)

    def buckets(self, probe: Probe) -> dict[str, list[list[int]]]:
        if not self._buckets:
            for n, size in self._sizes.items():
                pool = probe.base_pool(n)
                ppl = dict(zip(pool, probe.base_perplexities(n, pool, "response").tolist(), strict=True))
                self._buckets[n] = difficulty_buckets(ppl, size, self.levels, n)
        return self._buckets

    def rewards(self, probe: Probe) -> dict[str, float]:
        """The global reward: mean per-example gradient norm over examples of every bucket."""
        buckets, out = self.buckets(probe), {}
        for n in probe.names:
            norms = [probe.gradient_norms(n, probe.sample(n, self.grad_examples_per_level, among=b),
                                          scope=self.grad_scope) for b in buckets[n]]
            out[n] = float(np.concatenate([x.numpy() for x in norms]).mean())
        return out

    def local_rewards(self, probe: Probe, dataset: str) -> list[float]:
        """Per bucket, the mean ratio PPL_θ / PPL_θ0 of its sampled examples, relative to the buckets' mean."""
        out = []
        for b in self.buckets(probe)[dataset]:
            idx = probe.sample(dataset, self.ppl_examples_per_level, among=b)
            ratio = R.diff_rewards({dataset: probe.perplexities(dataset, idx, self.ppl_scope)},
                                   {dataset: probe.base_perplexities(dataset, idx, self.ppl_scope)})
            out.append(ratio[dataset])
        return relative(out)

    def update(self, step: int, probe: Probe) -> Update:
        update = super().update(step, probe)  # the global actor (rewards() above)
        example_weights = {}
        for n in probe.names:
            r = self.local_rewards(probe, n)
            p = self._locals[n].update({str(b): v for b, v in enumerate(r)})
            w = np.zeros(self._sizes[n])
            for b, members in enumerate(self.buckets(probe)[n]):
                w[members] = p[str(b)] / len(members)
            example_weights[n] = w
        update.example_weights = example_weights
        return update

    def level_probabilities(self) -> dict[str, list[float]]:
        return {n: list(policy.probabilities().values()) for n, policy in self._locals.items()}

    def report(self, step: int) -> dict[str, Any]:
        return {"level_probabilities": self.level_probabilities(), "levels": self.levels}

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "locals": {n: p.state_dict() for n, p in self._locals.items()}}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        super().load_state_dict(state)
        for n, s in state.get("locals", {}).items():
            self._locals[n].load_state_dict(s)
