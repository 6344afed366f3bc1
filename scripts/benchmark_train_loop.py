"""Benchmark: tokens/s of the real training loop (mos.training.loop) against a bare loop that only does
forward, backward and the optimizer step on the same model and the same packed batches; plus the
padding fraction of the packed batches. Both run side by side in this one process, alternating,
on one CPU thread.

    python scripts/benchmark_train_loop.py                      # the default tiny backbones
    python scripts/benchmark_train_loop.py --steps 300 --repeats 3 --out results/benchmarks/train_loop.json

The real loop includes everything a run does: sampling, packing, the LR schedule, gradient
clipping, logging, the progress bar and a checkpoint. Target (issue 2): ratio >= 0.9, padding <= 10%.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from mos.common.io import write_json  # noqa: E402
from mos.data.testbed.build import TestbedConfig, build  # noqa: E402
from mos.data.tokenizer import train_tokenizer, training_texts  # noqa: E402
from mos.models.backbones import build_tiny  # noqa: E402
from mos.training.loop import CausalLMLoss, Run  # noqa: E402

BACKBONES = {
    "tiny-qwen": {"family": "qwen2", "hidden_size": 64, "num_layers": 2, "num_heads": 4, "intermediate_size": 176},
    "tiny-gemma": {"family": "gemma", "hidden_size": 80, "num_layers": 2, "num_heads": 4, "intermediate_size": 224},
    "tiny-llama": {"family": "llama", "hidden_size": 96, "num_layers": 2, "num_heads": 4, "intermediate_size": 256},
}
SKILLS = ("Mathematics", "Medicine", "General", "NLP")


def prepare(work: Path) -> tuple[Path, Path]:
    testbed = work / "testbed"
    build(TestbedConfig(seed=0, scale=0.1), testbed)
    tok = train_tokenizer(training_texts(testbed), 2048)
    tok_dir = work / "tokenizer"
    tok.save_pretrained(tok_dir)
    return testbed, tok_dir


def model_dir(work: Path, name: str, tok_dir: Path) -> Path:
    from mos.data.tokenizer import load_tokenizer_dir

    out = work / name
    if not out.exists():
        tok = load_tokenizer_dir(tok_dir)
        build_tiny(BACKBONES[name], tok, seed=0).save_pretrained(out)
        tok.save_pretrained(out)
    return out


def job_spec(model: Path, testbed: Path, steps: int) -> dict:
    return {"backbone": model.name, "model": str(model),
            "datasets": {s: str(testbed / "train" / f"{s}.jsonl") for s in SKILLS},
            "mixture": {"name": "uniform", "strategy": "temperature", "params": {"tau": "inf"}},
            "train": {"steps": steps, "batch_size": 16, "micro_batch_size": 16, "lr": 3e-3, "warmup_ratio": 0.1,
                      "weight_decay": 0.1, "adam_betas": [0.9, 0.95], "grad_clip": 1.0, "loss": "response",
                      "sampling_unit": "example", "max_length": 256, "pack_length": 256,
                      "checkpoint_every": steps // 2, "log_every": 10},
            "seed": 0}


def real_loop(spec: dict, out: Path) -> tuple[float, float]:
    """Tokens/s of the full loop (wall time of run(), setup excluded) and its padding fraction."""
    run = Run(spec, out)
    t0 = time.perf_counter()
    info = run.run()
    seconds = time.perf_counter() - t0
    return info["tokens"] / seconds, info["padding_fraction"]


def same_batches(spec: dict, out: Path) -> list:
    """The packed batches the real loop draws (same sampler seed and weights)."""
    run = Run(spec, out)
    return [b for _ in range(spec["train"]["steps"]) for b in run._next_micro_batches()]


def bare_loop(spec: dict, batches: list) -> float:
    from mos.models.backbones import load_model

    model = CausalLMLoss(load_model(spec["model"]))
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, betas=(0.9, 0.95), foreach=True)
    tokens = 0
    t0 = time.perf_counter()
    for b in batches:
        loss = model(b.input_ids, b.position_ids, b.labels) / b.n_targets
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        tokens += b.n_tokens
    return tokens / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--backbones", nargs="*", default=list(BACKBONES))
    ap.add_argument("--out", default="results/benchmarks/train_loop.json")
    args = ap.parse_args()
    torch.set_num_threads(1)
    report = {"steps": args.steps, "repeats": args.repeats, "threads": 1, "backbones": {}}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        testbed, tok_dir = prepare(work)
        for name in args.backbones:
            spec = job_spec(model_dir(work, name, tok_dir), testbed, args.steps)
            batches = same_batches(spec, work / "batches")
            real, bare, padding = [], [], []
            for k in range(args.repeats):  # alternate, so both see the same machine state
                tps, pad = real_loop(spec, work / f"run-{name}-{k}")
                real.append(tps)
                padding.append(pad)
                bare.append(bare_loop(spec, batches))
            ratio = statistics.median(r / b for r, b in zip(real, bare, strict=True))
            report["backbones"][name] = {"real_tokens_per_s": real, "bare_tokens_per_s": bare,
                                         "median_ratio": round(ratio, 3), "padding_fraction": statistics.mean(padding)}
            print(f"{name:<11} real {statistics.median(real):8,.0f} tok/s   bare {statistics.median(bare):8,.0f} tok/s"
                  f"   ratio {ratio:.3f}   padding {statistics.mean(padding):.1%}")
    write_json(args.out, report)


if __name__ == "__main__":
    main()
