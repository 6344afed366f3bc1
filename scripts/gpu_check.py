"""One prepared GPU check (issue 21 part 2): what the pipeline runs, measured on one GPU, in one JSON report.

    python scripts/gpu_check.py --out $OUT/gpu_check.json        # one H100/H200: ~6 min (an estimate)
    python scripts/gpu_check.py --tiny --out /tmp/gpu_check.json  # tiny architectures, any machine (the test)
    python scripts/gpu_check.py --estimate                        # the expected seconds per part, no run
    make gpu-check OUT=path/gpu_check.json                        # DeepSpeed from .gpu-wheels/ first

Qwen1.5-0.5B, Gemma-2B and LLaMA-3-8B are built from their public configs (config/architectures/
*.json, the hub's config.json of each) with random weights, so no hub access is needed. Everything
else is the pipeline's own code, built the way the `train` rule builds it from config/paper.yaml (its
`train` section and its mixtures), and every part of the report names the functions it ran:

- `train/<states>/checkpointing_<on|off>`: `mos.training.loop.training_objects` (gradient
  checkpointing as the settings say, CausalLMLoss, make_optimizer's AdamW, the schedule, through
  `accelerate.prepare` with the run's `make_accelerator`) and `mos.training.step.train_step`, the one
  optimizer step the loop takes, on one micro-batch of 8 x 2,048 tokens packed by
  `mos.data.batching.pack` (one micro-batch per GPU and step: the 8-GPU layout of batch 64).
  `fp32_autocast` is a one-GPU `python -m mos train` (float32 weights under bf16 autocast, 16 bytes per
  parameter); where that cannot fit, `bf16` (bf16 weights and AdamW state, 8 bytes per parameter: what
  one GPU can hold, not a recipe), labelled as such. A warm-up step, then the median of the timed ones.
- `base_ppl`: `mos.training.base_ppl.perplexity_rows`, bf16 weights as config/paper.yaml's
  `base_ppl.weights` says, on 64 ShareGPT-length (1,300-token) examples of each of two datasets.
- `probe/<mixture>`: one update of every dynamic strategy of config/paper.yaml with its own probe
  (one mixture per probe kind: `mos.training.memory.probe_key`), the strategy built by
  `mos.pipeline.mixtures.build_strategy` (the registry, the config's parameters), its probe by
  `mos.training.loop.make_probe` (rows_per_forward and grad_batch = the micro-batch, the run's
  autocast) on a bf16 model made ready by `training_objects` (checkpointing on, as the paper config
  says), as each ZeRO-2 rank holds it; DoReMi's reference model is saved and loaded by the probe's
  own `run_model`.
- `generation`: batched greedy generation, left-padded, as mos.evaluation's TransformersGenerator
  runs `model.generate`: 80 prompts (MT-Bench's batch) of 256 tokens, 128 new tokens each.
- `zero2` (when `deepspeed` imports and CUDA is there): two steps of the real training loop,
  `python -m accelerate.commands.launch --config_file config/accelerate/deepspeed_zero2.yaml -m mos
  train`, on a randomly initialised Qwen1.5-0.5B and a generated testbed.

Each part records its status (ok, oom, error or skipped with the reason), its seconds, the peak GPU
memory allocated and reserved, and the memory model's prediction for it (`mos.training.memory`, the
worst case of every example at 2,048 tokens, tensors only: no CUDA context). A part that would not
fit the GPU's memory by the exact parameter arithmetic, or the time budget (`--budget-s`), is skipped
with the reason; the report is rewritten after every part, so a killed check keeps what it measured.
`--tiny` shrinks every architecture (2 layers, width 64, vocabulary 4,096) and every workload, so that
tests/test_gpu_check.py runs every part but zero2 on a CPU in seconds.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python scripts/gpu_check.py` from a checkout that is not pip-installed
    sys.path.insert(0, str(ROOT))
if str(ROOT / "scripts") not in sys.path:  # its helper, _gpu_workload.py, also under runpy and importlib
    sys.path.insert(0, str(ROOT / "scripts"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from _gpu_workload import (  # noqa: E402  (scripts/: gpu_check's helper; names the tests read too)
    ARCH_DIR,
    ARCHITECTURES,
    DISK_BYTES_S,
    FORWARD_FLOPS,
    GB,
    HBM_BYTES_S,
    ORDER,
    TINY_PARAMS,  # noqa: F401  (--tiny's probe sizes: the tests read them here)
    TRAIN_FLOPS,
    Device,
    Report,
    Workload,
    arch_config,
    build_model,
    build_strategy,
    paper_config,
    probe_mixtures,
    synthetic_dataset,
)

from mos.common.io import write_csv  # noqa: E402
from mos.common.provenance import git_commit, package_versions  # noqa: E402
from mos.data.batching import pack  # noqa: E402
from mos.data.tokenized import TokenizedDataset  # noqa: E402
from mos.models.backbones import count_parameters  # noqa: E402
from mos.pipeline.grid import mixture_train  # noqa: E402
from mos.training import base_ppl, loop, memory  # noqa: E402
from mos.training import step as training_step  # noqa: E402
from mos.training.settings import make_optimizer  # noqa: E402

# ---------------------------------------------------------------- the parts


def train_part(config, work: Workload, accelerator, states: str, checkpointing: bool) -> dict[str, Any]:
    """Steps of the pipeline's training step (see the module docstring) on one packed micro-batch."""
    settings = dataclasses.replace(work.settings, gradient_checkpointing=checkpointing)
    device = Device(accelerator.device)
    dtype = torch.float32 if states == "fp32_autocast" else torch.bfloat16
    model = build_model(config, dtype, accelerator.device)
    loss_model, optimizer, scheduler = loop.training_objects(model, settings, accelerator)
    loss_model.train()
    data = synthetic_dataset("train", settings.micro_batch_size, settings.pack_length, config.vocab_size, 1)
    batch = pack(data.ids, data.mask, settings.pack_length, pad_id=0)
    times, losses = [], []
    for _ in range(work.train_steps):
        device.sync()
        began = time.perf_counter()
        result = training_step.train_step(loss_model, [batch], accelerator=accelerator, optimizer=optimizer,
                                          scheduler=scheduler, n_targets=batch.n_targets,
                                          grad_clip=settings.grad_clip)
        device.sync()
        times.append(time.perf_counter() - began)
        losses.append(result.loss)
    if not all(math.isfinite(x) for x in losses):
        raise FloatingPointError(f"non-finite loss {losses}")
    step = statistics.median(times[1:]) if len(times) > 1 else times[0]
    return {"tokens": batch.n_tokens, "rows": int(batch.input_ids.shape[0]), "step_s": round(step, 4),
            "tokens_per_s": round(batch.n_tokens / step, 1), "loss": [round(x, 4) for x in losses],
            **device.peaks(), "between_steps_gb": device.allocated()}


