"""What scripts/gpu_check.py measures and how (a helper of that script, not a script): the paper's
architectures from their public configs (`arch_config`, random weights), the workload sizes (`Workload`:
the paper's micro-batch, probe sizes, --tiny shrinking), synthetic datasets, the dynamic mixtures of
config/paper.yaml and their strategies built through the pipeline (`probe_mixtures`, `build_strategy`),
the device's clock and peak memory (`Device`), and the report rewritten after every part (`Report`).

    from _gpu_workload import Workload, paper_config
"""

from __future__ import annotations

import dataclasses
import gc
import json
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from mos.data.tokenized import TokenizedDataset
from mos.mixing import registry
from mos.pipeline import mixtures
from mos.pipeline.grid import mixture_train
from mos.training import memory
from mos.training.settings import TrainSettings

ROOT = Path(__file__).resolve().parents[1]
ARCHITECTURES = ("qwen1.5-0.5b", "gemma-2b", "llama-3-8b")
ORDER = ("qwen1.5-0.5b", "zero2", "gemma-2b", "llama-3-8b")  # zero2 early: it needs little and says much
ARCH_DIR = ROOT / "config" / "architectures"
PAPER = ROOT / "config" / "paper.yaml"
GB = 1e9
TINY = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
        "head_dim": 16, "vocab_size": 4096}
# --tiny: strategy parameters that set probe sizes, shrunk (only those a strategy has are applied)
TINY_PARAMS = {"cossim_examples": 8, "diff_examples": 4, "validation_examples": 4, "grad_examples": 4,
               "examples": 2, "levels": 2, "grad_examples_per_level": 1, "ppl_examples_per_level": 2,
               "lp_steps": 1}
# expected speeds on one H100 for --estimate and the time budget (estimates, not measurements)
TRAIN_FLOPS, FORWARD_FLOPS, HBM_BYTES_S, DISK_BYTES_S = 3.0e14, 3.5e14, 2.5e12, 1.0e9


# ---------------------------------------------------------------- what is measured


@dataclasses.dataclass
class Workload:
    """Sizes of everything measured: the paper's (default) or tiny ones (`--tiny`)."""

    tiny: bool
    settings: TrainSettings             # config/paper.yaml's `train` (shrunk when tiny)
    train_steps: int                    # the first is a warm-up
    datasets: int                       # skill datasets of the probes
    probe_examples: int                 # examples per dataset (train and validation)
    probe_length: int                   # tokens per probe example
    gen_prompts: int
    gen_prompt_length: int
    gen_new_tokens: int

    @classmethod
    def make(cls, cfg: Mapping[str, Any], tiny: bool) -> Workload:
        train = dict(mixture_train(cfg, "uniform"))
        if tiny:
            train.update(max_length=64, pack_length=64)
        settings = TrainSettings.from_spec(train)
        if tiny:
            return cls(True, settings, 2, 2, 8, 48, 4, 16, 8)
        return cls(False, settings, 3, 2, 64, 1300, 80, 256, 128)

    def as_dict(self) -> dict[str, Any]:
        return {**{k: v for k, v in vars(self).items() if k != "settings"}, "train": vars(self.settings)}


def paper_config() -> dict[str, Any]:
    """config/paper.yaml as YAML (the GPU machine may lack jsonschema, which full validation needs)."""
    return yaml.safe_load(PAPER.read_text(encoding="utf-8"))


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


def build_model(config, dtype: torch.dtype, device: torch.device | str, seed: int = 0):
    """A randomly initialised model of the architecture, created directly on the device."""
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    with torch.device(device):
        return AutoModelForCausalLM.from_config(config, dtype=dtype)


