"""mSFT (Koh et al., 2026, arXiv 2603.21606): train on the mixture, drop the sub-dataset that overfits
first, roll back to its best checkpoint, go on with the rest.

The authors' code is not public; the rule follows third-party summaries of the paper (FIELD.md A1,
A5; notes/field-fidelity.md §8.3): from the current state, roll out training on the active datasets
for a budget C (`rollout_steps`), evaluating every active dataset's held-out metric along the way
(every `eval_every` steps; the paper: every quarter epoch); the dataset whose metric peaked earliest
inside the roll-out (its best evaluation is not the roll-out's last) is excluded and the run rolls
back to the state of its best evaluation; the next roll-out starts there on the remaining datasets.
If none peaked, the run keeps its state and the next roll-out starts at the end of this one. The
paper selects on benchmark accuracy; here the metric is the held-out loss (the token mean of the
`scope` loss over `validation_size` held-out examples per dataset, the fixed split of
mos.training.loop.hold_out): the lowest loss is the best. At least `min_active` datasets stay.

Budget, honestly: rolled-back steps are spent steps. The loop's step counter never goes back
(`Update.rollback_to` restores the model, optimizer, scheduler and weight average of a snapshot the
strategy asked the loop to keep, `Update.snapshots`; mos.training.snapshots), the run still ends
after `train.steps` optimizer steps, and the report says how many of them were rolled back. The
learning-rate schedule goes back with the model (it is part of the snapshot): after rollbacks of R
steps in all, the run ends with its schedule at step `steps − R`, before the decay has reached 0.
Snapshots are keyed by the step counter when they were taken; a roll-out that starts after a
rollback starts from the rolled-back-to snapshot, whose evaluation it reuses. The active datasets
are sampled by the temperature prior (`prior_tau` 1: proportional, i.e. the concatenation the paper's
SFT baseline trains on), renormalised over the active ones; an excluded dataset's weight is 0.
What happens when the budget ends inside a roll-out is not said by the summaries: the run ends with
its current state.

    mixtures:
      msft: {strategy: msft, validation_size: 100, eval_every: 50, rollout_steps: 200}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from mos.mixing.strategy import MixingStrategy, Update, Weights, normalize, temperature_weights

if TYPE_CHECKING:
    from mos.mixing.probe import Probe


def earliest_peak(history: Sequence[tuple[int, Mapping[str, float]]], active: Sequence[str]) -> tuple[str, int] | None:
    """The active dataset whose loss peaked earliest in a roll-out's evaluations (its lowest loss, the
    first one on ties, comes before the last evaluation), with the index of that evaluation; ties
    between datasets go to the earlier in `active`. None when every dataset still improves at the end."""
    found = None
    for name in active:
        losses = [losses[name] for _, losses in history]
        best = min(range(len(losses)), key=lambda k: (losses[k], k))
        if best < len(losses) - 1 and (found is None or best < found[1]):
            found = (name, best)
    return found


@dataclass
class MSFT(MixingStrategy):
    """mSFT: exclude the dataset whose held-out loss peaks first and roll back to its best step."""

    name = "msft"
    validation_size: int = 100              # held out per dataset: the overfitting check
    eval_every: int = 50                    # steps between held-out evaluations
    rollout_steps: int = 200                # C: steps of a roll-out before the decision
    prior_tau: float = 1.0                  # sampling of the active datasets (1: proportional, plain SFT)
    min_active: int = 1                     # never exclude below this many datasets
    scope: Literal["training", "response", "sequence"] = "training"
    _names: list[str] = field(default_factory=list, init=False, repr=False)
    _prior: dict[str, float] = field(default_factory=dict, init=False, repr=False)
    _active: list[str] = field(default_factory=list, init=False, repr=False)
    _history: list[list[Any]] = field(default_factory=list, init=False, repr=False)  # [snapshot step, {losses}]
    _begin: int = field(default=0, init=False, repr=False)   # the step counter when the roll-out began
    _excluded: list[dict[str, Any]] = field(default_factory=list, init=False, repr=False)
    _evaluations: list[dict[str, Any]] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.validation_size < 1 or self.eval_every < 1 or self.min_active < 1:
            raise ValueError(f"validation_size, eval_every and min_active must be >= 1, got {self.validation_size}, "
                             f"{self.eval_every}, {self.min_active}")
        if self.rollout_steps < self.eval_every:
            raise ValueError(f"rollout_steps ({self.rollout_steps}) must be at least eval_every ({self.eval_every})")

    @property
    def update_every(self) -> int:  # type: ignore[override]
        return self.eval_every

    @property
    def first_update(self) -> int:
        return 0  # the held-out losses of θ0 start the first roll-out

    def initial_weights(self, sizes: Mapping[str, int], seed: int = 0) -> Weights:
        self._names = list(sizes)
        self._prior = temperature_weights(sizes, self.prior_tau)
        self._active = list(sizes)
        self._history, self._begin, self._excluded, self._evaluations = [], 0, [], []
        return self.weights()

    def weights(self) -> Weights:
        return normalize({n: self._prior[n] if n in self._active else 0.0 for n in self._names})

    def held_out_losses(self, probe: Probe) -> dict[str, float]:
        return {n: probe.validation_loss(n, self.scope) for n in self._active}

    def update(self, step: int, probe: Probe) -> Update:
        losses = self.held_out_losses(probe)
        self._evaluations.append({"step": step, "losses": dict(losses)})
        if not self._history:
            self._history, self._begin = [[step, losses]], step
            return self._update(losses, keep=[step])
        self._history.append([step, losses])
        if step - self._begin < self.rollout_steps:
            return self._update(losses, keep=[k for k, _ in self._history])
        peak = earliest_peak(self._history, self._active) if len(self._active) > self.min_active else None
        if peak is None:  # nothing overfit inside the roll-out: the next one starts here
            self._history, self._begin = [[step, losses]], step
            return self._update(losses, keep=[step])
        name, best = peak
        back_to, best_losses = self._history[best]
        self._active.remove(name)
        self._excluded.append({"dataset": name, "step": step, "best_step": back_to,
                               "best_loss": best_losses[name], "last_loss": losses[name],
                               # the steps trained since the restored state was current are discarded
                               "rolled_back_steps": step - max(back_to, self._begin)})
        self._history = [[back_to, {n: best_losses[n] for n in self._active}]]
        self._begin = step
        return self._update(losses, keep=[back_to], rollback_to=back_to)

    def _update(self, losses: dict[str, float], keep: list[int], rollback_to: int | None = None) -> Update:
        return Update(self.weights(), reward=losses, snapshots=keep, rollback_to=rollback_to)

    def report(self, step: int) -> dict[str, Any]:
        return {"active": list(self._active), "excluded": self._excluded, "evaluations": self._evaluations,
                "rolled_back_steps": self.rolled_back_steps()}

    def rolled_back_steps(self) -> int:
        """Optimizer steps trained and then rolled back (they count in the budget all the same)."""
        return sum(e["rolled_back_steps"] for e in self._excluded)

    def state_dict(self) -> dict[str, Any]:
        return {"active": list(self._active), "history": [[k, dict(v)] for k, v in self._history],
                "begin": self._begin, "excluded": [dict(e) for e in self._excluded],
                "evaluations": [dict(e) for e in self._evaluations]}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self._active = list(state["active"])
        self._history = [[int(k), {n: float(x) for n, x in v.items()}] for k, v in state["history"]]
        self._begin = int(state["begin"])
        self._excluded = [dict(e) for e in state["excluded"]]
        self._evaluations = [dict(e) for e in state["evaluations"]]