def probe_datasets(config, work: Workload) -> tuple[dict[str, TokenizedDataset], dict[str, TokenizedDataset]]:
    names = [f"D{k}" for k in range(work.datasets)]

    def make(offset: int) -> dict[str, TokenizedDataset]:
        return {d: synthetic_dataset(d, work.probe_examples, work.probe_length, config.vocab_size, offset + k)
                for k, d in enumerate(names)}

    return make(10), make(20)


def model_part(config, work: Workload, accelerator) -> tuple[dict[str, Any], Any, Any]:
    """The bf16 model every part but training uses (base_ppl.weights: bfloat16; each ZeRO-2 rank holds
    its weights in bf16), made ready by the pipeline's `training_objects` (checkpointing on, as the paper
    config says); (numbers, model, loss model)."""
    device = Device(accelerator.device)
    model = build_model(config, torch.bfloat16, accelerator.device)
    loss_model, _, _ = loop.training_objects(model, work.settings, accelerator)
    numbers = {"parameters": count_parameters(model), **device.peaks(),
               "between_parts_gb": device.allocated()}
    return numbers, model, loss_model


def base_ppl_part(config, work: Workload, model, csv_path: Path) -> dict[str, Any]:
    """θ0's perplexities through the pipeline's function; writes their CSV for DIFF and HBO."""
    device = Device(next(model.parameters()).device)
    train, _ = probe_datasets(config, work)
    model.eval()
    device.sync()
    began = time.perf_counter()
    rows = base_ppl.perplexity_rows(model, train, 0, device.device.type, None)
    device.sync()
    seconds = time.perf_counter() - began
    write_csv(csv_path, rows, base_ppl.COLUMNS)
    tokens = work.datasets * work.probe_examples * work.probe_length
    return {"examples": len(rows), "tokens": tokens, "tokens_per_s": round(tokens / seconds, 1),
            "median_ppl_sequence": round(float(np.median([r["ppl_sequence"] for r in rows])), 1),
            **device.peaks()}


