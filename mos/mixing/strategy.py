"""The one contract every data-mixing strategy implements, and the temperature prior (paper Eq. 3).

A strategy decides how often each skill dataset is sampled. Static strategies only implement
`initial_weights`; dynamic ones also set `update_every` and implement `update`, which the training
loop calls every `update_every` optimizer steps with a read-only `Probe` of the current model.
Strategies are dataclasses: their fields are the parameters a config may set, e.g.

    mixtures:
      temperature: {strategy: temperature, tau: 10}

Adding a strategy is one file in `baselines/` with one subclass that sets `name`; the registry
(`mos.mixing.registry`) discovers it and the contract tests in `tests/test_strategy_contract.py` cover it.

What a strategy may ask of the loop, each optional (the defaults change nothing):
    needs_base_ppl       (class attribute or property) θ0's perplexities (and IFD) of the probe pool: the job
                         spec gets `base_ppl`; `base_passes` θ0 forward passes per pool example that reading
                         costs (1; HBO's IFD buckets: 2), recorded in run.json `budget.theta0_prepass`
    validation_size      (class attribute or field) examples held out of every dataset: probe split "validation"
    needs_train_losses   loss sums, target tokens and examples per dataset of the training batches
                         drawn since the last update: `probe.train_losses()` (ODM)
    first_update         steps before the first update; 0 = an update at step 0, before training
    Update.next_update_in   steps until the next update (default `update_every`): a strategy's own
                         schedule (Aioli's rounds of training bursts)
    Update.example_weights  sampling weights of the examples within a dataset (HBO's local actors)
    Update.final         no update after this one: the weights stay for the rest of the run (the
                         mixing laws' one fit at step 0: RegMix, MixMin)
    Update.snapshots     the steps whose training state (model, optimizer, scheduler, weight average)
                         the loop must hold after this update; the current step among them is taken
                         now, before any rollback. Kept on disk in the run folder (<out>/snapshots/),
                         part of every checkpoint, deleted when a checkpoint no longer needs them and
                         when the run ends (mSFT's candidate rollback points)
    Update.rollback_to   restore the training state of that kept snapshot before training goes on. The
                         step counter never goes back: rolled-back steps are spent steps and the run
                         still ends after `steps` optimizer steps; the sampler, the probe's generator
                         and the logs go on (mSFT)
    dependencies()       finished runs of the same backbone and seed it reads, {role: mixture};
                         the workflow trains them first and the loop passes their folders to
                         `bind_runs` (DoReMi's reference model, its two-stage variant's proxy run,
                         RegMix's proxy runs, MixMin's single-dataset runs)
    dependency_datasets(role, datasets)   the datasets the run of `role` must train on, given this
                         mixture's (default: the same; MixMin's proxy of a dataset: that one alone)
    input_files()        files a workflow job writes that the strategy reads (the fitted optimum of the
                         headroom experiment); the run waits for them
    report()             what run.json records about the strategy (e.g. burst steps, ᾱ)

What the probe lets a strategy read (mos.mixing.probe), never change: the current model's losses,
gradients and states on drawn examples, other runs' models, θ0's scores, and the run's optimizer
(`probe.optimizer`, the loop passes it): only `probe.lookahead(..., step="adam")` reads it, the
per-parameter AdamW moments and settings of the next step (DynamixSFT's look-ahead through the
optimizer's preconditioning); the parameters are restored and the optimizer's state is untouched.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from mos.mixing.probe import Probe

Weights = dict[str, float]  # dataset name -> sampling probability; non-negative, sums to 1


class UnboundRunsError(RuntimeError):
    """A strategy that reads other runs (`dependencies()`) was used before `bind_runs` gave it their
    folders (e.g. a config check that dry-runs `initial_weights`)."""


@dataclass
class Update:
    """What a dynamic strategy returns at an update: new weights and the rewards behind them.

    next_update_in: optimizer steps until the next update (None: `update_every`).
    example_weights: per dataset, one non-negative sampling weight per training example, used to
        draw examples within that dataset from now on (None: keep the current ones; at the start
        examples are drawn uniformly). Datasets not named keep theirs.
    final: no further update; the weights stay (next_update_in is then ignored).
    snapshots: the steps whose training state the loop holds after this update (None: keep the
        ones it holds); the current step among them is taken now, before `rollback_to`.
    rollback_to: a kept snapshot's step whose model, optimizer, scheduler and weight average are
        restored now; the step counter goes on (rolled-back steps are spent).
    """

    weights: Weights
    reward: dict[str, float] | None = None
    smoothed_reward: dict[str, float] | None = None
    next_update_in: int | None = None
    example_weights: Mapping[str, Sequence[float]] | None = None
    final: bool = False
    snapshots: Sequence[int] | None = None
    rollback_to: int | None = None


@dataclass
class MixingStrategy:
    """Base class. Subclasses are dataclasses whose fields are their config parameters."""

    name: ClassVar[str] = ""
    update_every: ClassVar[int | None] = None  # None: static (subclasses may shadow with a field)
    needs_train_losses: ClassVar[bool] = False  # the loop records the losses of the batches it draws
    needs_base_ppl: ClassVar[bool] = False  # θ0's perplexities: the job spec gets `base_ppl` (may be a property)
    validation_size: ClassVar[int] = 0      # examples held out of every dataset (may be a field)
    base_passes: ClassVar[int] = 1          # θ0 forward passes per example behind needs_base_ppl (may be a property)

    def initial_weights(self, sizes: Mapping[str, int], seed: int = 0) -> Weights:
        """Weights before the first optimizer step, given the number of examples per dataset."""
        raise NotImplementedError

    def update(self, step: int, probe: Probe) -> Update:
        """New weights after `step` optimizer steps (dynamic strategies only)."""
        raise NotImplementedError(f"strategy {self.name!r} is static and has no update()")

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume exactly (tensors allowed); static strategies have none."""
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if state:
            raise ValueError(f"strategy {self.name!r} has no state, got keys {sorted(state)}")

    @property
    def is_dynamic(self) -> bool:
        return bool(self.update_every)

    @property
    def first_update(self) -> int:
        """Optimizer steps before the first update (0: one update before the first step)."""
        return int(self.update_every or 0)

    def dependencies(self) -> dict[str, str]:
        """Finished runs this strategy reads, as {role: mixture label} of the same backbone and seed."""
        return {}

    def dependency_datasets(self, role: str, datasets: Sequence[str]) -> list[str]:
        """The datasets the run of `role` must train on, given this mixture's `datasets`."""
        return list(datasets)

    def input_files(self) -> list[str]:
        """Files this strategy reads that a workflow job writes (e.g. a fitted optimum's weights): the
        workflow trains the run only after they exist. Default: none."""
        return []

    def bind_runs(self, runs: Mapping[str, str]) -> None:
        """Receive {role: run folder} for every role of `dependencies()`, before `initial_weights`."""
        missing = sorted(set(self.dependencies()) - set(runs))
        if missing:
            raise ValueError(f"strategy {self.name!r} reads the runs {missing}; got folders for {sorted(runs)}")

    def report(self, step: int) -> dict[str, Any]:
        """JSON-serialisable facts about the strategy that run.json records after `step` optimizer
        steps, the run's last (default: none)."""
        return {}

    @classmethod
    def contract_params(cls, sizes: Mapping[str, int]) -> dict[str, Any]:
        """Parameters the shared contract tests build this strategy with (defaults: none)."""
        return {}


