"""The one training loop: fine-tune a causal LM on a mixture of datasets chosen by a strategy (`Run`).

`python -m mos train` (mos.training.jobs) runs it on a job spec; scripts build `Run` directly.

Every optimizer step draws `batch_size` examples (dataset by the strategy's weights, example
uniformly within it unless the strategy weights the examples), packs them into rows without padding waste, and takes one AdamW step with
a linear warm-up/decay schedule. The loss is the summed token cross-entropy of the step divided by
the step's target tokens over ALL processes (a token mean over the whole batch), and the processes
share the draws of one global batch (mos.mixing.sampler), so 1, 2, 4 or 8 processes compute the same
gradient up to float rounding. `train.gradient_checkpointing` recomputes each layer's activations in
the backward pass (docs/memory.md). A dynamic strategy is asked for new weights every
`update_every` steps, or when its last update said; it may also weight the examples within a
dataset, read the losses of the drawn batches or other runs' folders, update at step 0, stop
updating, and keep snapshots of the training state to roll back to (mos.mixing.strategy,
mos.training.snapshots: the step counter never goes back). A checkpoint every `checkpoint_every`
steps holds everything the next steps depend on (model, optimizer, scheduler, strategy, sampler and
probe generators, logs, kept snapshots), so a killed run restarted with the same command continues
to the same final weights. Outputs in --out: model/ (Hugging Face format, with the tokenizer and the chat template the run trained with:
the spec's `chat_template` when it forces one), train_log.csv, trajectory.csv, run.json.

Under DeepSpeed (an accelerate config with `distributed_type: DEEPSPEED`) the engine steps the
optimizer itself at the end of each accumulation window and clips by its own config, so the loop
tells it the batch layout (micro_batch_size per forward, batch_size / (micro_batch_size x
processes) accumulation steps, grad_clip) and checkpoints the model and the ZeRO-partitioned
optimizer through `Accelerator.save_state`. Each process loads the checkpoint in bf16 there (the
engine casts it to bf16 anyway: `weights_dtype`), half the host memory of a float32 load. Nothing
imports deepspeed unless accelerate launched the run with it.

The parts a run is built from are functions of their own, which scripts/gpu_check.py calls too:
`make_accelerator`, `training_objects` (the model, loss, optimizer and schedule made ready) and
`make_probe`; `Run(spec, out, hooks=[...], strategy=...)` takes observers (mos.training.hooks) and a
strategy object of the caller's (the overhead benchmarks' replay arm).
"""

from __future__ import annotations

import csv
import json
import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import DistributedType
from tqdm.auto import tqdm

from mos.common.io import atomic_dir, write_csv, write_json
from mos.common.provenance import provenance
from mos.data.batching import IGNORE, Batch, pack
from mos.data.tokenized import TokenizedDataset, load_dataset_file, load_tokenized
from mos.data.tokenizer import load_tokenizer
from mos.mixing import registry
from mos.mixing.sampler import MixtureSampler
from mos.mixing.strategy import MixingStrategy, Weights, normalize
from mos.models.backbones import count_parameters, enable_checkpointing, load_model
from mos.models.loss import CausalLMLoss
from mos.training import snapshots, state
from mos.training.averaging import WeightAverage
from mos.training.hooks import RunHooks
from mos.training.settings import TrainSettings, lr_lambda, make_optimizer
from mos.training.step import train_step

TRAIN_LOG_COLUMNS = ["step", "loss", "lr", "tokens", "seconds"]
TRAJECTORY_COLUMNS = ["step", "dataset", "weight", "reward", "smoothed_reward", "drawn"]


SEED_STREAM_STRIDE = 1_000_003  # a prime: seed streams never meet within a grid's seeds


def run_seed(spec: Mapping[str, Any]) -> int:
    """The seed of a run's training randomness: the spec's `seed`, moved to another stream by `seed_stream`
    (an A/A copy of a mixture draws independently of the original on the same θ0)."""
    return int(spec.get("seed", 0)) + SEED_STREAM_STRIDE * int(spec.get("seed_stream", 0))