def probe_part(config, work: Workload, accelerator, model, loss_model, cfg: Mapping[str, Any], label: str,
               csv_path: Path, tmp: Path) -> dict[str, Any]:
    """One update of the mixture's strategy on the pipeline's probe over the bf16 model (see the module
    docstring); the probe and the strategy are kept in `probe_part.last` for the tests."""
    device = Device(accelerator.device)
    strategy = build_strategy(cfg, label, work.tiny)
    train, validation = probe_datasets(config, work)
    optimizer = make_optimizer(model, work.settings)  # read by the Adam look-ahead; no state before a step
    probe = loop.make_probe(model, work.settings, accelerator, train, 0, seed=0, validation=validation,
                            base_ppl=str(csv_path), optimizer=optimizer)
    probe.learning_rate = work.settings.lr
    if strategy.needs_train_losses:  # the loop's record of the batches drawn since the last update
        probe.set_train_losses({n: {"loss_sum": 2.0 * work.probe_length, "tokens": float(work.probe_length),
                                    "examples": 1.0} for n in train})
    runs = {}
    for role in strategy.dependencies():  # DoReMi's reference: a finished run's folder, read by run_model
        runs[role] = tmp / role
        model.save_pretrained(runs[role] / "model", safe_serialization=True)
        held = dict.fromkeys(train, int(getattr(strategy, "validation_size", 0)))  # the reference held out the same
        (runs[role] / "run.json").write_text(json.dumps({"validation_sizes": held}), encoding="utf-8")
    if runs:
        strategy.bind_runs({r: str(f) for r, f in runs.items()})
    strategy.initial_weights({n: len(d) for n, d in train.items()}, seed=0)
    probe_part.last = {"probe": probe, "strategy": strategy, "model": model}
    loss_model.eval()  # as Run.update_strategy
    device.sync()
    began = time.perf_counter()
    update = strategy.update(strategy.first_update or strategy.update_every, probe)
    device.sync()
    seconds = time.perf_counter() - began
    weights = list(update.weights.values())
    if not all(math.isfinite(w) for w in weights) or not math.isclose(sum(weights), 1.0, rel_tol=1e-6):
        raise FloatingPointError(f"bad weights {update.weights}")
    out = {"strategy": strategy.name, "update_s": round(seconds, 3), **device.peaks()}
    if update.reward:
        out["reward"] = {k: round(float(v), 6) for k, v in update.reward.items()}
    return out


probe_part.last = {}


def generation_part(config, work: Workload, model) -> dict[str, Any]:
    """Batched greedy generation with left padding, as TransformersGenerator.complete runs it."""
    device = Device(next(model.parameters()).device)
    model.eval()
    rng = np.random.default_rng(3)
    step = work.gen_prompt_length // 8
    lengths = [work.gen_prompt_length - (k % 4) * step for k in range(work.gen_prompts)]
    width = max(lengths)
    ids = torch.zeros((len(lengths), width), dtype=torch.long)
    mask = torch.zeros_like(ids)
    for row, n in enumerate(lengths):
        ids[row, width - n:] = torch.from_numpy(rng.integers(8, config.vocab_size, size=n))
        mask[row, width - n:] = 1
    model.generation_config.eos_token_id = None  # every row generates all its tokens
    device.sync()
    began = time.perf_counter()
    with torch.no_grad():
        out = model.generate(input_ids=ids.to(device.device), attention_mask=mask.to(device.device),
                             do_sample=False, max_new_tokens=work.gen_new_tokens,
                             min_new_tokens=work.gen_new_tokens, pad_token_id=0)
    device.sync()
    new = int(out[:, width:].numel())
    return {"prompts": len(lengths), "prompt_tokens": int(mask.sum()), "new_tokens": new,
            "tokens_per_s": round(new / (time.perf_counter() - began), 1), **device.peaks()}


