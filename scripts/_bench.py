"""The overhead benchmarks' shared harness (scripts/benchmark_mos_overhead.py and
scripts/benchmark_field_overhead.py import it; it is not a script of its own).

    from _bench import Lockstep, PassCounter, UpdateTimer, best_time, job_spec, log, prepare

    built = prepare(work, cfg, "tiny-llama", threads=1)          # testbed ... base perplexities, in work/
    lock = Lockstep(["uniform", "mos_cossim"], turn=50)
    runs = {label: Run(spec[label], out / label, hooks=[lock.turns(label), UpdateTimer(), PassCounter()])
            for label in lock.order}
    infos = lock.run_all(runs)                                   # what each run.json records
    lock.wall["mos_cossim"], lock.cpu["mos_cossim"]              # seconds of its turns

Everything observes the real training loop (mos.training.loop.Run, unchanged) through its hooks
(mos.training.hooks.RunHooks); nothing here replaces a method of a run or of its strategy:

- `Lockstep.turns(label)` makes runs take turns, one thread each: a run trains until the next step
  multiple of `turn` (the update there included; `before_step`), then hands over; its last turn ends
  before its outputs are written (`before_finish`, handed over at `after_finish`). Only the thread
  holding the turn works, so the runs never compete for the CPU and load from other processes falls on
  every arm alike. Each arm's time is the sum of its turns, in wall seconds and in CPU seconds of its
  thread (one torch thread computes inline).
- `UpdateTimer` times each strategy update in place (`before_update` / `after_update`), in wall and
  thread CPU seconds, and can record the weights after every update (a replay arm reads them).
- `PassCounter` counts the tokens through the decoders of every model a run uses: the trained one and
  each model the probe loads for the strategy (`on_model_loaded`: DoReMi's reference), split into
  training, update forward-only and update forward-with-gradients passes.
"""

from __future__ import annotations

import contextlib
import io
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

from mos.common.io import write_csv
from mos.data.testbed.build import TestbedConfig, build
from mos.data.tokenized import load_dataset_file, save_tokenized
from mos.data.tokenizer import load_tokenizer, train_tokenizer, training_texts
from mos.mixing.strategy import Update
from mos.pipeline.specs import pretrain_spec
from mos.training.base_ppl import COLUMNS as BASE_PPL_COLUMNS
from mos.training.base_ppl import base_perplexities
from mos.training.hooks import RunHooks
from mos.training.loop import Run
from mos.training.pretrain import pretrain


def log(msg: str) -> None:
    print(msg, flush=True)


def prepare(work: Path, cfg: Mapping[str, Any], backbone: str, threads: int) -> dict[str, Any]:
    """Testbed, tokenizer, pretrained backbone, tokenization cache and base perplexities in `work`
    (each step skipped when its output is already there). Returns the paths and build times."""
    seconds: dict[str, float] = {}
    testbed = work / "testbed"
    if not (testbed / "manifest.json").exists():
        t = time.perf_counter()
        build(TestbedConfig(seed=cfg["testbed"]["seed"], scale=cfg["testbed"]["scale"]), testbed)
        seconds["testbed"] = time.perf_counter() - t
    tok_dir = work / "tokenizer"
    if not (tok_dir / "tokenizer.json").exists():
        t = time.perf_counter()
        train_tokenizer(training_texts(testbed), cfg["tokenizer"]["vocab_size"]).save_pretrained(tok_dir)
        seconds["tokenizer"] = time.perf_counter() - t
    out = work / "backbones" / backbone
    model = out / "model"
    if not (model / "config.json").exists():
        t = time.perf_counter()
        spec = {**pretrain_spec(cfg, backbone, cfg["pretrain"]["seeds"][0]), "tokenizer": str(tok_dir),
                "corpus": str(testbed / "corpus.jsonl"), "dialogues": str(testbed / "dialogues.jsonl")}
        pretrain(spec, out, threads)
        seconds["pretrain"] = time.perf_counter() - t
    files = {name: str(testbed / "train" / f"{name}.jsonl") for name in cfg["datasets"]}
    max_length = int(cfg["train"]["max_length"])
    tokenized = work / "tokenized" / f"{backbone}.npz"
    if not tokenized.exists():
        t = time.perf_counter()
        tok = load_tokenizer(str(model))
        data = {n: load_dataset_file(n, p, tok, "response", max_length) for n, p in files.items()}
        save_tokenized(tokenized, data, {"model": str(model), "max_length": max_length, "datasets": files})
        seconds["tokenize"] = time.perf_counter() - t
    base_ppl = work / "base_ppl" / f"{backbone}.csv"
    if not base_ppl.exists():
        t = time.perf_counter()
        rows = base_perplexities({"model": str(model), "datasets": files, "tokenized": str(tokenized),
                                  "max_length": max_length, "pool_size": cfg["base_ppl"].get("pool_size"),
                                  "seed": cfg["base_ppl"].get("seed", 0)})
        write_csv(base_ppl, rows, BASE_PPL_COLUMNS)
        seconds["base_ppl"] = time.perf_counter() - t
    return {"model": model, "files": files, "tokenized": tokenized, "base_ppl": base_ppl,
            "build_seconds": {k: round(v, 1) for k, v in seconds.items()}}


