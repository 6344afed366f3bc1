"""Base-model perplexities for the DIFF reward, computed once per (backbone, dataset pool).

    python -m mos base-ppl --spec @spec.json --out resources/default/base_ppl/tiny-llama.csv

The spec names the base model θ0, the training datasets, `max_length` and the probe pool
(`pool_size` examples per dataset drawn with `seed`, or every example when null, as the
authors' code precomputes one for every record). For every pool example the CSV holds the
perplexity over the whole chat-templated sequence (the code) and over the response only (Eq. 9),
both from one forward pass, and the precision they were computed in:
    dataset, index, ppl_sequence, ppl_response, n_sequence, n_response, weights_dtype, autocast_dtype,
    ppl_alone, ifd
Every DIFF run of that backbone reads this file instead of running θ0 again, and stops before its
first step unless its probe computes in the same precision (DIFF's ratio would be biased otherwise):
the spec's `precision` is the training runs' `train.precision` and `weights` how their probe holds
the model: "float32" (single process, DDP: float32 weights under accelerate's autocast of that
precision) or "bfloat16" (DeepSpeed's bf16 engine: bf16 weights, no autocast). Logits stream
through the output layer in bounded chunks (mos.models.vocab), so memory does not grow with
positions x vocabulary.

It also holds θ0's instruction-following difficulty (IFD; Li et al. 2024), which HBO's released code
buckets by (`score_field="ifd"`, precomputed into its dataset by its `calculate_ifd_per_example`):
    ppl_alone   perplexity of the same response tokens with the instructions left out: the sequence
                is the chat template's opening token (BOS, when every example starts with it), then
                for each assistant reply the template's assistant header (the tokens every prompt
                ends with) and the reply; the code's "ASSISTANT:\n" + answer
    ifd         mean response loss after the prompt / mean response loss alone = ln ppl_response /
                ln ppl_alone (0 for an example without response tokens, as the code returns 0)
a second forward pass per example, over the shorter answer-alone sequences.

The same command measures any other model, e.g. the fine-tuned PROP. models of the perplexity study
(paper Table 6); several `--spec`/`--out` pairs run in one process (imports paid once), and
`--combined FILE` also writes all their rows into one CSV with a leading `model` column:

    python -m mos base-ppl --spec @s0.json --out run0/ppl.csv --spec @s1.json --out run1/ppl.csv \
        --combined cell_ppl.csv
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mos.common.io import write_csv
from mos.common.spec import read_spec
from mos.data.tokenized import TokenizedDataset, load_dataset_file, load_tokenized
from mos.data.tokenizer import load_tokenizer
from mos.mixing.probe import PPL_SCOPES, Probe
from mos.models.backbones import load_model

COLUMNS = ["dataset", "index", "ppl_sequence", "ppl_response", "n_sequence", "n_response", "weights_dtype",
           "autocast_dtype", "ppl_alone", "ifd"]
PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}  # train.precision -> autocast dtype
WEIGHTS = {"float32": torch.float32, "bfloat16": torch.bfloat16}
ROWS_PER_FORWARD = 8  # packed rows per decoder pass: the paper's training micro-batch (docs/memory.md)


def numerics_settings(spec: Mapping[str, Any]) -> tuple[torch.dtype, torch.dtype | None]:
    """(weights dtype, autocast dtype) of a spec's `weights` and `precision`, as the training runs
    compute: float32 weights under the precision's autocast (single process, DDP), or bf16
    weights without autocast (DeepSpeed's bf16 engine; accelerate adds no autocast there)."""
    precision, weights = spec.get("precision", "fp32"), spec.get("weights", "float32")
    if precision not in PRECISIONS:
        raise ValueError(f"spec.precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if weights not in WEIGHTS:
        raise ValueError(f"spec.weights must be one of {', '.join(WEIGHTS)}, got {weights!r}")
    return WEIGHTS[weights], PRECISIONS[precision] if weights == "float32" else None


def pool_indices(n: int, pool_size: int | None, seed: int, name: str) -> list[int]:
    if pool_size is None or pool_size >= n:
        return list(range(n))
    gen = torch.Generator().manual_seed(seed * 1_000_003 + sum(map(ord, name)))
    return sorted(torch.randperm(n, generator=gen)[:pool_size].tolist())


def first_response(response: np.ndarray) -> int:
    """Index of an example's first response token (its length when it has none)."""
    hits = np.flatnonzero(response)
    return int(hits[0]) if len(hits) else len(response)


def template_parts(datasets: Mapping[str, TokenizedDataset]) -> tuple[list[int], list[int]]:
    """(lead, header): the token every example starts with (the BOS; none if they differ) and the
    longest run of tokens every prompt ends with (the template's assistant header), over all datasets."""
    prompts = [d.ids[i][:first_response(d.response[i])].tolist() for d in datasets.values() for i in range(len(d))
               if d.response[i].any()]
    if not prompts:
        return [], []
    lead = prompts[0][:1] if all(p[:1] == prompts[0][:1] for p in prompts) else []
    room = min(len(p) for p in prompts) - len(lead)
    header: list[int] = []
    while len(header) < room and all(p[-len(header) - 1] == prompts[0][-len(header) - 1] for p in prompts):
        header.insert(0, prompts[0][-len(header) - 1])
    return lead, header


def answers_alone(data: TokenizedDataset, lead: Sequence[int], header: Sequence[int]) -> TokenizedDataset:
    """Each example as `lead`, then per assistant reply (a run of response tokens) `header` + the reply:
    the instructions left out, the same response tokens as targets."""
    ids, masks = [], []
    for tokens, response in zip(data.ids, data.response, strict=True):
        parts, mask = [np.asarray(lead, dtype=tokens.dtype)], [np.zeros(len(lead), dtype=bool)]
        edges = np.flatnonzero(np.diff(np.concatenate([[0], response.astype(np.int8), [0]])))
        for a, b in zip(edges[::2], edges[1::2], strict=True):
            parts += [np.asarray(header, dtype=tokens.dtype), tokens[a:b]]
            mask += [np.zeros(len(header), dtype=bool), np.ones(b - a, dtype=bool)]
        ids.append(np.concatenate(parts))
        masks.append(np.concatenate(mask))
    return TokenizedDataset(data.name, ids, masks, masks)


def base_perplexities(spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    weights, autocast_dtype = numerics_settings(spec)
    tokenizer = load_tokenizer(spec["model"], spec.get("chat_template"), spec.get("bos_token"))
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = load_model(spec["model"], dtype=weights).to(device).eval()
    max_length = int(spec.get("max_length", 2048))
    datasets = None
    if spec.get("tokenized"):
        cached, meta = load_tokenized(spec["tokenized"], "response")
        if (meta["max_length"] == max_length and meta.get("chat_template") == spec.get("chat_template")
                and meta.get("bos_token") == spec.get("bos_token")
                and all(meta["datasets"].get(n) == p for n, p in spec["datasets"].items())):
            datasets = {n: cached[n] for n in spec["datasets"]}
    if datasets is None:
        datasets = {name: load_dataset_file(name, path, tokenizer, "response", max_length)
                    for name, path in spec["datasets"].items()}

    return perplexity_rows(model, datasets, tokenizer.pad_token_id, device, autocast_dtype,
                           spec.get("pool_size"), int(spec.get("seed", 0)))


def perplexity_rows(model: torch.nn.Module, datasets: Mapping[str, TokenizedDataset], pad_id: int,
                    device: str, autocast_dtype: torch.dtype | None, pool_size: int | None = None,
                    seed: int = 0) -> list[dict[str, Any]]:
    """The CSV rows of θ0's perplexities: both scopes of every pool example from one forward pass of
    `model` (already on `device`, in the weights dtype the runs use) through a probe of
    ROWS_PER_FORWARD rows per decoder pass, under `autocast_dtype` (None: off). scripts/gpu_check.py
    measures this function."""
    def autocast():  # what accelerate's autocast does in a single-process or DDP run of that precision
        return nullcontext() if autocast_dtype is None else torch.autocast(device, dtype=autocast_dtype)

    probe = Probe(model, datasets, pad_id, seed=0, device=device, autocast=autocast,
                  rows_per_forward=ROWS_PER_FORWARD)
    lead, header = template_parts(datasets)
    alone = Probe(model, {n: answers_alone(d, lead, header) for n, d in datasets.items()}, pad_id,
                  seed=0, device=device, autocast=autocast, rows_per_forward=ROWS_PER_FORWARD)
    numerics = probe.numerics()
    rows = []
    for name, data in datasets.items():
        idx = pool_indices(len(data), pool_size, seed, name)
        stats = probe.scope_stats(name, idx, PPL_SCOPES)  # both scopes from one forward pass
        seq, resp = stats["sequence"], stats["response"]
        solo = alone.scope_stats(name, idx, ("response",))["response"]  # the second pass: answers alone
        for k, i in enumerate(idx):
            n_resp = int(resp["count"][k])
            cond, free = float(resp["nll"][k]) / max(1, n_resp), float(solo["nll"][k]) / max(1, int(solo["count"][k]))
            rows.append({"dataset": name, "index": i,
                         "ppl_sequence": float(torch.exp(seq["nll"][k] / max(1, int(seq["count"][k])))),
                         "ppl_response": float(torch.exp(resp["nll"][k] / max(1, n_resp))),
                         "n_sequence": int(seq["count"][k]), "n_response": n_resp,
                         "weights_dtype": numerics["weights"], "autocast_dtype": numerics["autocast"],
                         "ppl_alone": math.exp(free), "ifd": cond / free if n_resp and free > 0 else 0.0})
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spec", required=True, action="append", help="JSON or @file.json (repeatable)")
    ap.add_argument("--out", required=True, action="append", help="CSV file, one per --spec")
    ap.add_argument("--combined", default=None, help="also write every model's rows here (column `model`)")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args(argv)
    if len(args.spec) != len(args.out):
        ap.error(f"give one --out per --spec ({len(args.spec)} --spec, {len(args.out)} --out)")
    if args.threads:
        torch.set_num_threads(args.threads)
    combined = []
    for spec_arg, out in zip(args.spec, args.out, strict=True):
        t0 = time.perf_counter()
        spec = read_spec(spec_arg)
        rows = base_perplexities(spec)
        write_csv(Path(out), rows, COLUMNS)
        combined += [{"model": spec["model"], **row} for row in rows]
        print(f"{out}: {len(rows)} examples in {time.perf_counter() - t0:.1f} s")
    if args.combined:
        write_csv(Path(args.combined), combined, ["model", *COLUMNS])


if __name__ == "__main__":
    main()