def zero2_part(work: Workload, deepspeed: bool = True) -> dict[str, Any]:
    """Two steps of the real training loop under accelerate + DeepSpeed ZeRO-2, one process, on a
    randomly initialised Qwen1.5-0.5B with a tiny tokenizer and a generated testbed.
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
        config = arch_config("qwen1.5-0.5b", tiny=work.tiny)
        config.update({"bos_token_id": tok.bos_token_id, "eos_token_id": tok.eos_token_id,
                       "pad_token_id": tok.pad_token_id})
        model = build_model(config, torch.float32, "cpu")
        model.save_pretrained(tmp_path / "model")
        tok.save_pretrained(tmp_path / "model")
        del model
        length = work.settings.pack_length
        spec = {"backbone": "qwen1.5-0.5b", "model": str(tmp_path / "model"),
                "datasets": {s: str(tmp_path / "tb" / "train" / f"{s}.jsonl")
                             for s in ("Mathematics", "General")},
                "mixture": {"name": "uniform", "strategy": "temperature", "params": {"tau": "inf"}},
                "train": {**mixture_train(paper_config(), "uniform"), "steps": 2,
                          "batch_size": work.settings.micro_batch_size,
                          "precision": "bf16" if deepspeed else "fp32", "max_length": length,
                          "pack_length": length, "checkpoint_every": 100, "log_every": 1},
                "seed": 0}
        (tmp_path / "spec.json").write_text(json.dumps(spec))
        train = ["-m", "mos", "train", "--spec", f"@{tmp_path / 'spec.json'}", "--out", str(tmp_path / "run")]
        if deepspeed:
            cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file",
                   str(ROOT / "config" / "accelerate" / "deepspeed_zero2.yaml"), "--num_processes", "1",
                   "--num_machines", "1", "--main_process_port", "29517", *train]
        else:
            cmd = [sys.executable, *train, "--threads", "1"]
        path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        env = {**os.environ, "PYTHONPATH": path}
        began = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
        seconds = time.perf_counter() - began
        if proc.returncode != 0:
            raise RuntimeError(f"exit {proc.returncode}: {(proc.stderr or proc.stdout)[-1500:]}")
        info = json.loads((tmp_path / "run" / "run.json").read_text())
        return {"launcher": "accelerate + DeepSpeed ZeRO-2" if deepspeed else "python -m mos train",
                "world_size": info["world_size"], "tokens_per_s": info["timing"]["tokens_per_second"],
                "final_loss": info["final_loss"], "wall_s_with_startup": round(seconds, 1),
                "note": "peak memory is the training process's, not measured from here"}


# ---------------------------------------------------------------- estimates and predictions


def estimate_s(part: str, n_params: int, work: Workload, cfg: Mapping[str, Any] | None = None) -> float:
    """Expected seconds of a part on one H100 from the model size (TRAIN_FLOPS, FORWARD_FLOPS,
    HBM_BYTES_S, DISK_BYTES_S): building the random model plus the part's arithmetic. An estimate."""
    build = 2.0 + 1.0 * n_params / 1e9  # a random model on the GPU, and accelerate's prepare
    s = work.settings
    probe_tokens = work.datasets * work.probe_examples * work.probe_length
    fwd = lambda tokens: 2 * n_params * tokens / FORWARD_FLOPS  # noqa: E731
    bwd = lambda tokens: 8 * n_params * tokens / TRAIN_FLOPS    # noqa: E731  forward, recompute, backward
    if part.startswith("train/"):
        flops = 8 if part.endswith("_on") else 6  # per parameter and token; checkpointing recomputes
        per_step = flops * n_params * s.micro_batch_size * s.pack_length / TRAIN_FLOPS
        return build + work.train_steps * per_step
    if part == "model":
        return build
    if part == "base_ppl":
        return 1.0 + fwd(probe_tokens)
    if part == "generation":
        return 1.0 + fwd(work.gen_prompts * work.gen_prompt_length) + \
            work.gen_new_tokens * (2 * n_params / HBM_BYTES_S + 0.03)
    if part == "zero2":
        return 90.0
    label = part.removeprefix("probe/")
    strategy = cfg["mixtures"][label] if cfg else {}
    kind = memory.probe_key(strategy.get("strategy", ""), strategy) if cfg else label
    per = work.probe_length * work.datasets
    seconds = {"cossim": fwd(probe_tokens), "multiuat": fwd(probe_tokens), "aioli": fwd(probe_tokens),
               "diff": fwd(16 * per), "multidds": bwd(2 * 16 * per), "doremi": 2 * fwd(8 * per)
               + 3 * 2 * n_params / DISK_BYTES_S, "odm": 0.0, "dynamixsft": 2 * fwd(8 * per) + bwd(8 * per),
               "dynamixsft_fwd": fwd(8 * per),
               "hbo": work.datasets * 4 * (8 * (bwd(work.probe_length) + 0.05) + fwd(16 * work.probe_length)),
               }[kind]
    return 1.0 + seconds