def normalize(weights: Mapping[str, float]) -> Weights:
    """Scale non-negative weights to sum to 1, keeping the key order."""
    bad = {k: v for k, v in weights.items() if not (v >= 0 and math.isfinite(v))}
    if bad:
        raise ValueError(f"weights must be finite and non-negative, got {bad}")
    total = sum(weights.values())
    if total <= 0:
        raise ValueError(f"weights must not all be zero: {dict(weights)}")
    return {k: float(v) / total for k, v in weights.items()}


def temperature_weights(sizes: Mapping[str, int], tau: float) -> Weights:
    """q_tau(i) ∝ (M_i / Σ M)^(1/tau): tau=1 proportional, tau=inf uniform (paper Eq. 3)."""
    if not sizes:
        raise ValueError("no datasets given")
    if tau is None or not tau > 0:
        raise ValueError(f"tau must be > 0 (use inf for uniform), got {tau}")
    if any(n <= 0 for n in sizes.values()):
        raise ValueError(f"every dataset needs at least one example: {dict(sizes)}")
    total = sum(sizes.values())
    inv = 0.0 if math.isinf(tau) else 1.0 / tau
    return normalize({k: (n / total) ** inv for k, n in sizes.items()})


def parse_tau(value: Any) -> float:
    """Accept numbers, 'inf' and YAML's .inf for the temperature."""
    if isinstance(value, str) and value.strip().lower() in {"inf", "infinity", ".inf"}:
        return math.inf
    return float(value)


__all__ = ["MixingStrategy", "UnboundRunsError", "Update", "Weights", "field", "normalize", "parse_tau",
           "temperature_weights"]
