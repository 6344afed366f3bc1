"""Peak CPU tensor memory of the probe's token_stats (MultiUAT's call: response scope, entropy on)
at a 256,000-token vocabulary, for a few batch sizes: the "Measured on CPU" table of docs/memory.md.

    python scripts/probe_memory.py 4 16 64          # examples per call (of ~64 random tokens each)

Runs on whatever checkout it is started from (a checkout of commit b2b5ff9, before issue 11, gives
the "before" row: there the probe has no `logit_budget` and computes the entropy by default). The
peak is read from the CPU allocator's events recorded by torch.profiler (allocations positive,
frees negative, in time order), counting only tensors allocated inside the call.
"""

from __future__ import annotations

import argparse
import inspect
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.getcwd())  # the checkout this is run from

from mos.data.tokenized import TokenizedDataset  # noqa: E402
from mos.mixing.probe import Probe  # noqa: E402

VOCAB = 256_000


def peak_cpu_bytes(fn) -> int:
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    events = sorted((e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"),
                    key=lambda e: e.start_ns())
    now = peak = 0
    for e in events:
        now += e.nbytes()
        peak = max(peak, now)
    return peak


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("examples", type=int, nargs="+")
    ap.add_argument("--budget", type=int, default=1 << 21, help="logits per chunk (new code only)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=VOCAB, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                         num_attention_heads=2, num_key_value_heads=2, head_dim=8,
                                         tie_word_embeddings=True, pad_token_id=0)).eval()
    new = "logit_budget" in inspect.signature(Probe).parameters
    rng = np.random.default_rng(1)
    for n in args.examples:
        ids = [rng.integers(1, VOCAB, size=64 + int(rng.integers(-4, 5))).astype(np.int64) for _ in range(n)]
        response = [np.arange(len(x)) >= len(x) // 2 for x in ids]
        data = {"D": TokenizedDataset("D", ids, [np.arange(len(x)) > 0 for x in ids], response)}
        probe = Probe(model, data, pad_id=0, seed=0, pack_length=512, **({"logit_budget": args.budget} if new else {}))
        kwargs = {"entropy": True} if new else {}
        peak = peak_cpu_bytes(lambda p=probe, n=n, kw=kwargs: p.token_stats("D", list(range(n)), "response", **kw))
        positions = sum(len(x) - 1 for x in ids)
        print(f"{'new' if new else 'old'}: {n} examples, {positions} positions: peak {peak / 2**20:,.1f} MiB "
              f"= {peak / (positions * VOCAB * 4):.3f} x positions x V x 4 B", flush=True)


if __name__ == "__main__":
    main()