def predicted_gb(part: str, name: str, work: Workload, kind: str | None = None) -> float | None:
    """The memory model's GB for a part on one GPU (tensors only, every example at max_length)."""
    if work.tiny:
        return None
    a, g = memory.ARCHITECTURES[name], memory.Grid(gpus=1, overhead_gb=0.0)
    if part.startswith("train/"):
        _, states, ckpt = part.split("/")
        return round(memory.training(a, g, ckpt.endswith("_on"), states)["total"], 2)
    if part == "model":
        return round(memory._gb(2 * a.parameters), 2)
    if part == "base_ppl":
        return round(memory.base_ppl(a, g)["total"], 2)
    if kind is not None:
        weights = 2 * a.parameters * (1 + memory.RESIDENT.get(kind, 0))
        return round(memory._gb(weights) + memory.probes(a, g, shards=1)[kind], 2)
    return None


# ---------------------------------------------------------------- the check


def check_architecture(name: str, work: Workload, accelerator, report: Report, cfg: Mapping[str, Any],
                       modes: str = "auto") -> None:
    from transformers import AutoModelForCausalLM

    config = arch_config(name, work.tiny)
    with torch.device("meta"):
        n_params = count_parameters(AutoModelForCausalLM.from_config(config))
    parts: dict[str, Any] = {}
    report.data["architectures"][name] = {"config": str((ARCH_DIR / f"{name}.json").relative_to(ROOT)),
                                          "model_type": config.model_type, "vocab_size": config.vocab_size,
                                          "parameters": n_params, "parts": parts}
    gpu_gb = Device(accelerator.device).total()
    runs_train = "mos.training.loop.training_objects + mos.training.step.train_step"
    for states in ("fp32_autocast", "bf16"):
        fp32 = [parts.get(f"train/fp32_autocast/checkpointing_{c}", {}).get("status") for c in ("off", "on")]
        if states == "bf16" and modes == "auto" and fp32 == ["ok", "ok"]:
            break  # the pipeline's own path fits: no fallback needed
        states_gb = memory.STATES[states] * n_params / GB
        for ckpt in (False, True):
            key = f"train/{states}/checkpointing_{'on' if ckpt else 'off'}"
            extra = {"runs": runs_train, "predicted_gb": predicted_gb(key, name, work),
                     "estimate_s": round(estimate_s(key, n_params, work), 1)}
            if gpu_gb is not None and states_gb > 0.97 * gpu_gb:
                report.skip(parts, key, f"weights, gradients and AdamW state alone are {states_gb:.1f} GB > "
                            f"{gpu_gb:.1f} GB of GPU memory", **extra)
                continue
            report.measure(parts, key, lambda st=states, c=ckpt: train_part(config, work, accelerator, st, c),
                           needs_s=extra["estimate_s"], **extra)

    held: dict[str, Any] = {}

    def make_model() -> dict[str, Any]:
        numbers, held["model"], held["loss_model"] = model_part(config, work, accelerator)
        return numbers

    report.measure(parts, "model", make_model, needs_s=estimate_s("model", n_params, work),
                   runs="mos.training.loop.training_objects (bf16 weights)",
                   predicted_gb=predicted_gb("model", name, work),
                   estimate_s=round(estimate_s("model", n_params, work), 1))
    if "model" not in held:
        for key in ("base_ppl", *(f"probe/{label}" for label in probe_mixtures(cfg)), "generation"):
            report.skip(parts, key, "the bf16 model was not built (part `model`)")
        return
    model, loss_model = held["model"], held["loss_model"]
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        csv_path = Path(tmp) / "base_ppl.csv"
        extra = {"runs": "mos.training.base_ppl.perplexity_rows",
                 "predicted_gb": predicted_gb("base_ppl", name, work),
                 "estimate_s": round(estimate_s("base_ppl", n_params, work), 1)}
        report.measure(parts, "base_ppl", lambda: base_ppl_part(config, work, model, csv_path),
                       needs_s=extra["estimate_s"], **extra)
        if parts["base_ppl"]["status"] != "ok":  # DIFF and HBO still run, against perplexities of 1.0
            write_csv(csv_path, [{"dataset": f"D{k}", "index": i, "ppl_sequence": 1.0, "ppl_response": 1.0,
                                  "n_sequence": 1, "n_response": 1} for k in range(work.datasets)
                                 for i in range(work.probe_examples)], base_ppl.COLUMNS[:6])
            parts["base_ppl"]["probes_use"] = "base perplexities of 1.0 (this part failed)"
        for label, kind in probe_mixtures(cfg).items():
            key = f"probe/{label}"
            extra = {"runs": f"mos.pipeline.mixtures.build_strategy({label!r}) + mos.training.loop.make_probe"
                             f" + {cfg['mixtures'][label]['strategy']}.update", "probe": kind,
                     "predicted_gb": predicted_gb(key, name, work, kind),
                     "estimate_s": round(estimate_s(key, n_params, work, cfg), 1)}
            report.measure(parts, key, lambda lb=label, d=Path(tmp) / label: probe_part(
                config, work, accelerator, model, loss_model, cfg, lb, csv_path, d),
                needs_s=extra["estimate_s"], **extra)
            probe_part.last = {}
    extra = {"runs": "model.generate (mos.evaluation TransformersGenerator's call)",
             "estimate_s": round(estimate_s("generation", n_params, work), 1)}
    report.measure(parts, "generation", lambda: generation_part(config, work, model),
                   needs_s=extra["estimate_s"], **extra)
    held.clear()  # the model goes with this function's frame, before the next architecture is built


