"""One prepared GPU check (issue 11 part 4): the paper's three architectures on one GPU, one JSON report.

    python scripts/gpu_check.py                                  # on one H200: ~5-7 minutes
    python scripts/gpu_check.py --device cpu --tiny --out /tmp/gpu_check.json   # tiny, CPU (the test)
    make gpu-check                                               # the first line, after installing
                                                                 # DeepSpeed from .gpu-wheels/ if present

Qwen1.5-0.5B, Gemma-2B and LLaMA-3-8B are built from their public configs (config/architectures/
*.json: the hub's config.json of each) with random weights (no hub access is needed), and for each
the check measures peak GPU memory and speed of what the pipeline does with a backbone, through the
project's own code:

- `train`: one optimizer step at the paper's micro-batch, 8 examples of 2,048 tokens packed by
  `mos.data.batching.pack`, the loss of `mos.training.loop.CausalLMLoss` divided by the target count,
  `make_optimizer`'s AdamW, clipping at 1.0, with gradient checkpointing off and on. First as a
  single-GPU `python -m mos train` runs it (`fp32_autocast`: float32 weights under bf16 autocast,
  16 bytes per parameter of weights, gradients and AdamW state); where that does not fit,
  `bf16_weights` (bf16 weights, gradients and AdamW state, 8 bytes per parameter; not a recipe
  the pipeline runs, only what one GPU can hold), clearly labelled. One warm-up step, then the
  median of the timed steps: tokens/s, peak allocated and reserved memory, and the memory that
  stays between steps (weights and optimizer state).
- `base_ppl`: θ0's perplexities as `mos.training.base_ppl` computes them (bf16 weights,
  `Probe.token_stats` over both scopes with the entropy) on 64 ShareGPT-length examples (~1.3K
  tokens) of each of two datasets.
- `probes`: each dynamic strategy's `rewards(probe)` on bf16 weights, as the training loop's
  strategy update calls it: MoS COSSIM (64 examples per dataset), MoS DIFF (64, the paper's number,
  against the base perplexities above), MultiDDS (16 + 16 per gradient, the code's) and MultiUAT
  (64 validation examples per dataset).
- `generation`: batched greedy generation as `mos.evaluation.generation.TransformersGenerator` runs
  it (left-padded prompts, `model.generate`), 80 prompts (MT-Bench's batch) of 256 tokens, 128 new
  tokens each (the end token disabled, so every row generates them all).
- `zero2` (Qwen1.5-0.5B only, when `deepspeed` imports and CUDA is there): two steps of the real
  training loop, `accelerate launch --config_file config/accelerate/deepspeed_zero2.yaml
  --num_processes 1 -m mos train`, on a generated testbed with the tiny tokenizer.

A measurement that runs out of memory is recorded as `{"status": "oom", ...}` and the check goes on;
one that would not fit the host's memory, or the time budget (`--budget-s`, default 420 s), is
recorded as skipped with the reason. Each architecture is compared with the memory model
(`mos.training.memory`, docs/memory.md) when the checkout has it, and with the exact parameter
arithmetic (weights, gradients, optimizer state) always. The report is rewritten after every
measurement, so a killed check keeps what it measured.

`--tiny` shrinks every architecture (2 layers, width 64, vocabulary 4,096) and every workload, so
that `tests/test_gpu_check.py` runs all the CPU-capable parts on a CPU in seconds; CI never needs a
GPU. The GPU node this was prepared for: one H200, torch 2.11 (CUDA 13), transformers 5.17,
accelerate, no hub access; DeepSpeed only from an sdist carried in `.gpu-wheels/` (`make gpu-wheels`).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import inspect
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `python scripts/gpu_check.py` from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

ARCHITECTURES = ("qwen1.5-0.5b", "gemma-2b", "llama-3-8b")
ARCH_DIR = ROOT / "config" / "architectures"
GB = 1e9
TINY = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
        "head_dim": 16, "vocab_size": 4096}


# ---------------------------------------------------------------- workloads


class Workload:
    """Sizes of everything measured: the paper's (default) or tiny ones (`--tiny`, CPU tests)."""

    def __init__(self, tiny: bool):
        self.micro_batch, self.train_length = (8, 64) if tiny else (8, 2048)
        self.train_steps = 2 if tiny else 3                 # the first is a warm-up
        self.probe_examples, self.probe_length = (8, 48) if tiny else (64, 1300)
        self.probe_pack = 128 if tiny else 2048
        self.datasets = 2
        self.dds_examples = 4 if tiny else 16
        self.gen_prompts, self.gen_prompt_length, self.gen_new_tokens = (4, 16, 8) if tiny else (80, 256, 128)

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def arch_config(name: str, tiny: bool):
    """The transformers config of an architecture (config/architectures/<name>.json), shrunk when tiny
    (the grouped-query ratio kept: Gemma-2B one KV head, LLaMA-3-8B four query heads per KV head)."""
    from transformers import AutoConfig

    data = json.loads((ARCH_DIR / f"{name}.json").read_text(encoding="utf-8"))
    if tiny:
        groups = data["num_attention_heads"] // data["num_key_value_heads"]
        data.update(TINY, num_key_value_heads=max(1, TINY["num_attention_heads"] // groups))
        for key in ("bos_token_id", "eos_token_id", "pad_token_id"):
            if isinstance(data.get(key), int) and data[key] >= TINY["vocab_size"]:
                data[key] = 1
    return AutoConfig.for_model(**{k: v for k, v in data.items() if k != "architectures"})


def build_model(config, dtype: torch.dtype, device: str, seed: int = 0):
    """A randomly initialised model of the architecture, created directly on the device."""
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    return model


def unique_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())


def synthetic_dataset(name: str, n: int, length: int, vocab: int, seed: int):
    """`n` examples of `length` random tokens, the second half of each the "response" (a
    TokenizedDataset as `mos.data.tokenized` makes them; the tokens' values do not change speed or memory)."""
    from mos.data.tokenized import TokenizedDataset

    rng = np.random.default_rng(seed)
    ids = [rng.integers(8, vocab, size=length, dtype=np.int64) for _ in range(n)]
    response = [np.arange(length) >= length // 2 for _ in range(n)]
    return TokenizedDataset(name, ids, [np.arange(length) > 0 for _ in range(n)], response)


# ---------------------------------------------------------------- measuring


class Device:
    """Memory statistics and synchronisation of the device (CUDA, or the CPU without them)."""

    def __init__(self, name: str):
        self.name = name
        self.cuda = name.startswith("cuda")

    def sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize()

    def reset(self) -> None:
        if self.cuda:  # frees what the last measurement left, so the next one's peak is its own
            gc.collect()
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()

    def allocated(self) -> float | None:
        return torch.cuda.memory_allocated() / GB if self.cuda else None

    def peaks(self) -> dict[str, float | None]:
        if not self.cuda:
            return {"peak_allocated_gb": None, "peak_reserved_gb": None}
        return {"peak_allocated_gb": round(torch.cuda.max_memory_allocated() / GB, 3),
                "peak_reserved_gb": round(torch.cuda.max_memory_reserved() / GB, 3)}

    def total(self) -> float | None:
        return torch.cuda.get_device_properties(0).total_memory / GB if self.cuda else None


def is_oom(error: BaseException) -> bool:
    return isinstance(error, torch.OutOfMemoryError) or "out of memory" in str(error).lower()


class Report:
    """The JSON report, rewritten after every measurement; the time budget decides what still runs."""

    def __init__(self, path: Path, budget_s: float, device: Device, meta: dict[str, Any]):
        self.path, self.budget_s, self.device = path, budget_s, device
        self.start = time.perf_counter()
        self.data: dict[str, Any] = {"meta": meta, "architectures": {}}

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def save(self) -> None:
        self.data["meta"]["seconds"] = round(self.elapsed(), 1)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.tmp{os.getpid()}")
        tmp.write_text(json.dumps(self.data, indent=2, default=str) + "\n", encoding="utf-8")
        os.replace(tmp, self.path)

    def measure(self, where: dict[str, Any], key: str, fn: Callable[[], dict[str, Any]],
                needs_s: float = 0.0) -> dict[str, Any]:
        """Run `fn` (which returns its numbers) and store its result, or why it failed, at where[key]."""
        if self.elapsed() + needs_s > self.budget_s:
            result: dict[str, Any] = {"status": "skipped", "reason": f"time budget ({self.budget_s:.0f} s) spent"}
        else:
            self.device.reset()
            began = time.perf_counter()
            try:
                result = {"status": "ok", **fn()}
            except Exception as e:  # noqa: BLE001 - every failure is a result of the check
                result = {"status": "oom" if is_oom(e) else "error", "error": f"{type(e).__name__}: {str(e)[:400]}",
                          **self.device.peaks()}
            result["seconds"] = round(time.perf_counter() - began, 2)
        where[key] = result
        self.device.reset()
        self.save()
        print(f"[{self.elapsed():6.1f} s] {key}: {summary_line(result)}", flush=True)
        return result


def summary_line(result: dict[str, Any]) -> str:
    parts = [result["status"]]
    for key in ("tokens_per_s", "peak_allocated_gb", "reason", "error"):
        if result.get(key) is not None:
            parts.append(f"{key}={result[key]}")
    return " ".join(str(p) for p in parts)


# ---------------------------------------------------------------- the measurements


def enable_checkpointing(model) -> None:
    """Gradient checkpointing of every decoder layer as the training loop switches it on
    (`mos.models.backbones.enable_checkpointing` where the checkout has it)."""
    try:
        from mos.models.backbones import enable_checkpointing as project_switch
    except ImportError:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    else:
        project_switch(model)


def train_step(config, work: Workload, device: Device, mode: str, checkpointing: bool) -> dict[str, Any]:
    """Steps of the training loop's computation on one micro-batch; see the module docstring."""
    from mos.data.batching import pack
    from mos.training.loop import CausalLMLoss, TrainSettings, make_optimizer

    dtype = torch.float32 if mode == "fp32_autocast" else torch.bfloat16
    model = build_model(config, dtype, device.name)
    if checkpointing:
        enable_checkpointing(model)
    model.train()
    settings = TrainSettings(steps=100, batch_size=work.micro_batch, micro_batch_size=work.micro_batch, lr=1e-5,
                             weight_decay=0.1, grad_clip=1.0)
    optimizer = make_optimizer(model, settings)
    loss_fn = CausalLMLoss(model)
    data = synthetic_dataset("train", work.micro_batch, work.train_length, config.vocab_size, seed=1)
    batch = pack(data.ids, data.mask, work.train_length, pad_id=0)
    ids, positions, labels = (t.to(device.name) for t in (batch.input_ids, batch.position_ids, batch.labels))
    autocast = (torch.autocast(device.name.split(":")[0], dtype=torch.bfloat16) if mode == "fp32_autocast" and device.cuda
                else contextlib.nullcontext())
    times, losses = [], []
    for _ in range(work.train_steps):
        device.sync()
        began = time.perf_counter()
        with autocast:
            loss = loss_fn(ids, positions, labels) / batch.n_targets
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), settings.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        device.sync()
        times.append(time.perf_counter() - began)
        losses.append(loss.item())
    step = statistics.median(times[1:]) if len(times) > 1 else times[0]
    static = device.allocated()
    out = {"mode": mode, "gradient_checkpointing": checkpointing, "tokens": batch.n_tokens,
           "rows": int(ids.shape[0]), "step_s": round(step, 4), "tokens_per_s": round(batch.n_tokens / step, 1),
           "loss": [round(x, 4) for x in losses], **device.peaks(),
           "between_steps_gb": None if static is None else round(static, 3)}
    if not all(math.isfinite(x) for x in losses):
        raise FloatingPointError(f"non-finite loss {losses}")
    del model, optimizer, loss_fn, loss
    return out


def bytes_per_parameter(mode: str) -> int:
    """Weights + gradients + AdamW's two moments, per parameter, in each training mode."""
    return {"fp32_autocast": 4 + 4 + 8, "bf16_weights": 2 + 2 + 4}[mode]


def probe_setup(config, work: Workload, device: Device, base_csv: Path | None):
    """A bf16 model in eval mode and a Probe over `work.datasets` synthetic datasets (train and validation)."""
    from mos.mixing.probe import Probe

    model = build_model(config, torch.bfloat16, device.name).eval()
    names = [f"D{k}" for k in range(work.datasets)]
    n = max(work.probe_examples, work.dds_examples)
    train = {d: synthetic_dataset(d, n, work.probe_length, config.vocab_size, seed=10 + k) for k, d in enumerate(names)}
    val = {d: synthetic_dataset(d, n, work.probe_length, config.vocab_size, seed=20 + k) for k, d in enumerate(names)}
    probe = Probe(model, train, pad_id=0, seed=0, device=device.name, pack_length=work.probe_pack, validation=val,
                  base_ppl=str(base_csv) if base_csv else None)
    return model, probe


def base_perplexities(probe, work: Workload, device: Device, csv_path: Path) -> dict[str, Any]:
    """θ0's perplexities of the probe pool as `mos.training.base_ppl` computes them; writes its CSV."""
    from mos.common.io import write_csv
    from mos.training.base_ppl import COLUMNS

    device.sync()
    began, rows, tokens = time.perf_counter(), [], 0
    for name in probe.names:
        idx = list(range(work.probe_examples))
        seq = probe.token_stats(name, idx, "sequence")
        resp = probe.token_stats(name, idx, "response")
        tokens += work.probe_examples * work.probe_length
        for k, i in enumerate(idx):
            rows.append({"dataset": name, "index": i,
                         "ppl_sequence": float(torch.exp(seq["nll"][k] / max(1, int(seq["count"][k])))),
                         "ppl_response": float(torch.exp(resp["nll"][k] / max(1, int(resp["count"][k])))),
                         "n_sequence": int(seq["count"][k]), "n_response": int(resp["count"][k])})
    device.sync()
    seconds = time.perf_counter() - began
    write_csv(csv_path, rows, COLUMNS)
    return {"examples": len(rows), "tokens": tokens, "passes": 2, "tokens_per_s": round(2 * tokens / seconds, 1),
            "median_ppl_sequence": round(float(np.median([r["ppl_sequence"] for r in rows])), 1),
            **device.peaks()}


def write_unit_base_ppl(csv_path: Path, names: list[str], n: int) -> None:
    """Base perplexities of 1.0 (DIFF is then still measured when θ0's pass itself failed)."""
    from mos.common.io import write_csv
    from mos.training.base_ppl import COLUMNS

    write_csv(csv_path, [{"dataset": d, "index": i, "ppl_sequence": 1.0, "ppl_response": 1.0, "n_sequence": 1,
                          "n_response": 1} for d in names for i in range(n)], COLUMNS)


def strategies(work: Workload) -> dict[str, Any]:
    """The dynamic strategies whose rewards are measured, with the workload's batch sizes."""
    from baselines.mixture_of_skills import MixtureOfSkills
    from baselines.multidds import MultiDDS
    from baselines.multiuat import MultiUAT

    return {
        "cossim": MixtureOfSkills(reward="cossim", cossim_examples=work.probe_examples),
        "diff": MixtureOfSkills(reward="diff", diff_examples=work.probe_examples),
        "multiuat": MultiUAT(validation_examples=work.probe_examples),
        "multidds": MultiDDS(grad_examples=work.dds_examples, validation_examples=work.dds_examples),
    }


def reward(strategy, probe, device: Device, tokens: int) -> dict[str, Any]:
    device.sync()
    began = time.perf_counter()
    values = strategy.rewards(probe)
    device.sync()
    seconds = time.perf_counter() - began
    if not all(math.isfinite(v) for v in values.values()):
        raise FloatingPointError(f"non-finite rewards {values}")
    return {"rewards": {k: round(v, 6) for k, v in values.items()}, "tokens": tokens,
            "tokens_per_s": round(tokens / seconds, 1), **device.peaks()}


def multidds_host_gb(n_params: int, work: Workload) -> float:
    """Host memory today's MultiDDS would take: N validation gradients and one training gradient
    as float64 copies (only while `Probe.gradient` still concatenates them; issue 11 part 1)."""
    from mos.mixing.probe import Probe

    flat = "torch.cat(" in inspect.getsource(Probe.gradient)
    return (work.datasets + 1) * 8 * n_params / GB if flat else 0.0


def host_memory_gb() -> float:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GB


def generation(model, work: Workload, device: Device) -> dict[str, Any]:
    """Batched greedy generation with left padding, as TransformersGenerator.complete runs it."""
    rng = np.random.default_rng(3)
    vocab = model.config.vocab_size
    lengths = [work.gen_prompt_length - (k % 4) * (work.gen_prompt_length // 8) for k in range(work.gen_prompts)]
    width = max(lengths)
    ids = torch.zeros((len(lengths), width), dtype=torch.long)
    mask = torch.zeros_like(ids)
    for row, n in enumerate(lengths):
        ids[row, width - n:] = torch.from_numpy(rng.integers(8, vocab, size=n))
        mask[row, width - n:] = 1
    model.generation_config.eos_token_id = None
    device.sync()
    began = time.perf_counter()
    with torch.no_grad():
        out = model.generate(input_ids=ids.to(device.name), attention_mask=mask.to(device.name), do_sample=False,
                             max_new_tokens=work.gen_new_tokens, min_new_tokens=work.gen_new_tokens, pad_token_id=0)
    device.sync()
    seconds = time.perf_counter() - began
    new = int(out[:, width:].numel())
    return {"prompts": len(lengths), "prompt_tokens": int(mask.sum()), "new_tokens": new,
            "tokens_per_s": round(new / seconds, 1), **device.peaks()}


def memory_model(name: str, n_params: int, work: Workload) -> dict[str, Any]:
    """Predictions to set beside the measurements: the parameter arithmetic of each training mode
    (exact) and, when the checkout has it, the memory model of docs/memory.md."""
    out: dict[str, Any] = {"parameters": n_params,
                           "states_gb": {m: round(bytes_per_parameter(m) * n_params / GB, 2)
                                         for m in ("fp32_autocast", "bf16_weights")}}
    try:
        from mos.training import memory
    except ImportError:
        out["docs_memory"] = ("TODO(lead): mos.training.memory (docs/memory.md) is not in this checkout; "
                              "compare the measurements with it once it is")
        return out
    try:
        arch = memory.ARCHITECTURES[name]
        grid = memory.Grid(gpus=1, micro_batch=work.micro_batch, max_length=work.train_length)
        out["docs_memory"] = {
            "model": "DeepSpeed ZeRO-2 bf16 on 1 GPU (18 bytes per parameter + activations)",
            "parameters": arch.parameters,
            "training_checkpointing_on": memory.training(arch, grid, True),
            "training_checkpointing_off": memory.training(arch, grid, False),
            "probes": memory.probes(arch, grid),
            "base_ppl": memory.base_ppl(arch, grid),
        }
    except Exception as e:  # noqa: BLE001 - the model's interface may have moved; say so, keep the report
        out["docs_memory"] = f"could not evaluate mos.training.memory: {type(e).__name__}: {e}"
    return out


def check_architecture(name: str, work: Workload, device: Device, report: Report, tiny: bool,
                       modes: str = "auto") -> None:
    from transformers import AutoModelForCausalLM

    config = arch_config(name, tiny)
    arch: dict[str, Any] = {"config": str((ARCH_DIR / f"{name}.json").relative_to(ROOT)),
                            "model_type": config.model_type, "vocab_size": config.vocab_size}
    report.data["architectures"][name] = arch
    with torch.device("meta"):
        n_params = unique_parameters(AutoModelForCausalLM.from_config(config))
    arch["parameters"] = n_params
    arch["memory_model"] = memory_model(name, n_params, work)
    gpu_gb = device.total()

    train = arch.setdefault("train", {})
    for mode in ("fp32_autocast", "bf16_weights"):
        states = bytes_per_parameter(mode) * n_params / GB
        if mode == "bf16_weights" and modes == "auto" and all(
                train.get(f"fp32_autocast/{c}", {}).get("status") == "ok" for c in ("checkpointing_off", "checkpointing_on")):
            break  # the pipeline's own path fits: no fallback needed
        for ckpt in (False, True):
            key = f"{mode}/checkpointing_{'on' if ckpt else 'off'}"
            if gpu_gb is not None and states > 0.97 * gpu_gb:
                train[key] = {"status": "skipped", "reason": f"weights, gradients and AdamW state alone are "
                              f"{states:.1f} GB > {gpu_gb:.1f} GB of GPU memory"}
                report.save()
                continue
            report.measure(train, key, lambda m=mode, c=ckpt: train_step(config, work, device, m, c), needs_s=15)

    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        base_csv = Path(tmp) / "base_ppl.csv"
        model, probe = probe_setup(config, work, device, base_csv)
        report.measure(arch, "base_ppl", lambda: base_perplexities(probe, work, device, base_csv), needs_s=10)
        if arch["base_ppl"]["status"] != "ok":
            write_unit_base_ppl(base_csv, probe.names, max(work.probe_examples, work.dds_examples))
            arch["base_ppl"]["diff_uses"] = "base perplexities of 1.0 (this pass failed)"
        probes = arch.setdefault("probes", {})
        for label, strategy in strategies(work).items():
            per_dataset = work.dds_examples * 2 if label == "multidds" else work.probe_examples
            tokens = work.datasets * per_dataset * work.probe_length
            if label == "multidds":
                need = multidds_host_gb(n_params, work)
                if need > 0.6 * host_memory_gb():
                    probes[label] = {"status": "skipped", "reason": f"today's Probe.gradient would hold {need:.0f} GB "
                                     f"of float64 gradients in host memory ({host_memory_gb():.0f} GB here)"}
                    report.save()
                    continue
            report.measure(probes, label, lambda s=strategy, t=tokens: reward(s, probe, device, t), needs_s=10)
        report.measure(arch, "generation", lambda: generation(model, work, device), needs_s=10)
        model = probe = None  # freed before the next architecture is built
    device.reset()


def zero2_step(work: Workload, tiny: bool = False, deepspeed: bool = True) -> dict[str, Any]:
    """Two steps of the real training loop under accelerate + DeepSpeed ZeRO-2, one process, on a
    randomly initialised Qwen1.5-0.5B with the tiny tokenizer and a generated testbed.
    `deepspeed=False` runs the same job as a plain `python -m mos train` (the CPU test of this path)."""
    if deepspeed:
        import deepspeed as _ds  # noqa: F401 - fails here, with its reason, when DeepSpeed is not installed
    from mos.data.testbed.build import TestbedConfig, build
    from mos.data.tokenizer import train_tokenizer, training_texts

    with tempfile.TemporaryDirectory(prefix="gpu-check-zero2-") as tmp:
        tmp_path = Path(tmp)
        build(TestbedConfig(seed=0, scale=0.01, corpus_docs=400, mc_math=20, mc_general=20, mc_nlp_per_task=3,
                            chat_per_category=2, word_problems=10), tmp_path / "tb")
        tok = train_tokenizer(training_texts(tmp_path / "tb"), 512)
        config = arch_config("qwen1.5-0.5b", tiny=tiny)
        config.update({"bos_token_id": tok.bos_token_id, "eos_token_id": tok.eos_token_id,
                       "pad_token_id": tok.pad_token_id})
        model = build_model(config, torch.float32, "cpu")
        model.save_pretrained(tmp_path / "model")
        tok.save_pretrained(tmp_path / "model")
        del model
        length = 256 if tiny else 2048
        spec = {"backbone": "qwen1.5-0.5b", "model": str(tmp_path / "model"),
                "datasets": {s: str(tmp_path / "tb" / "train" / f"{s}.jsonl") for s in ("Mathematics", "General")},
                "mixture": {"name": "uniform", "strategy": "temperature", "params": {"tau": "inf"}},
                "train": {"steps": 2, "batch_size": work.micro_batch, "micro_batch_size": work.micro_batch,
                          "lr": 1e-5, "precision": "bf16" if deepspeed else "fp32", "max_length": length,
                          "pack_length": length, "checkpoint_every": 100, "log_every": 1},
                "seed": 0}
        (tmp_path / "spec.json").write_text(json.dumps(spec))
        train = ["-m", "mos", "train", "--spec", f"@{tmp_path / 'spec.json'}", "--out", str(tmp_path / "run")]
        if deepspeed:
            cmd = ["accelerate", "launch", "--config_file", str(ROOT / "config" / "accelerate" / "deepspeed_zero2.yaml"),
                   "--num_processes", "1", "--num_machines", "1", "--main_process_port", "29517", *train]
        else:
            cmd = [sys.executable, *train, "--threads", "1"]
        env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
        began = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
        seconds = time.perf_counter() - began
        if proc.returncode != 0:
            raise RuntimeError(f"exit {proc.returncode}: {(proc.stderr or proc.stdout)[-1500:]}")
        info = json.loads((tmp_path / "run" / "run.json").read_text())
        return {"launcher": "accelerate + DeepSpeed ZeRO-2" if deepspeed else "python -m mos train",
                "world_size": info["world_size"],
                "tokens_per_s": info["timing"]["tokens_per_second"], "final_loss": info["final_loss"],
                "wall_s_with_startup": round(seconds, 1),
                "note": "peak memory is the training process's, not measured from here"}


# ---------------------------------------------------------------- main


def meta(args: argparse.Namespace, device: Device, work: Workload) -> dict[str, Any]:
    from mos.common.provenance import git_commit, package_versions

    info: dict[str, Any] = {"script": "scripts/gpu_check.py", "args": vars(args), "workload": work.as_dict(),
                            "versions": package_versions(), "git_commit": git_commit(ROOT),
                            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "host_memory_gb": round(host_memory_gb(), 1)}
    if device.cuda:
        props = torch.cuda.get_device_properties(0)
        info.update(gpu=props.name, gpu_memory_gb=round(props.total_memory / GB, 1), cuda=torch.version.cuda)
    return info


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="cuda (default) or cpu")
    ap.add_argument("--tiny", action="store_true", help="tiny architectures and workloads (CPU tests)")
    ap.add_argument("--architectures", default=",".join(ARCHITECTURES), help="comma-separated, in this order")
    ap.add_argument("--budget-s", type=float, default=420.0, help="start no measurement after this many seconds")
    ap.add_argument("--modes", choices=["auto", "all"], default="auto",
                    help="training modes: auto = bf16_weights only where fp32_autocast does not fit; all = both")
    ap.add_argument("--no-zero2", action="store_true", help="skip the DeepSpeed ZeRO-2 step")
    ap.add_argument("--out", default=str(ROOT / "results" / "benchmarks" / "gpu_check.json"))
    args = ap.parse_args(argv)
    names = [n.strip() for n in args.architectures.split(",") if n.strip()]
    unknown = [n for n in names if not (ARCH_DIR / f"{n}.json").is_file()]
    if unknown:
        ap.error(f"unknown architecture(s) {', '.join(unknown)}; config/architectures has "
                 f"{', '.join(sorted(p.stem for p in ARCH_DIR.glob('*.json')))}")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        ap.error("--device cuda but torch sees no CUDA device (use --device cpu --tiny for the CPU parts)")
    device, work = Device(args.device), Workload(args.tiny)
    report = Report(Path(args.out), args.budget_s, device, meta(args, device, work))
    report.save()
    for name in names:
        check_architecture(name, work, device, report, args.tiny, args.modes)
    if args.no_zero2:
        report.data["zero2"] = {"status": "skipped", "reason": "--no-zero2"}
    elif not device.cuda:
        report.data["zero2"] = {"status": "skipped", "reason": "needs CUDA (DeepSpeed's engine)"}
    else:
        report.measure(report.data, "zero2", lambda: zero2_step(work, args.tiny), needs_s=60)
    report.save()
    print(f"gpu_check: {report.path} ({report.elapsed():.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
