"""One optimizer step of the training loop on already packed micro-batches: the computation the loop,
the benchmarks and the GPU check all run (scripts/gpu_check.py calls this function, not a copy).

    result = train_step(loss_model, batches, accelerator=acc, optimizer=opt, scheduler=sched,
                        n_targets=sum(b.n_targets for b in batches), grad_clip=1.0)

The loss is the summed token cross-entropy of the step divided by the step's target tokens over ALL
processes (`n_targets`, a token mean over the whole global batch), times the number of processes
because DDP and DeepSpeed average the ranks' gradients: the gradient is then that of one process
holding the whole batch. Under DeepSpeed the engine syncs, clips and steps at the last micro-batch of
its accumulation window (`deepspeed=True`, `accumulation` = micro-batches per process and step);
elsewhere gradients sync only at the last micro-batch, are clipped to `grad_clip`, and the optimizer
and scheduler step once. `on_micro_batch(k, packed, per_token_losses)` receives each micro-batch's
detached per-target losses (one forward pass, the same summed loss) when a strategy reads them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass

import torch
from accelerate import Accelerator

from mos.data.batching import Batch


@dataclass
class StepResult:
    """What one optimizer step reports: its loss (the batch's token mean) and what it consumed."""

    loss: float
    tokens: int
    padding: int


def train_step(model: torch.nn.Module, batches: Sequence[Batch], *, accelerator: Accelerator,
               optimizer: torch.optim.Optimizer, scheduler: torch.optim.lr_scheduler.LRScheduler | None,
               n_targets: int, grad_clip: float = 0.0, deepspeed: bool = False, accumulation: int = 1,
               on_micro_batch: Callable[[int, Batch, torch.Tensor], None] | None = None) -> StepResult:
    """Forward and backward over `batches` (a loss model: mos.models.loss.CausalLMLoss, possibly wrapped
    by `accelerator.prepare`), then one optimizer step; see the module docstring."""
    acc, world = accelerator, accelerator.num_processes
    total, tokens, padding = 0.0, 0, 0
    for k, packed in enumerate(batches):
        batch = Batch(*(t.to(acc.device) for t in (packed.input_ids, packed.position_ids, packed.labels)),
                      packed.n_tokens, packed.n_targets)
        sync = k == len(batches) - 1
        if deepspeed:  # the engine syncs, clips and steps at the last micro-batch of the window
            ctx = acc.accumulate(model)
        else:
            ctx = acc.no_sync(model) if not sync and world > 1 else nullcontext()
        with ctx, acc.autocast():
            if on_micro_batch is not None:  # the same loss, plus its per-target terms
                summed, per_token = model(batch.input_ids, batch.position_ids, batch.labels, per_token=True)
                on_micro_batch(k, packed, per_token)
                loss = summed / max(1, n_targets)
            else:
                loss = model(batch.input_ids, batch.position_ids, batch.labels) / max(1, n_targets)
            if world > 1:
                loss = loss * world
            # DeepSpeed divides the loss by its accumulation steps; ours is already a batch mean
            acc.backward(loss * accumulation if deepspeed else loss)
            if deepspeed and acc.sync_gradients != sync:
                raise RuntimeError(f"DeepSpeed accumulation is out of step with the batch ({len(batches)} "
                                   f"micro-batches, {accumulation} accumulation steps)")
        total += loss.item()
        tokens += batch.n_tokens
        padding += batch.n_padding
    if grad_clip:
        acc.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    if scheduler is not None:
        scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    return StepResult(total, tokens, padding)
