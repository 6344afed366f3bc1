"""Training states a strategy asks the loop to keep, and the rollback to one of them
(`Update.snapshots`, `Update.rollback_to` in mos.mixing.strategy; mSFT rolls back to a dataset's best step).

    snapshots.apply(run, keep=[0, 50, 100], rollback_to=50)   # at an update: take, then restore
    snapshots.prune(run)       # after a checkpoint is complete: delete what it does not name
    snapshots.remove_all(run)  # when the run ends, or starts afresh

A snapshot is the folder <out>/snapshots/step<k>/ (k: the optimizer steps done when it was taken):
model.safetensors and state.pt (optimizer, scheduler, weight average), written atomically once. The
steps kept (`run.snapshots`) are one of the loop's checkpointed fields (mos.training.state), and a
folder is deleted only after a complete checkpoint that does not name it, so a run killed between two
checkpoints finds every snapshot its last checkpoint needs; one it takes again on the way writes the
same bytes. The step counter, the sampler, the probe's generator and the logs never go back: the
steps after a rolled-back-to snapshot are spent.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from safetensors.torch import load_model, save_model

from mos.common.io import atomic_dir

if TYPE_CHECKING:
    from mos.training.loop import Run


def root(run: Run) -> Path:
    return run.out / "snapshots"


def folder(run: Run, step: int) -> Path:
    return root(run) / f"step{int(step)}"


def apply(run: Run, keep: Sequence[int] | None, rollback_to: int | None) -> None:
    """Take the current step's snapshot when `keep` names it, restore `rollback_to`'s, then hold `keep`."""
    if run.deepspeed:
        raise NotImplementedError(f"strategy {run.strategy.name!r} keeps training snapshots, which this loop "
                                  "does not implement under DeepSpeed (ZeRO-partitioned optimizer state)")
    held = set(run.snapshots)
    wanted = [int(k) for k in (run.snapshots if keep is None else keep)]
    unknown = sorted(k for k in wanted if k not in held and k != run.step)
    if unknown:
        raise ValueError(f"strategy {run.strategy.name!r} asks to keep snapshots of steps {unknown}, which were "
                         f"not taken (held: {sorted(held)}; only the current step {run.step} can be added)")
    if run.step in wanted and run.step not in held:
        _take(run, run.step)
        held.add(run.step)
    if rollback_to is not None:
        if int(rollback_to) not in held:
            raise ValueError(f"strategy {run.strategy.name!r} rolls back to step {rollback_to}, which has no "
                             f"snapshot (held: {sorted(held)})")
        _restore(run, int(rollback_to))
    run.snapshots = sorted(set(wanted))


def _take(run: Run, step: int) -> None:
    if run.acc.is_main_process:
        with atomic_dir(folder(run, step)) as tmp:
            save_model(run.hf_model, str(tmp / "model.safetensors"))
            torch.save({"optimizer": run.optimizer.state_dict(), "scheduler": run.scheduler.state_dict(),
                        "average": run.average.state_dict()}, tmp / "state.pt")
    run.acc.wait_for_everyone()


def _restore(run: Run, step: int) -> None:
    path = folder(run, step)
    if not (path / "state.pt").exists():
        raise FileNotFoundError(f"{path}: the snapshot of step {step} is missing; delete {run.out / 'checkpoint'} "
                                "and the run folder's snapshots/ to start the run over")
    state = torch.load(path / "state.pt", weights_only=True)
    load_model(run.hf_model, str(path / "model.safetensors"))
    run.optimizer.load_state_dict(state["optimizer"])
    run.scheduler.load_state_dict(state["scheduler"])
    run.average.load_state_dict(state["average"])


def prune(run: Run) -> None:
    """Delete the snapshot folders the run no longer holds (call once a checkpoint naming
    `run.snapshots` is complete; main process)."""
    if not root(run).exists():
        return
    keep = {folder(run, k).name for k in run.snapshots}
    for path in root(run).iterdir():
        if path.name not in keep:
            shutil.rmtree(path, ignore_errors=True)


def remove_all(run: Run) -> None:
    shutil.rmtree(root(run), ignore_errors=True)