def job_spec(built: Mapping[str, Any], backbone: str, label: str, strategy: str, params: Mapping[str, Any],
             train: Mapping[str, Any]) -> dict[str, Any]:
    """A training job spec over the built testbed (what `python -m mos train --spec` reads)."""
    return {"backbone": backbone, "model": str(built["model"]), "datasets": built["files"],
            "mixture": {"name": label, "strategy": strategy, "params": dict(params)}, "train": dict(train),
            "tokenized": str(built["tokenized"]), "base_ppl": str(built["base_ppl"]), "seed": 0}


def best_time(fn: Callable[[], Any], repeats: int, warmup: int = 1) -> float:
    """Seconds of the fastest of `repeats` calls: isolated timings take the least disturbed call,
    since other processes share the cores (the run-level ratios use interleaved medians instead)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


class Lockstep:
    """Turns between several real training runs, one thread each (see the module docstring)."""

    def __init__(self, labels: list[str], turn: int):
        if turn < 1:
            raise ValueError(f"turn must be >= 1 step, got {turn}")
        self.order, self.turn, self.current, self.done = list(labels), int(turn), 0, set()
        self.cond = threading.Condition()
        self.wall = dict.fromkeys(labels, 0.0)
        self.cpu = dict.fromkeys(labels, 0.0)
        self.turns_taken = dict.fromkeys(labels, 0)
        self._start: dict[str, tuple[float, float]] = {}

    def turns(self, label: str) -> RunHooks:
        """The hooks that make the run labelled `label` take its turns."""
        if label not in self.wall:
            raise KeyError(f"{label!r} is not one of the lockstep's runs {self.order}")
        return _Turns(self, label)

    def acquire(self, label: str) -> None:
        with self.cond:
            self.cond.wait_for(lambda: self.order[self.current] == label)
        self._start[label] = (time.perf_counter(), time.thread_time())

    def stop(self, label: str) -> None:
        if label in self._start:
            wall, cpu = self._start.pop(label)
            self.wall[label] += time.perf_counter() - wall
            self.cpu[label] += time.thread_time() - cpu
            self.turns_taken[label] += 1

    def hand_over(self, label: str, finished: bool = False) -> None:
        with self.cond:
            if finished:
                self.done.add(label)
            if self.order[self.current] == label:
                for k in range(1, len(self.order) + 1):
                    nxt = (self.current + k) % len(self.order)
                    if self.order[nxt] not in self.done:
                        self.current = nxt
                        break
            self.cond.notify_all()

    def run_all(self, runs: Mapping[str, Run]) -> dict[str, dict[str, Any]]:
        """Run every run (built with `hooks=[self.turns(label), ...]`) to its end in turns; what
        each returns (its run.json). A run that fails hands its turns over and the error is raised
        after the others finished."""
        if list(runs) != self.order:
            raise ValueError(f"runs {list(runs)} are not the lockstep's order {self.order}")
        info: dict[str, dict[str, Any]] = {}
        errors: dict[str, BaseException] = {}

        def target(label: str) -> None:
            try:
                info[label] = runs[label].run()
            except BaseException as e:  # never leave the other arms waiting for this one's turn
                errors[label] = e
                self.stop(label)
                self.hand_over(label, finished=True)

        threads = [threading.Thread(target=target, args=(label,), name=label) for label in self.order]
        with contextlib.redirect_stderr(io.StringIO()):  # the runs' progress bars
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        if errors:
            raise RuntimeError(f"benchmark run failed: {errors}") from next(iter(errors.values()))
        return info


class _Turns(RunHooks):
    """One run's side of a Lockstep: its turn ends at step multiples of `turn`, its last before the
    outputs are written (writing them is not timed but still holds the turn)."""

    def __init__(self, lock: Lockstep, label: str):
        self.lock, self.label = lock, label

    def before_step(self, run: Run) -> None:
        if run.step % self.lock.turn == 0:
            if run.step > 0:
                self.lock.stop(self.label)
                self.lock.hand_over(self.label)
            self.lock.acquire(self.label)

    def before_finish(self, run: Run) -> None:
        self.lock.stop(self.label)

    def after_finish(self, run: Run, info: dict[str, Any]) -> None:
        self.lock.hand_over(self.label, finished=True)


class UpdateTimer(RunHooks):
    """Wall and thread-CPU seconds of a run's strategy updates, their number, and (with `record`) the
    weights after each update by step."""

    def __init__(self, record: dict[int, dict[str, float]] | None = None):
        self.seconds, self.cpu_seconds, self.n_updates = 0.0, 0.0, 0
        self.record = record
        self._began: tuple[float, float] | None = None

    def before_update(self, run: Run) -> None:
        self._began = (time.perf_counter(), time.thread_time())

    def after_update(self, run: Run, update: Update) -> None:
        wall, cpu = self._began
        self.seconds += time.perf_counter() - wall
        self.cpu_seconds += time.thread_time() - cpu
        self.n_updates += 1
        if self.record is not None:
            self.record[run.step] = dict(run.weights)


class PassCounter(RunHooks):
    """Tokens through the decoders of a run's models: training vs the strategy's updates, and for
    the latter forward-only vs forward-with-gradients (followed by a backward)."""

    def __init__(self) -> None:
        self.counts = {"train": 0, "update_fwd": 0, "update_fwd_bwd": 0}
        self.in_update = False
        self._hooked: set[int] = set()

    def hook(self, model: torch.nn.Module) -> None:
        """Count the passes of `model` from now on (a forward pre-hook on its decoder; once per model)."""
        decoder = model.get_decoder()
        if id(decoder) in self._hooked:
            return
        self._hooked.add(id(decoder))

        def count(module: Any, args: Any, kwargs: Mapping[str, Any]) -> None:
            ids = kwargs.get("input_ids", args[0] if args else None)
            n = int(ids.numel()) if ids is not None else 0
            if not self.in_update:
                self.counts["train"] += n
            else:
                self.counts["update_fwd_bwd" if torch.is_grad_enabled() else "update_fwd"] += n

        decoder.register_forward_pre_hook(count, with_kwargs=True)

    def before_step(self, run: Run) -> None:
        self.hook(run.hf_model)

    def before_update(self, run: Run) -> None:
        self.hook(run.hf_model)
        self.in_update = True

    def after_update(self, run: Run, update: Update) -> None:
        self.in_update = False

    def on_model_loaded(self, run: Run, model: torch.nn.Module) -> None:
        self.hook(model)
