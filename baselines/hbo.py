"""HBO (Wang, Wu, Haddow, Birch; ICLR 2026, arXiv 2505.12300; `weixuan-wang123/HBO`): MoS's global
scorer over datasets plus one local scorer per dataset over its difficulty buckets.

Global actor: the MoS scorer (mos.mixing.scored / mos.mixing.scorer, reused, the same settings: free
logits at 1 fitted to q_τ, 200 Adam steps at `scorer_lr` on -Σ R log p, optional EMA) with a
gradient-norm reward: R(i) = the mean over examples of ‖∇ L(x)‖, the norm of the gradient of one
example's mean token loss, over `grad_examples_per_level` examples from every bucket of dataset i
(the code: 4 batches of 2 per level; it then divides by one more factor 2, a rescaling that moves
neither the Adam objective's fixed point p ∝ R nor, much, its steps).

Local actors: dataset i's examples are split by a θ0 score into `levels` equal buckets (0 = lowest),
from the base_ppl file the workflow builds once per θ0 (`base_ppl.pool_size: null`: every training
example scored). The score (`bucket_score`) is the code's IFD by default: the mean response loss
after the prompt over the mean response loss of the answer alone, two θ0 forward passes per example
(mos.training.base_ppl), counted as the run's θ0 pre-pass (run.json `budget.theta0_prepass`); `ppl`
is θ0's response perplexity (one pass). At every update each bucket b gets r_b = mean_x PPL_θ(x) /
PPL_θ0(x) over `ppl_examples_per_level` examples (the code: 8 batches of 2), made relative, r_b /
mean_b' r_b', and the dataset's local scorer (free logits at 1, i.e. uniform over buckets, no prior
fit, the same update rule) takes `local_updates` updates. The sampler then draws a dataset's examples
with weight p_i(b) / |bucket b| (Update.example_weights; before the first update, uniformly).

Parameter by parameter (paper: not verified here; code: 800fe14, jobscripts/run_hbo.sh → run_clm.py →
utils.py):

    parameter               paper          released code                              ours (default)
    global prior τ          —              1, fitted (run_clm.py:205; utils.py:1529)  1 (prior_tau)
    actor init              —              logits 1 (utils.py:225)                    1
    update rule             REINFORCE?     Adam, 200 steps, lr 1e-4 both actors       Adam, 200 steps
    update interval         —              200 steps (run_hbo.sh:11)                  set by the config
                                                                                      (50 of 600; paper.yaml 200)
    levels                  —              4 (utils.py:405)                           4
    bucket score            IFD or PPL     IFD, precomputed (run_clm.py:515)          ifd (bucket_score)
    bucket split            —              sorted, n // levels, rest dropped          np.array_split, none dropped
    gradient-norm scope     —              whole sequence, labels = input_ids          sequence (grad_scope)
    grad examples / level   —              4 batches x 2                              8
    local reward            PPL ratio      PPL(now)/PPL(θ0), answer tokens, ÷ mean    the same (ppl_scope response)
    ppl examples / level    —              8 batches x 2                              16
    local updates / interval —             = accumulation steps (4), by reading       1 (local_updates)
    EMA                     optional       off (run_hbo.sh:13)                        off
    θ0 pre-pass             —              offline, unreported                        in run.json's budget

`local_updates`: the code's update hook sits in the micro-batch loop and only the global update
guards against a repeat within a step, so (by reading, not run) its local actors take one update per
micro-batch of the step, 4 in its script; we take one per interval and name the parameter.
The variant with the previous defaults (θ0-perplexity buckets, uniform start, response-token gradient
norms: `hbo_ppl`) is kept for comparison. Other differences, all small: examples within a bucket are
probe-drawn without replacement (the code: with); the whole-sequence gradient norm is taken in the
probe's eval-mode forward, as the code's (model.eval()).

    mixtures:
      hbo: {strategy: hbo, update_every: 50, scorer_lr: 4.0e-4}
      hbo_ppl: {strategy: hbo, update_every: 50, scorer_lr: 4.0e-4, bucket_score: ppl,
                prior_tau: .inf, grad_scope: training}
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


def difficulty_buckets(score: Mapping[int, float], size: int, levels: int, dataset: str) -> list[list[int]]:
    """Example indices split into `levels` buckets of increasing θ0 score (IFD or perplexity; ties by index)."""
    missing = sorted(set(range(size)) - set(score))
    if missing:
        raise ValueError(f"hbo: θ0 scores cover {len(score)} of the {size} examples of {dataset!r} (first "
                         f"missing: {missing[:3]}); the local actors need every example: set base_ppl.pool_size: null")
    order = sorted(range(size), key=lambda i: (score[i], i))
    return [chunk.tolist() for chunk in np.array_split(np.array(order, dtype=np.int64), levels)]


@dataclass
class HBO(ScoredStrategy):
    """HBO: MoS's scorer with a gradient-norm reward plus local scorers over difficulty buckets."""

    name = "hbo"
    needs_base_ppl = True
    prior_tau: float = 1.0                  # the global actor starts at q_1 (the code's temperature 1)
    levels: int = 4                         # difficulty buckets per dataset (the code's default)
    bucket_score: Literal["ifd", "ppl"] = "ifd"   # θ0's score the buckets sort by (the code: IFD)
    local_updates: int = 1                  # local actor updates per interval (the code, by reading: 4)
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
        if min(self.levels, self.grad_examples_per_level, self.ppl_examples_per_level, self.local_updates) < 1:
            raise ValueError("levels, grad_examples_per_level, ppl_examples_per_level and local_updates must be >= 1")

    @property
    def base_passes(self) -> int:
        """θ0 forward passes per example: IFD needs the answer alone besides the full sequence."""
        return 2 if self.bucket_score == "ifd" else 1

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
                values = (probe.base_ifd(n, pool) if self.bucket_score == "ifd"
                          else probe.base_perplexities(n, pool, "response"))
                self._buckets[n] = difficulty_buckets(dict(zip(pool, values.tolist(), strict=True)), size,
                                                      self.levels, n)
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
            for _ in range(self.local_updates):  # fresh rewards each time, as the code's repeated calls
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
        return {"level_probabilities": self.level_probabilities(), "levels": self.levels,
                "bucket_score": self.bucket_score}

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "locals": {n: p.state_dict() for n, p in self._locals.items()}}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        super().load_state_dict(state)
        for n, s in state.get("locals", {}).items():
            self._locals[n].load_state_dict(s)
