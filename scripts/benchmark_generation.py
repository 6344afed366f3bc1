"""Benchmark: batched generation vs one prompt at a time (tokens/s), and vLLM vs transformers on a GPU.

    python scripts/benchmark_generation.py [--prompts 80] [--max-new-tokens 48] [--repeats 3]
        [--out results/benchmarks/generation.json]

The workload is the evaluation's own: the testbed's two-turn prompts (turn 1), rendered with the
model's chat template, answered greedily by `mos.evaluation.generation.TransformersGenerator` with
`batch_size` = all prompts vs `batch_size` = 1, side by side in one process (interleaved repeats,
median tokens/s; generated tokens counted up to and including the end token). Models: tiny Llama
backbones of the default config's size and a ~4M-parameter one (the prototype's "l"), built offline
from configs with the testbed tokenizer (their weights do not matter for speed: both modes decode the
same tokens, which the script checks). On a machine with CUDA and the vllm extra it adds vLLM vs
transformers on the same prompts. Threads: 1 (as the pipeline's evaluation jobs).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from mos.common.io import write_json
from mos.common.provenance import provenance
from mos.data.testbed.build import TestbedConfig, build
from mos.data.tokenizer import load_tokenizer_dir, train_tokenizer, training_texts
from mos.evaluation.chat_bench import load_questions
from mos.evaluation.generation import GenerationSettings, make_generator
from mos.models.backbones import build_tiny

MODELS = {
    "tiny-llama (default config, 0.4M)": {"family": "llama", "hidden_size": 96, "num_layers": 2, "num_heads": 4,
                                          "intermediate_size": 256},
    "llama-4M": {"family": "llama", "hidden_size": 256, "num_layers": 4, "num_heads": 4, "intermediate_size": 688},
}


def prepare(work: Path, n_prompts: int) -> tuple[dict[str, Path], list[list[dict[str, str]]]]:
    testbed = work / "testbed"
    build(TestbedConfig(seed=0, scale=0.01, corpus_docs=2000, chat_per_category=max(1, n_prompts // 8)), testbed)
    train_tokenizer(training_texts(testbed), 2048).save_pretrained(work / "tok")
    tok = load_tokenizer_dir(work / "tok")
    dirs = {}
    for name, spec in MODELS.items():
        out = work / name.split()[0]
        model = build_tiny({"name": name, **spec}, tok, seed=0)
        model.save_pretrained(out)
        tok.save_pretrained(out)
        dirs[name] = out
    questions = load_questions(testbed / "eval" / "chat.jsonl")[:n_prompts]
    return dirs, [[{"role": "user", "content": q.turns[0]}] for q in questions]


def tokens_per_second(generator, convs) -> tuple[float, list[str]]:
    start = time.perf_counter()
    out = generator.chat(convs)
    seconds = time.perf_counter() - start
    return sum(c.n_tokens for c in out) / seconds, [c.text for c in out]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prompts", type=int, default=80)
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default="results/benchmarks/generation.json")
    args = ap.parse_args()
    torch.set_num_threads(1)
    report = {"prompts": args.prompts, "max_new_tokens": args.max_new_tokens, "repeats": args.repeats,
              "threads": 1, "provenance": provenance(), "models": {}}
    with tempfile.TemporaryDirectory(prefix="mos-bench-gen-") as tmp:
        dirs, convs = prepare(Path(tmp), args.prompts)
        for name, path in dirs.items():
            gens = {mode: make_generator(str(path), GenerationSettings(max_new_tokens=args.max_new_tokens,
                                                                       batch_size=bs))
                    for mode, bs in (("batched", len(convs)), ("one_at_a_time", 1))}
            speeds = {mode: [] for mode in gens}
            texts = {}
            for _ in range(args.repeats):
                for mode, gen in gens.items():
                    tps, texts[mode] = tokens_per_second(gen, convs)
                    speeds[mode].append(tps)
            row = {f"{mode}_tokens_per_s": [round(x, 1) for x in v] for mode, v in speeds.items()}
            row["same_outputs"] = texts["batched"] == texts["one_at_a_time"]
            row["speedup_median"] = round(statistics.median(speeds["batched"]) /
                                          statistics.median(speeds["one_at_a_time"]), 2)
            if torch.cuda.is_available():
                row["vllm_vs_transformers"] = vllm_comparison(path, convs, args.max_new_tokens)
            report["models"][name] = row
            print(f"{name}: batched {statistics.median(speeds['batched']):,.0f} tok/s, one at a time "
                  f"{statistics.median(speeds['one_at_a_time']):,.0f} tok/s -> x{row['speedup_median']} "
                  f"(same outputs: {row['same_outputs']})")
    write_json(args.out, report)
    print(f"-> {args.out}")


def vllm_comparison(path: Path, convs, max_new_tokens: int) -> dict[str, float | str]:
    """vLLM vs batched transformers on the GPU (tokens/s), when vllm is installed."""
    try:
        import vllm  # noqa: F401
    except ImportError:
        return {"skipped": "vllm not installed"}
    settings = dict(max_new_tokens=max_new_tokens, batch_size=len(convs))
    hf = make_generator(str(path), GenerationSettings(**settings))
    vl = make_generator(str(path), GenerationSettings(backend="vllm", gpu_memory_utilization=0.3, **settings))
    tokens_per_second(vl, convs)  # warm-up (CUDA graphs)
    return {"transformers_tokens_per_s": round(tokens_per_second(hf, convs)[0], 1),
            "vllm_tokens_per_s": round(tokens_per_second(vl, convs)[0], 1)}


if __name__ == "__main__":
    main()
