"""A training run's resumable state: what a checkpoint holds, written atomically and read back so that
a killed run restarted with the same command continues to the same final weights.

    state.save(run)             # <out>/checkpoint/: state.pt, model.safetensors, rank<k>.pt (or deepspeed/)
    resumed = state.resume(run) # False when there is no checkpoint

A checkpoint holds everything the next steps depend on: the model and the optimizer (DeepSpeed: its
ZeRO-partitioned state through `Accelerator.save_state`), the scheduler, the strategy's and the probe's
state, the weight average, torch's generator, the loop's counters and logs (RUN_FIELDS), and per rank
the sampler's generators and draws, and the steps of the training snapshots a strategy keeps (their
folders, <out>/snapshots/, are pruned only after a complete checkpoint: mos.training.snapshots). The
folder replaces the previous checkpoint only once complete.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from safetensors.torch import load_model, save_model

from mos.training import snapshots

if TYPE_CHECKING:
    from mos.training.loop import Run

# The loop's own counters and logs, saved and restored as they are.
RUN_FIELDS = ("step", "tokens", "padding", "elapsed", "weights", "train_log", "trajectory", "rank_weight_spread",
              "next_update", "pending_loss", "snapshots")


def checkpoint_dir(run: Run) -> Path:
    return run.out / "checkpoint"


def save(run: Run) -> None:
    """Write the run's state to <out>/checkpoint (see the module docstring); every rank takes part."""
    acc, staging = run.acc, run.out / ".checkpoint.tmp"
    if acc.is_main_process:
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
    acc.wait_for_everyone()
    torch.save({"sampler": {**run.sampler.state_dict(), "drawn": run.sampler.drawn.tolist()},
                "sample_fingerprint": run.sample_fingerprint},
               staging / f"rank{acc.process_index}.pt")
    if run.deepspeed:  # every rank writes its partition of the optimizer (and the fp32 weights)
        acc.save_state(str(staging / "deepspeed"))
    acc.wait_for_everyone()
    if acc.is_main_process:
        state = {
            "spec": run.spec, "world_size": acc.num_processes,
            **{key: getattr(run, key) for key in RUN_FIELDS},
            "optimizer": {} if run.deepspeed else run.optimizer.state_dict(),
            "scheduler": run.scheduler.state_dict(),
            "strategy": run.strategy.state_dict(),
            "probe": run.probe.state_dict() if run.probe else {},
            "average": run.average.state_dict(),
            "torch_rng": torch.get_rng_state(),
        }
        if run.train_losses is not None:
            state["train_losses"] = torch.from_numpy(run.train_losses.copy())
        if not run.deepspeed:
            save_model(run.hf_model, str(staging / "model.safetensors"))
        torch.save(state, staging / "state.pt")
        final, old = checkpoint_dir(run), run.out / ".checkpoint.old"
        shutil.rmtree(old, ignore_errors=True)
        if final.exists():
            os.replace(final, old)
        os.replace(staging, final)
        shutil.rmtree(old, ignore_errors=True)
        snapshots.prune(run)  # the snapshots this checkpoint does not name are no longer needed
    acc.wait_for_everyone()


def resume(run: Run) -> bool:
    """Restore the run from <out>/checkpoint; False when there is none. A checkpoint of another job spec or
    world size is an error that says how to start over."""
    folder = checkpoint_dir(run)
    path = folder / "state.pt"
    if not path.exists():
        return False
    state = torch.load(path, weights_only=True)
    if state["spec"] != run.spec:
        raise RuntimeError(f"{path} was written by a different job spec; delete {folder} to start over")
    if state["world_size"] != run.acc.num_processes:
        raise RuntimeError(f"{path} was written by {state['world_size']} processes, not {run.acc.num_processes}")
    rank = torch.load(folder / f"rank{run.acc.process_index}.pt", weights_only=True)
    if run.deepspeed:
        run.acc.load_state(str(folder / "deepspeed"))
    else:
        load_model(run.hf_model, str(folder / "model.safetensors"))
        run.optimizer.load_state_dict(state["optimizer"])
    run.scheduler.load_state_dict(state["scheduler"])
    run.sampler.load_state_dict(rank["sampler"])
    run.sample_fingerprint = rank["sample_fingerprint"]
    run.strategy.load_state_dict(state["strategy"])
    if run.probe:
        run.probe.load_state_dict(state["probe"])
    run.average.load_state_dict(state.get("average", {}))
    torch.set_rng_state(state["torch_rng"])
    for key in RUN_FIELDS:
        if key in state:
            setattr(run, key, state[key])
    if run.train_losses is not None:
        run.train_losses = state["train_losses"].numpy().copy()
    return True