def meta(args: argparse.Namespace, device: Device, work: Workload) -> dict[str, Any]:
    host = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GB
    info: dict[str, Any] = {"script": "scripts/gpu_check.py", "args": vars(args), "workload": work.as_dict(),
                            "versions": package_versions(), "git_commit": git_commit(ROOT),
                            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "host_memory_gb": round(host, 1)}
    if device.cuda:
        props = torch.cuda.get_device_properties(0)
        info.update(gpu=props.name, gpu_memory_gb=round(props.total_memory / GB, 1), cuda=torch.version.cuda)
    return info


def estimates(work: Workload, cfg: Mapping[str, Any]) -> str:
    """The Markdown table of expected seconds per part on one H100 (README "GPU check")."""
    from transformers import AutoModelForCausalLM

    sizes = {}
    for name in ARCHITECTURES:
        with torch.device("meta"):
            sizes[name] = count_parameters(AutoModelForCausalLM.from_config(arch_config(name, work.tiny)))
    parts = ["train/fp32_autocast/checkpointing_on", "train/bf16/checkpointing_on", "model", "base_ppl",
             *(f"probe/{label}" for label in probe_mixtures(cfg)), "generation"]
    lines = ["| part | " + " | ".join(ARCHITECTURES) + " |", "|---|" + "---:|" * len(ARCHITECTURES)]
    for part in parts:
        cells = [f"{estimate_s(part, sizes[n], work, cfg):.0f}" for n in ARCHITECTURES]
        lines.append(f"| {part} | " + " | ".join(cells) + " |")
    lines.append(f"| zero2 (Qwen1.5-0.5B, with start-up) | {estimate_s('zero2', 0, work):.0f} | | |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tiny", action="store_true", help="tiny architectures and workloads (CPU tests)")
    ap.add_argument("--run", default=",".join(ORDER), help="architectures and zero2, comma-separated")
    ap.add_argument("--budget-s", type=float, default=390.0, help="start no part expected to end after this")
    ap.add_argument("--modes", choices=["auto", "all"], default="auto",
                    help="training states: auto = bf16 only where fp32_autocast does not fit; all = both")
    ap.add_argument("--estimate", action="store_true", help="print the expected seconds per part and exit")
    ap.add_argument("--out", default=str(ROOT / "results" / "benchmarks" / "gpu_check.json"))
    args = ap.parse_args(argv)
    cfg = paper_config()
    work = Workload.make(cfg, args.tiny)
    if args.estimate:
        print(estimates(work, cfg))
        return 0
    names = [n.strip() for n in args.run.split(",") if n.strip()]
    unknown = [n for n in names if n != "zero2" and not (ARCH_DIR / f"{n}.json").is_file()]
    if unknown:
        ap.error(f"unknown part(s) {', '.join(unknown)}; choose among zero2 and "
                 f"{', '.join(sorted(p.stem for p in ARCH_DIR.glob('*.json')))}")
    accelerator = loop.make_accelerator(work.settings)
    device = Device(accelerator.device)
    report = Report(Path(args.out), args.budget_s, device, meta(args, device, work),
                    release=accelerator.free_memory)
    report.save()
    for name in names:
        if name != "zero2":
            check_architecture(name, work, accelerator, report, cfg, args.modes)
        elif not device.cuda:
            report.skip(report.data, "zero2", "needs CUDA (DeepSpeed's engine)")
        else:
            report.measure(report.data, "zero2", lambda: zero2_part(work),
                           needs_s=estimate_s("zero2", 0, work), runs="accelerate launch ... -m mos train")
    report.save()
    print(f"gpu_check: {report.path} ({report.elapsed():.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
