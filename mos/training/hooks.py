"""Extension points of the training loop: objects a caller passes to `Run(spec, out, hooks=[...])` to
observe or pace a run without touching its methods (the overhead benchmarks time updates, count
forward passes and take turns between runs through them).

    class Timer(RunHooks):
        def before_update(self, run): self.t = time.perf_counter()
        def after_update(self, run, update): print(run.step, time.perf_counter() - self.t)

    Run(spec, out, hooks=[Timer()]).run()

Every method is a no-op here; the loop calls them in this order: `before_step` before each optimizer
step, `after_step` after it (the step counter already advanced); `before_update` / `after_update`
around each strategy update (the first may come before step 1); `on_model_loaded` whenever the probe
loads another model (a dependency run's, e.g. DoReMi's reference); `before_finish` / `after_finish`
around writing the run's outputs. Hooks must not change what the run computes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from mos.mixing.strategy import Update
    from mos.training.loop import Run


class RunHooks:
    """Base class of loop hooks: override what you need."""

    def before_step(self, run: Run) -> None:
        """Before each optimizer step (run.step steps done so far)."""

    def after_step(self, run: Run, loss: float) -> None:
        """After each optimizer step, with its loss (run.step already counts it)."""

    def before_update(self, run: Run) -> None:
        """Before the strategy computes new weights (the first thing Run.update_strategy does)."""

    def after_update(self, run: Run, update: Update) -> None:
        """After the strategy's update was applied (run.weights holds the new weights)."""

    def on_model_loaded(self, run: Run, model: torch.nn.Module) -> None:
        """When the probe loads another model for the strategy."""

    def before_finish(self, run: Run) -> None:
        """Before the run writes its model and logs."""

    def after_finish(self, run: Run, info: dict[str, Any]) -> None:
        """After the run wrote its outputs (info is what run.json records)."""