def load_datasets(spec: Mapping[str, Any], tokenizer, settings: TrainSettings) -> dict[str, TokenizedDataset]:
    """The spec's datasets, from the tokenization cache when the spec names a matching one."""
    cache = spec.get("tokenized")
    if cache:
        data, meta = load_tokenized(cache, settings.loss)
        wanted = {n: (e if isinstance(e, str) else e["path"]) for n, e in spec["datasets"].items()}
        if (meta["max_length"] == settings.max_length and meta.get("chat_template") == spec.get("chat_template")
                and meta.get("bos_token") == spec.get("bos_token")
                and all(meta["datasets"].get(n) == p for n, p in wanted.items())):
            return {n: data[n] for n in wanted}
    out = {}
    for name, entry in spec["datasets"].items():
        entry = {"path": entry} if isinstance(entry, str) else entry
        out[name] = load_dataset_file(name, entry["path"], tokenizer, settings.loss, settings.max_length,
                                      entry.get("format", "records"))
    return out


def hold_out(datasets: Mapping[str, TokenizedDataset], n: int) -> tuple[dict, dict]:
    """Split `n` validation examples off every dataset (a fixed split, the same for every seed)."""
    if n <= 0:
        return dict(datasets), {}
    train, val = {}, {}
    for name, data in datasets.items():
        if n > len(data) // 2:
            raise ValueError(f"validation_size {n} is more than half of dataset {name!r} ({len(data)} examples)")
        order = torch.randperm(len(data), generator=torch.Generator().manual_seed(sum(map(ord, name)))).tolist()
        val[name], train[name] = data.subset(sorted(order[:n])), data.subset(sorted(order[n:]))
    return train, val


def make_accelerator(settings: TrainSettings) -> Accelerator:
    """The run's accelerator: its precision's autocast, the CPU where there is no CUDA. The scheduler
    steps once per optimizer step: accelerate's default would step it once per process (it assumes
    per-process batches grow with the world size; ours are split)."""
    precision = {"fp32": "no", "bf16": "bf16", "fp16": "fp16"}[settings.precision]
    return Accelerator(mixed_precision=precision, cpu=not torch.cuda.is_available(),
                       step_scheduler_with_optimizer=False)


def weights_dtype(accelerator: Accelerator) -> torch.dtype:
    """The dtype each process loads the checkpoint in: bf16 under DeepSpeed's bf16 engine, which casts
    the parameters to bf16 before it builds anything from them (its fp32 master weights are copies of
    the bf16 ones), so loading bf16 gives the same run with half the host memory per process
    (tests/test_train.py checks the casts agree); float32 everywhere else (autocast keeps fp32 weights)."""
    deepspeed = accelerator.distributed_type == DistributedType.DEEPSPEED
    return torch.bfloat16 if deepspeed and accelerator.mixed_precision == "bf16" else torch.float32


def training_objects(model: torch.nn.Module, settings: TrainSettings, accelerator: Accelerator):
    """The model made ready to train as every run makes it: gradient checkpointing when the settings
    ask, the loss wrapper (CausalLMLoss), AdamW (make_optimizer) and the warm-up/decay schedule, all
    through `accelerator.prepare`. Returns (loss model, optimizer, scheduler) for mos.training.step."""
    if settings.gradient_checkpointing:
        enable_checkpointing(model)
    optimizer = make_optimizer(model, settings)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(settings))
    return accelerator.prepare(CausalLMLoss(model), optimizer, scheduler)