def synthetic_dataset(name: str, n: int, length: int, vocab: int, seed: int) -> TokenizedDataset:
    """`n` examples of `length` random tokens, the second half of each the response (the tokens' values
    change neither speed nor memory)."""
    rng = np.random.default_rng(seed)
    ids = [rng.integers(8, vocab, size=length, dtype=np.int64) for _ in range(n)]
    response = [np.arange(length) >= length // 2 for _ in range(n)]
    return TokenizedDataset(name, ids, [np.arange(length) > 0 for _ in range(n)], response)


def probe_mixtures(cfg: Mapping[str, Any]) -> dict[str, str]:
    """{mixture: probe kind}: the first dynamic mixture of config/paper.yaml of every kind of probe, in
    the config's order but DoReMi's last (the slowest: its reference model is saved and loaded)."""
    out: dict[str, str] = {}
    for label, mix in cfg["mixtures"].items():
        params = {k: v for k, v in mix.items() if k not in mixtures.MIXTURE_KEYS}
        key = memory.probe_key(mix["strategy"], params)
        if key is not None and key not in out.values():
            out[label] = key
    return dict(sorted(out.items(), key=lambda item: item[1] == "doremi"))  # saving its reference: last


def build_strategy(cfg: Mapping[str, Any], label: str, tiny: bool):
    """The mixture's strategy as the train rule builds it (the registry, the config's parameters);
    when tiny, the same strategy rebuilt with smaller probe sizes."""
    strategy = mixtures.build_strategy(cfg, label)
    if not tiny:
        return strategy
    params = {name: getattr(strategy, name) for name in registry.parameters(type(strategy))}
    params.update({k: v for k, v in TINY_PARAMS.items() if k in params})
    return registry.build(cfg["mixtures"][label]["strategy"], params, where=f"mixtures.{label} (tiny)")


# ---------------------------------------------------------------- measuring


class Device:
    """Memory statistics and synchronisation of the device (CUDA, or the CPU without them)."""

    def __init__(self, device: torch.device):
        self.device = device
        self.cuda = device.type == "cuda"

    def sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize()

    def reset(self) -> None:
        gc.collect()
        if self.cuda:  # frees what the last part left, so the next one's peak is its own
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()

    def allocated(self) -> float | None:
        return round(torch.cuda.memory_allocated() / GB, 3) if self.cuda else None

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
    """The JSON report, rewritten after every part; the time budget decides what still runs."""

    def __init__(self, path: Path, budget_s: float, device: Device, meta: dict[str, Any],
                 release: Callable[[], None] | None = None):
        self.path, self.budget_s, self.device, self.release = path, budget_s, device, release
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

    def skip(self, where: dict[str, Any], key: str, reason: str, **extra: Any) -> None:
        where[key] = {"status": "skipped", "reason": reason, **extra}
        self.save()
        print(f"[{self.elapsed():6.1f} s] {key}: skipped ({reason})", flush=True)

    def measure(self, where: dict[str, Any], key: str, fn: Callable[[], dict[str, Any]], needs_s: float = 0.0,
                **extra: Any) -> dict[str, Any]:
        """Run `fn` (which returns its numbers) and store its result, or why it failed, at where[key],
        with `extra` (what it runs, the memory model's prediction, the estimate)."""
        if self.elapsed() + needs_s > self.budget_s:
            self.skip(where, key, f"time budget ({self.budget_s:.0f} s) spent", **extra)
            return where[key]
        self.device.reset()
        began = time.perf_counter()
        try:
            result = {"status": "ok", **extra, **fn()}
        except Exception as e:  # noqa: BLE001 - every failure is a result of the check
            result = {"status": "oom" if is_oom(e) else "error", **extra,
                      "error": f"{type(e).__name__}: {str(e)[:400]}", **self.device.peaks()}
        result["seconds"] = round(time.perf_counter() - began, 2)
        where[key] = result
        if self.release is not None:
            self.release()
        self.device.reset()
        self.save()
        print(f"[{self.elapsed():6.1f} s] {key}: {summary_line(result)}", flush=True)
        return result


def summary_line(result: Mapping[str, Any]) -> str:
    parts = [result["status"]]
    for key in ("tokens_per_s", "peak_allocated_gb", "predicted_gb", "error"):
        if result.get(key) is not None:
            parts.append(f"{key}={result[key]}")
    return " ".join(str(p) for p in parts)