def make_probe(model: torch.nn.Module, settings: TrainSettings, accelerator: Accelerator,
               datasets: Mapping[str, TokenizedDataset], pad_id: int, seed: int,
               validation: Mapping[str, TokenizedDataset] | None = None, base_ppl: str | None = None,
               all_sum=None, on_model_loaded=None, optimizer: torch.optim.Optimizer | None = None):
    """The probe a dynamic strategy reads the run through: forward and backward passes no larger than
    a training micro-batch's (`rows_per_forward`, `grad_batch`), under the training forward's autocast,
    the gradients sharded over the processes (mos.mixing.probe)."""
    from mos.mixing.probe import Probe  # only dynamic strategies need it

    return Probe(model, datasets, pad_id, seed, accelerator.device, settings.pack_length, validation,
                 base_ppl, autocast=accelerator.autocast, rows_per_forward=settings.micro_batch_size,
                 grad_batch=settings.micro_batch_size, rank=accelerator.process_index,
                 world_size=accelerator.num_processes, all_sum=all_sum, on_model_loaded=on_model_loaded,
                 optimizer=optimizer)


class Run:
    """The state of one training run and the loop over it.

    `hooks` observe or pace the run (mos.training.hooks); `strategy` replaces the one the spec names
    (a caller's own MixingStrategy object, e.g. a benchmark's replay of recorded weights)."""

    def __init__(self, spec: Mapping[str, Any], out: Path, hooks: Sequence[RunHooks] = (),
                 strategy: MixingStrategy | None = None):
        self.spec, self.out = dict(spec), Path(out)
        self.hooks = list(hooks)
        self.settings = TrainSettings.from_spec(spec["train"])
        s = self.settings
        if s.batch_size % s.micro_batch_size:
            raise ValueError(f"train.batch_size {s.batch_size} is not a multiple of micro_batch_size {s.micro_batch_size}")
        self.acc = make_accelerator(s)
        if s.batch_size % (s.micro_batch_size * self.acc.num_processes) and self.acc.num_processes > 1:
            raise ValueError("batch_size must be a multiple of micro_batch_size x number of processes")
        self.deepspeed = self.acc.distributed_type == DistributedType.DEEPSPEED
        self.accumulation = s.batch_size // (s.micro_batch_size * self.acc.num_processes)
        if self.deepspeed:
            self._configure_deepspeed()
        self.seed = run_seed(spec)
        torch.manual_seed(self.seed)
        self.tokenizer = load_tokenizer(spec["model"], spec.get("chat_template"), spec.get("bos_token"))
        mixture = spec["mixture"]
        self.strategy = strategy or registry.build(mixture["strategy"], mixture.get("params", {}),
                                                   where=f"mixture {mixture.get('name')}")
        self.dependency_runs = self._dependency_runs()
        if self.dependency_runs:
            self.strategy.bind_runs(self.dependency_runs)
        if self.strategy.needs_base_ppl and not spec.get("base_ppl"):
            raise ValueError(f"strategy {mixture['strategy']!r} needs base-model perplexities: add 'base_ppl' "
                             "(a CSV from `python -m mos base-ppl`) to the job spec")
        self.datasets, self.validation = hold_out(load_datasets(spec, self.tokenizer, s),
                                                  int(self.strategy.validation_size))
        self.sizes = {n: len(d) for n, d in self.datasets.items()}
        self.weights: Weights = normalize(self.strategy.initial_weights(self.sizes, seed=self.seed))
        model = load_model(spec["model"], dtype=weights_dtype(self.acc))
        self.n_params = count_parameters(model)
        self.model, self.optimizer, self.scheduler = training_objects(model, s, self.acc)
        self.sampler = MixtureSampler(self.sizes, self.seed, self.acc.process_index, s.sampling_unit,
                                      self.acc.num_processes)
        self.probe = self._make_probe() if self.strategy.is_dynamic else None
        if self.probe is not None and self.strategy.needs_base_ppl:
            self.probe.check_base_numerics()  # θ0's perplexities in this run's precision, or stop now
        self.average = WeightAverage(self.hf_model, s.average, s.steps, s.average_decay, s.average_start)
        self.step, self.tokens, self.padding, self.elapsed = 0, 0, 0, 0.0
        self.rank_weight_spread = 0.0   # largest disagreement between ranks' updates (data parallel)
        self.sample_fingerprint = 0     # a checksum of this rank's draws (ranks must differ)
        self.train_log: list[dict[str, Any]] = []
        self.trajectory: list[dict[str, Any]] = []
        self.pending_loss: list[float] = []   # losses of the steps since the last train_log row
        self.next_update = self.strategy.first_update if self.strategy.is_dynamic else None
        self.snapshots: list[int] = []  # steps whose training state is kept (Update.snapshots)
        # loss sums, target tokens, examples per dataset since the last update (needs_train_losses)
        self.train_losses = (np.zeros((3, len(self.sizes)), dtype=np.float64)
                             if self.strategy.is_dynamic and self.strategy.needs_train_losses else None)
        self._drawn_datasets: np.ndarray | None = None

    def _dependency_runs(self) -> dict[str, str]:
        """{role: folder} of the finished runs the strategy reads (the spec's `runs`), checked."""
        wanted = self.strategy.dependencies()
        given = dict(self.spec.get("runs") or {})
        missing = sorted(set(wanted) - set(given))
        if missing:
            raise ValueError(f"strategy {self.strategy.name!r} reads the finished runs {', '.join(missing)} "
                             f"(mixtures {', '.join(wanted[m] for m in missing)} of this backbone and seed): add "
                             "'runs': {role: run folder} to the job spec (the workflow does)")
        for role in wanted:
            if not (Path(given[role]) / "run.json").exists():
                raise FileNotFoundError(f"job spec runs.{role}: {given[role]} is not a finished run (no run.json)")
        return {role: given[role] for role in wanted}

    def _configure_deepspeed(self) -> None:
        """Give DeepSpeed this run's batch layout before `prepare` builds its engine: examples per
        forward, accumulation steps per optimizer step (the engine steps at the window's end) and
        the clipping threshold (the engine clips; accelerate's clip_grad_norm_ does nothing)."""
        s = self.settings
        config = self.acc.state.deepspeed_plugin.deepspeed_config
        if config.get("zero_optimization", {}).get("offload_optimizer", {}).get("device", "none") != "none":
            raise ValueError("DeepSpeed optimizer offload is not supported: accelerate would replace this loop's "
                             "AdamW by DeepSpeed's CPU Adam, which the learning-rate schedule does not drive")
        self.acc.gradient_accumulation_steps = self.accumulation
        config.update({
            "train_micro_batch_size_per_gpu": s.micro_batch_size,
            "gradient_accumulation_steps": self.accumulation,
            "train_batch_size": s.batch_size,
            "gradient_clipping": s.grad_clip,
        })

    @property
    def hf_model(self) -> torch.nn.Module:
        """The Hugging Face model inside the loss wrapper (and any data-parallel wrapper)."""
        return self.acc.unwrap_model(self.model).model

    # -- strategy ---------------------------------------------------------------------------
    def _make_probe(self):
        return make_probe(self.hf_model, self.settings, self.acc, self.datasets, self.tokenizer.pad_token_id,
                          self.seed, self.validation, self.spec.get("base_ppl"), all_sum=self._all_sum,
                          on_model_loaded=lambda model: self._emit("on_model_loaded", model),
                          optimizer=self.optimizer)

    def _emit(self, event: str, *args: Any) -> None:
        for hook in self.hooks:
            getattr(hook, event)(self, *args)

    def _all_sum(self, values) -> list[float]:
        """Sums of floats over the processes (the probe's sharded gradients)."""
        t = torch.tensor(list(values), dtype=torch.float64, device=self.acc.device)
        return self.acc.reduce(t, reduction="sum").tolist()

    def _log_weights(self, reward=None, smoothed=None) -> None:
        counts = self.sampler.take_counts()
        if self.acc.num_processes > 1:  # examples drawn by all ranks together
            total = self.acc.reduce(torch.tensor(list(counts.values()), device=self.acc.device), reduction="sum")
            counts = dict(zip(counts, total.tolist(), strict=True))
        for name in self.sizes:
            self.trajectory.append({
                "step": self.step, "dataset": name, "weight": self.weights[name],
                "reward": None if reward is None else reward.get(name),
                "smoothed_reward": None if smoothed is None else smoothed.get(name),
                "drawn": counts[name],
            })

    def update_strategy(self) -> None:
        """Ask the strategy for new weights after `self.step` steps and apply them (the loop calls
        this on the strategy's schedule; a benchmark may call it to time one update alone). The
        hooks' before_update/after_update enclose all of it."""
        self._emit("before_update")
        if self.probe is not None:
            self.probe.learning_rate = self.scheduler.get_last_lr()[0]
            if self.train_losses is not None:
                self.probe.set_train_losses(self._take_train_losses())
        self.model.eval()
        update = self.strategy.update(self.step, self.probe)
        self.model.train()
        if update.next_update_in is not None and int(update.next_update_in) < 1:
            raise ValueError(f"strategy {self.strategy.name!r}: next_update_in must be >= 1, got {update.next_update_in}")
        step_in = int(update.next_update_in or self.strategy.update_every)
        self.next_update = None if update.final else self.step + step_in  # final: no more updates
        if update.snapshots is not None or update.rollback_to is not None:
            snapshots.apply(self, update.snapshots, update.rollback_to)
        for name, w in (update.example_weights or {}).items():
            self.sampler.set_example_weights(name, w)
        weights = normalize(update.weights)
        if self.acc.num_processes > 1:  # every rank computes the same update; rank 0's is the truth
            vec = torch.tensor([weights[n] for n in self.sizes], dtype=torch.float64, device=self.acc.device)
            spread = self.acc.gather(vec[None]).amax(0) - self.acc.gather(vec[None]).amin(0)
            self.rank_weight_spread = max(self.rank_weight_spread, float(spread.max()))
            torch.distributed.broadcast(vec, src=0)
            weights = {n: float(v) for n, v in zip(self.sizes, vec.tolist(), strict=True)}
        self.weights = weights
        self._log_weights(update.reward, update.smoothed_reward)
        self._emit("after_update", update)

    def _take_train_losses(self) -> dict[str, dict[str, float]]:
        """The per-dataset loss sums of the batches drawn since the last update (all ranks), then reset."""
        stats = torch.from_numpy(self.train_losses.copy())
        if self.acc.num_processes > 1:
            stats = self.acc.reduce(stats.to(self.acc.device), reduction="sum").cpu()
        self.train_losses[:] = 0
        return {n: {"loss_sum": float(stats[0, k]), "tokens": float(stats[1, k]), "examples": float(stats[2, k])}
                for k, n in enumerate(self.sizes)}

    def _record_train_losses(self, tok: torch.Tensor, batch: Batch, first: int) -> None:
        """Add a micro-batch's per-target losses to its examples' datasets (no extra forward pass)."""
        owner = torch.full(batch.labels.shape, -1, dtype=torch.long)
        for e, (r, a, b) in enumerate(batch.spans):
            owner[r, a:b] = e
        owner = owner[:, 1:][batch.labels[:, 1:] != IGNORE].numpy()
        which = self._drawn_datasets[first:first + len(batch.spans)]
        datasets = which[owner]
        np.add.at(self.train_losses[0], datasets, tok.double().cpu().numpy())
        np.add.at(self.train_losses[1], datasets, 1.0)
        np.add.at(self.train_losses[2], which, 1.0)

    # -- checkpoints (mos.training.state) ---------------------------------------------------
    @property
    def checkpoint_dir(self) -> Path:
        return state.checkpoint_dir(self)

    def save_checkpoint(self) -> None:
        state.save(self)

    def try_resume(self) -> bool:
        return state.resume(self)

    # -- the loop ---------------------------------------------------------------------------
    def _next_micro_batches(self) -> list[Batch]:
        s = self.settings
        local = s.batch_size // self.acc.num_processes
        which, index = self.sampler.draw(self.weights, s.batch_size)  # this rank's share of the global batch
        self._drawn_datasets = which
        self.sample_fingerprint = (self.sample_fingerprint * 1_000_003 + int((which * 7919 + index).sum())) % (2**61 - 1)
        data = list(self.datasets.values())
        ids = [data[d].ids[i] for d, i in zip(which, index, strict=True)]
        masks = [data[d].mask[i] for d, i in zip(which, index, strict=True)]
        pad = self.tokenizer.pad_token_id
        return [pack(ids[k:k + s.micro_batch_size], masks[k:k + s.micro_batch_size], s.pack_length, pad)
                for k in range(0, local, s.micro_batch_size)]

    def global_targets(self, local: int) -> int:
        """Target tokens of the optimizer step over all processes."""
        if self.acc.num_processes == 1:
            return local
        return int(self.acc.reduce(torch.tensor(local, device=self.acc.device), reduction="sum").item())

    def train_step(self) -> float:
        """Draw the step's batch and take one optimizer step on it (mos.training.step); its loss."""
        batches = self._next_micro_batches()
        record = None
        if self.train_losses is not None:  # the strategy reads the losses of the batches it drew
            def record(k: int, packed: Batch, per_token: torch.Tensor) -> None:
                self._record_train_losses(per_token, packed, k * self.settings.micro_batch_size)
        result = train_step(self.model, batches, accelerator=self.acc, optimizer=self.optimizer,
                            scheduler=self.scheduler, n_targets=self.global_targets(sum(b.n_targets for b in batches)),
                            grad_clip=self.settings.grad_clip, deepspeed=self.deepspeed,
                            accumulation=self.accumulation, on_micro_batch=record)
        self.tokens += result.tokens
        self.padding += result.padding
        return result.loss

    def run(self) -> dict[str, Any]:
        s = self.settings
        resumed = self.try_resume()
        if not resumed:
            if self.acc.is_main_process:  # a run started afresh keeps nothing of an earlier attempt
                snapshots.remove_all(self)
            if self.next_update == 0:  # the strategy's first update comes before the first step
                self.update_strategy()
            else:
                self._log_weights()
        bar = tqdm(total=s.steps, initial=self.step, disable=not self.acc.is_local_main_process,
                   desc=f"{self.spec.get('backbone', '')}/{self.spec['mixture'].get('name', '')}", mininterval=1.0)
        self.model.train()
        start, start_tokens = time.perf_counter() - self.elapsed, self.tokens
        t_segment = time.perf_counter()
        while self.step < s.steps:
            lr = self.scheduler.get_last_lr()[0]
            self._emit("before_step")
            loss = self.train_step()
            self.pending_loss.append(loss)
            self.step += 1
            self._emit("after_step", loss)
            self.average.update(self.step)
            if self.step % s.log_every == 0 or self.step == s.steps:
                self._log_row(lr, time.perf_counter() - start, bar)
            if self.strategy.is_dynamic and self.step == self.next_update and self.step < s.steps:
                self.update_strategy()
            if s.checkpoint_every and self.step % s.checkpoint_every == 0 and self.step < s.steps:
                self.elapsed = time.perf_counter() - start
                self.save_checkpoint()
            bar.update(1)
        bar.close()
        self.elapsed = time.perf_counter() - start
        if self.trajectory[-1]["step"] != self.step:
            self._log_weights()
        segment = time.perf_counter() - t_segment
        self._emit("before_finish")
        info = self.finish(segment, self.tokens - start_tokens, resumed)
        self._emit("after_finish", info)
        return info

    def budget(self) -> dict[str, Any]:
        """What this run trained on, and what the runs it depends on trained on (DoReMi's reference
        run, its two-stage variant's proxy run): those count as extra examples of this method; for a
        strategy that reads θ0's scores (base_ppl), the examples θ0 scored and its forward passes."""
        s = self.settings
        deps, extra = {}, 0
        for role, folder in self.dependency_runs.items():
            info = json.loads((Path(folder) / "run.json").read_text())
            dep = info.get("budget") or {"training_examples": int(info["spec"]["train"]["steps"])
                                         * int(info["spec"]["train"]["batch_size"]), "extra_training_examples": 0}
            deps[role] = {"run": str(folder), "mixture": info["spec"]["mixture"].get("name"),
                          "training_examples": dep["training_examples"],
                          "extra_training_examples": dep["extra_training_examples"]}
            extra += dep["training_examples"] + dep["extra_training_examples"]
        out = {"training_steps": s.steps, "training_examples": s.steps * s.batch_size,
               "extra_training_examples": extra, "dependency_runs": deps}
        if self.strategy.needs_base_ppl and self.spec.get("base_ppl"):  # θ0's pass over the pool, before training
            with open(self.spec["base_ppl"], newline="") as f:
                examples = sum(1 for _ in csv.DictReader(f))
            out["theta0_prepass"] = {"examples": examples,
                                     "forward_passes": examples * int(self.strategy.base_passes)}
        return out

    def _log_row(self, lr: float, seconds: float, bar) -> None:
        loss = sum(self.pending_loss) / len(self.pending_loss)
        if self.acc.num_processes > 1:
            loss = self.acc.reduce(torch.tensor(loss, device=self.acc.device), reduction="mean").item()
        self.pending_loss = []
        self.train_log.append({"step": self.step, "loss": loss, "lr": lr, "tokens": self.tokens, "seconds": round(seconds, 3)})
        weights = " ".join(f"{n[:4]}={w:.2f}" for n, w in self.weights.items())
        bar.set_postfix_str(f"loss={loss:.3f} tok/s={self.tokens / max(seconds, 1e-9):,.0f} {weights}", refresh=False)

    def finish(self, segment_seconds: float, segment_tokens: int, resumed: bool) -> dict[str, Any]:
        info = {
            "spec": self.spec,
            "provenance": provenance(),
            "timing": {"train_seconds": round(self.elapsed, 3),
                       "tokens_per_second": round(segment_tokens / max(segment_seconds, 1e-9), 1),
                       "resumed": resumed},
            "n_parameters": self.n_params,
            "tokens": self.tokens,
            "padding_fraction": self.padding / max(1, self.padding + self.tokens),
            "dataset_sizes": self.sizes,
            "final_weights": self.weights,
            "final_loss": self.train_log[-1]["loss"] if self.train_log else None,
            "world_size": self.acc.num_processes,
            "validation_sizes": {n: len(d) for n, d in self.validation.items()},
            "budget": self.budget(),
            "strategy_report": self.strategy.report(self.step),
        }
        if self.acc.num_processes > 1:
            prints = self.acc.gather(torch.tensor([self.sample_fingerprint], device=self.acc.device))
            info["data_parallel"] = {"rank_sample_fingerprints": prints.tolist(),
                                     "rank_weight_max_spread": self.rank_weight_spread}
        self.average.copy_to_model()  # the saved model is the average when train.average asks for one
        if self.acc.is_main_process:
            with atomic_dir(self.out / "model") as tmp:
                self.hf_model.save_pretrained(tmp, safe_serialization=True)
                self.tokenizer.save_pretrained(tmp)
            write_csv(self.out / "train_log.csv", self.train_log, TRAIN_LOG_COLUMNS)
            write_csv(self.out / "trajectory.csv", self.trajectory, TRAJECTORY_COLUMNS)
            write_json(self.out / "run.json", info)
            shutil.rmtree(self.checkpoint_dir, ignore_errors=True)
            snapshots.remove_all(self)
        self.acc.wait_for_everyone()
        return info
