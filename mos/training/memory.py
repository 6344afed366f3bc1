"""The memory model of the paper grid (config/paper.yaml): bytes per GPU and per node of every GPU
rule, per backbone, from formulas over the real architectures. docs/memory.md explains every term;
profiles/slurm/config.yaml is sized from it; tests/test_memory.py checks the doc's tables against
this module.

    python -m mos memory                   # the tables of docs/memory.md (Markdown), 8 GPUs per run
    python -m mos memory --gpus 4          # training on 4 GPUs per run instead of profiles/slurm's 8
    python -m mos memory --gpu-gb 141      # flag what does not fit on 141 GB GPUs (H200)

All sizes are decimal GB (1e9 bytes). Activations assume the worst case the config allows: every
example at `max_length` (2,048 tokens), so a training micro-batch is 8 x 2,048 = 16,384 tokens and a
probe batch of 64 examples 131,072 tokens. These are estimates from counting the tensors autograd
keeps (docs/memory.md "Method"); scripts/gpu_check.py measures them on one GPU and sets this model's
prediction beside each measurement. Every dynamic strategy of config/paper.yaml has its probe here
(`PROBE_OF`, `probe_key`; tests/test_memory.py fails on a strategy without one), and the numbers the
README, config/paper.yaml and docs/memory.md quote are checked against this module (`quoted()`).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from mos.models.vocab import LOGIT_BUDGET

GB = 1e9


@dataclass(frozen=True)
class Architecture:
    """The sizes of a backbone that memory depends on (the hub's config.json)."""

    label: str
    hub_id: str
    vocab: int
    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    tied: bool            # input and output embeddings share one matrix
    qkv_bias: bool        # Qwen1.5 has biases on q, k, v
    norm: str             # "rms" (LLaMA, Qwen: float32 inside, bf16 out) or "gemma" (float32 out, 1 + w)

    @property
    def parameters(self) -> int:
        """Trainable parameters (tied embeddings once)."""
        q, kv = self.heads * self.head_dim, self.kv_heads * self.head_dim
        attn = self.hidden * q + 2 * self.hidden * kv + q * self.hidden + (q + 2 * kv if self.qkv_bias else 0)
        layer = attn + 3 * self.hidden * self.intermediate + 2 * self.hidden
        return self.vocab * self.hidden * (1 if self.tied else 2) + self.layers * layer + self.hidden

    def layer_activations(self, residual: int = 2) -> int:
        """Bytes per token that autograd keeps for one decoder layer's backward pass (bf16
        compute, `residual` bytes per element of the residual stream: 2 under DeepSpeed's bf16
        engine, 4 with float32 weights under autocast). Two norms, attention with a fused SDPA
        kernel (q, k and v after RoPE with k, v repeated to every head, the output, the per-head
        log-sum-exp; no T^2 term), and the gated MLP (gate, up, activation, product)."""
        h, q = self.hidden, self.heads * self.head_dim
        # Gemma (or a float32 residual): x in fp32, normalised fp32 (kept), bf16 input of the next
        # product; LLaMA/Qwen in bf16: x cast to fp32, normalised bf16 output (kept, shared)
        norm = 10 * h if self.norm == "gemma" or residual == 4 else 6 * h
        attention = 4 * 2 * q + 4 * self.heads
        mlp = 4 * 2 * self.intermediate
        return 2 * norm + attention + mlp

    def layer_transient(self) -> int:
        """Bytes per token alive inside one layer of a no-grad forward pass (bf16): the fp32 norm
        temporaries, q, k, v and the attention output, and the MLP's three intermediates."""
        return 8 * self.hidden + 4 * 2 * self.heads * self.head_dim + 3 * 2 * self.intermediate


# The paper's three backbones (config.json of each hub checkpoint).
ARCHITECTURES: dict[str, Architecture] = {
    "qwen1.5-0.5b": Architecture("Qwen1.5-0.5B", "Qwen/Qwen1.5-0.5B", vocab=151_936, hidden=1024, intermediate=2816,
                                 layers=24, heads=16, kv_heads=16, head_dim=64, tied=True, qkv_bias=True, norm="rms"),
    "gemma-2b": Architecture("Gemma-2B", "google/gemma-2b", vocab=256_000, hidden=2048, intermediate=16_384,
                             layers=18, heads=8, kv_heads=1, head_dim=256, tied=True, qkv_bias=False, norm="gemma"),
    "llama-3-8b": Architecture("LLaMA-3-8B", "meta-llama/Meta-Llama-3-8B", vocab=128_256, hidden=4096,
                               intermediate=14_336, layers=32, heads=32, kv_heads=8, head_dim=128, tied=False,
                               qkv_bias=False, norm="rms"),
}


@dataclass(frozen=True)
class Grid:
    """The run layout of config/paper.yaml (and the profile's GPUs per training run); the probe sizes
    are the paper config's strategy parameters (tests/test_memory.py compares them)."""

    gpus: int = 8                    # GPUs per training run (profiles/slurm: train gpu)
    micro_batch: int = 8             # train.micro_batch_size
    max_length: int = 2048           # train.max_length (= pack_length)
    cossim_examples: int = 64        # MoS COSSIM reward batch
    diff_examples: int = 16          # MoS DIFF reward batch (the code's default)
    uat_examples: int = 64           # MultiUAT validation examples per dataset
    dds_examples: int = 16           # MultiDDS examples per gradient (train and validation)
    doremi_examples: int = 16        # DoReMi examples per dataset, under the model and its reference
    dynamixsft_examples: int = 8     # DynamixSFT look-ahead (or forward-only) mini-batch per dataset
    hbo_ppl_examples: int = 16       # HBO perplexity examples per level (its gradients: one example each)
    aioli_examples: int = 64         # Aioli validation examples per dataset
    probe_pack: int = 64             # examples packed per probe forward (mos.mixing.probe)
    logit_budget: int = LOGIT_BUDGET  # logits per output-layer chunk (mos.models.vocab)
    overhead_gb: float = 2.0         # CUDA context, NCCL, allocator fragmentation per GPU
    host_overhead_gb: float = 8.0    # per process: Python, torch, tokenized datasets

    @property
    def micro_tokens(self) -> int:
        return self.micro_batch * self.max_length


# Bytes per parameter held between steps by each way of training (docs/memory.md "Weights and optimizer").
STATES = {
    "zero2": None,              # DeepSpeed ZeRO-2 bf16: 2 + 16 / W (the pipeline on several GPUs)
    "fp32_autocast": 18,        # one process or DDP: fp32 weights, gradients, AdamW m and v, and the
                                # bf16 weight copies autocast caches while a step's forward and backward run
    "bf16": 8,                  # bf16 weights, gradients, m and v (not a recipe: what one GPU holds)
}


def _gb(x: float) -> float:
    return x / GB


def states_bytes(a: Architecture, g: Grid, states: str = "zero2") -> float:
    """Bytes per GPU of weights, gradients and optimizer state in one of the STATES layouts."""
    if states not in STATES:
        raise ValueError(f"states must be one of {', '.join(STATES)}, got {states!r}")
    per = STATES[states]
    return 2 * a.parameters + 16 * a.parameters / g.gpus if per is None else per * a.parameters


def training(a: Architecture, g: Grid, checkpointing: bool, states: str = "zero2") -> dict[str, float]:
    """One training step (GB per GPU): under DeepSpeed ZeRO-2 bf16 on g.gpus GPUs by default."""
    T = g.micro_tokens
    held = states_bytes(a, g, states)
    residual = 4 if states == "fp32_autocast" else 2
    if checkpointing:                           # layer inputs kept; one layer recomputed in the backward
        acts = T * (residual * a.hidden * a.layers + 2 * a.layer_activations(residual))
    else:
        acts = T * a.layers * a.layer_activations(residual)
    acts += T * (10 * a.hidden)                 # embeddings, final norm, the target positions' states
    chunk = g.logit_budget
    loss = 10 * chunk + 6 * a.vocab * a.hidden  # one chunk's logits (bf16, fp32, softmax) + the head's fp32 gradient
    return {"states": _gb(held), "activations": _gb(acts), "loss": _gb(loss),
            "loss_unchunked": _gb(14 * T * a.vocab), "total": _gb(held + acts + loss) + g.overhead_gb}


def _forward(a: Architecture, g: Grid, examples: int) -> float:
    """A no-grad probe pass over `examples` examples: one layer's transients for a training
    micro-batch of rows, the last-layer states of all the examples and their target-position copy."""
    tokens = examples * g.max_length
    return g.micro_tokens * a.layer_transient() + 2 * tokens * a.hidden * 2


def _backward(a: Architecture, g: Grid, examples: int) -> float:
    """The backward pass of a probe gradient over at most a micro-batch of examples, with the run's
    checkpointing: its activations and the output layer's chunk and gradient."""
    step = training(a, replace(g, micro_batch=min(examples, g.micro_batch)), checkpointing=True)
    return (step["activations"] + step["loss"]) * GB


def probes(a: Architecture, g: Grid, weights_bytes: int = 2, shards: int = 1) -> dict[str, float]:
    """Peak extra GB per GPU of each reward's probe over the weights and optimizer state (new code),
    beside what the old code needed (`*_old`)."""
    P, V, chunk, pack, w = a.parameters, a.vocab, g.logit_budget, g.probe_pack, weights_bytes
    old_logits = lambda n: 18 * n * g.max_length * V  # noqa: E731  bf16 + fp32 + log_softmax + exp + product
    old_forward = lambda n: n * g.max_length * (a.layer_transient() + 2 * a.hidden)  # noqa: E731  all rows at once
    out = {
        "cossim": _forward(a, g, g.cossim_examples) + g.max_length * a.hidden * 8,
        "cossim_old": old_forward(pack) + pack * g.max_length * a.hidden * 8,
        "diff": _forward(a, g, g.diff_examples) + 10 * chunk,
        "diff_old": old_forward(g.diff_examples) + 10 * g.diff_examples * g.max_length * V,
        "multiuat": _forward(a, g, pack) + 12 * chunk,
        "multiuat_old": old_forward(pack) + old_logits(pack),
    }
    # MultiDDS: this rank's share (1/shards) of u in float32, of one gradient and of a second one
    # while a later micro-batch's gradient is added; the backward pass of a training micro-batch
    # with the run's checkpointing
    second = w * P if g.dds_examples > g.micro_batch else 0
    out["multidds"] = (4 * P + w * P + second) / shards + _backward(a, g, g.dds_examples)
    out["multidds_old"] = ((3 * w + 8) * P + old_forward(g.dds_examples)
                           + 14 * g.dds_examples * g.max_length * V)
    out["multidds_old_host"] = 5 * 8 * P
    # the field's methods (baselines/): every rank runs the whole probe (no sharding)
    out["doremi"] = _forward(a, g, g.doremi_examples) + 10 * chunk  # its reference model: RESIDENT
    out["odm"] = 0.0                                                    # the training batches' own losses
    out["dynamixsft"] = w * P + _backward(a, g, g.dynamixsft_examples)  # the copies + the gradient: one model
    out["dynamixsft_fwd"] = _forward(a, g, g.dynamixsft_examples) + 10 * chunk
    out["hbo"] = max(w * P + _backward(a, g, 1), _forward(a, g, g.hbo_ppl_examples) + 10 * chunk)
    out["aioli"] = _forward(a, g, g.aioli_examples) + 10 * chunk
    return {k: _gb(v) for k, v in out.items()}


# What a strategy keeps on every GPU for the whole run, steps included (bytes per parameter of the
# weights): DoReMi's reference model.
RESIDENT = {"doremi": 1}
# The probe of each strategy of the registry (mos.mixing.registry); None: static, no probe.
PROBE_OF: dict[str, Any] = {
    "temperature": None, "temperature_heldout": None, "fixed": None, "doremi_two_stage": None,
    "dirichlet": None, "surface_optimum": None,
    "multidds": "multidds", "multiuat": "multiuat",
    "mos": lambda p: p.get("reward", "cossim"), "mospec": lambda p: p.get("reward", "cossim"),
    "doremi": "doremi", "odm": "odm", "aioli": "aioli", "hbo": "hbo",
    "dynamixsft": lambda p: "dynamixsft_fwd" if p.get("reward") == "probe_drop" else "dynamixsft",
}
PROBE_LABELS = {"cossim": "MoS COSSIM", "diff": "MoS DIFF", "multiuat": "MultiUAT", "multidds": "MultiDDS",
                "doremi": "DoReMi", "odm": "ODM", "dynamixsft": "DynamixSFT look-ahead",
                "dynamixsft_fwd": "DynamixSFT forward-only", "aioli": "Aioli", "hbo": "HBO"}


def probe_key(strategy: str, params: Mapping[str, Any] | None = None) -> str | None:
    """The probe (a key of `probes()`) a strategy of the registry runs with these parameters, None
    for a static one; KeyError for a strategy the model does not know."""
    if strategy not in PROBE_OF:
        raise KeyError(f"the memory model has no probe for strategy {strategy!r}: add it to PROBE_OF "
                       "(mos/training/memory.py) and docs/memory.md")
    key = PROBE_OF[strategy]
    return key(dict(params or {})) if callable(key) else key


def run_peak(a: Architecture, g: Grid, probe: str | None = "multidds", weights_bytes: int = 2) -> float:
    """GB per GPU of a training run with checkpointing on: its step, or its probe on top of the
    weights and optimizer partitions between steps, whichever is larger; a strategy's resident
    model (DoReMi's reference) counts in both."""
    step = training(a, g, checkpointing=True)
    resident = _gb(RESIDENT.get(probe, 0) * weights_bytes * a.parameters)
    if probe is None:
        return step["total"]
    extra = probes(a, g, weights_bytes, shards=g.gpus)[probe]
    return max(step["total"] + resident, step["states"] + resident + extra + g.overhead_gb)


def base_ppl(a: Architecture, g: Grid, weights_bytes: int = 2) -> dict[str, float]:
    """θ0's perplexities on one GPU (GB): the weights and a probe pass of 64 examples, both scopes at once."""
    weights = weights_bytes * a.parameters
    new = weights + _forward(a, g, g.probe_pack) + 10 * g.logit_budget
    old = weights + g.probe_pack * g.max_length * (a.layer_transient() + 2 * a.hidden) + \
        18 * g.probe_pack * g.max_length * a.vocab
    return {"weights": _gb(weights), "total": _gb(new) + g.overhead_gb, "total_old": _gb(old) + g.overhead_gb}


def host(a: Architecture, g: Grid, weights_bytes: int = 2) -> dict[str, float]:
    """Host memory (GB) of a node: every DeepSpeed bf16 process loads the checkpoint in bf16
    (mos.training.loop.weights_dtype; float32 before: 4 bytes per parameter), base_ppl loads it once
    in its `weights` dtype (bfloat16 in config/paper.yaml)."""
    return {"train": g.gpus * (_gb(weights_bytes * a.parameters) + g.host_overhead_gb),
            "train_fp32_load": g.gpus * (_gb(4 * a.parameters) + g.host_overhead_gb),
            "base_ppl": _gb(weights_bytes * a.parameters) + g.host_overhead_gb}


RUN_ROWS = ["static", "cossim", "diff", "multiuat", "multidds", "doremi", "odm", "dynamixsft",
            "dynamixsft_fwd", "aioli", "hbo"]


def largest_run(a: Architecture, g: Grid) -> tuple[str, float]:
    """(probe, GB per GPU) of the strategy whose run needs the most memory on this backbone."""
    peaks = {k: run_peak(a, g, None if k == "static" else k) for k in RUN_ROWS}
    worst = max(peaks, key=peaks.get)
    return worst, peaks[worst]


def table(g: Grid, gpu_gb: float = 80.0) -> str:
    """The tables of docs/memory.md, in Markdown."""
    def fmt(x: float) -> str:
        mark = " ⚠" if x > gpu_gb else ""
        return f"{x:,.1f}{mark}"

    lines = [f"Per GPU, GB (⚠: above {gpu_gb:g} GB). Training: DeepSpeed ZeRO-2 bf16 on {g.gpus} GPUs, micro-batch "
             f"{g.micro_batch} x {g.max_length} tokens.", "",
             "| | " + " | ".join(a.label for a in ARCHITECTURES.values()) + " |",
             "|---|" + "---:|" * len(ARCHITECTURES)]

    def row(name: str, values: Sequence[float], raw: bool = False, gpu: bool = True) -> None:
        cells = [f"{v / 1e9:,.3f} B" if raw else (fmt(v) if gpu else f"{v:,.1f}") for v in values]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")

    archs = list(ARCHITECTURES.values())
    row("parameters", [a.parameters for a in archs], raw=True)
    on = [training(a, g, True) for a in archs]
    off = [training(a, g, False) for a in archs]
    pr = [probes(a, g, shards=g.gpus) for a in archs]
    row("weights + gradient/optimizer partitions", [t["states"] for t in on])
    row("activations, gradient checkpointing on", [t["activations"] for t in on])
    row("activations, checkpointing off", [t["activations"] for t in off])
    row("loss: output layer in chunks", [t["loss"] for t in on])
    row("loss: output layer unchunked (before)", [t["loss_unchunked"] for t in on])
    row("**training step, checkpointing on**", [t["total"] for t in on])
    row("training step, checkpointing off", [t["total"] for t in off])
    for key in ("cossim", "diff", "multiuat", "multidds"):
        row(f"probe {PROBE_LABELS[key]}: extra", [p[key] for p in pr])
        row(f"probe {PROBE_LABELS[key]}: extra before", [p[f"{key}_old"] for p in pr])
    for key in ("doremi", "dynamixsft", "dynamixsft_fwd", "aioli", "hbo"):
        row(f"probe {PROBE_LABELS[key]}: extra", [p[key] for p in pr])
    row("DoReMi's reference model, resident", [_gb(2 * a.parameters) for a in archs])
    for key in RUN_ROWS:
        name = "static mixtures" if key == "static" else PROBE_LABELS[key]
        row(f"run peak: {name}", [run_peak(a, g, None if key == "static" else key) for a in archs])
    row("**run peak, largest** (checkpointing on)", [largest_run(a, g)[1] for a in archs])
    row("MultiDDS before: host RAM per process", [p["multidds_old_host"] for p in pr], gpu=False)
    bp = [base_ppl(a, g) for a in archs]
    row("base_ppl (1 GPU, bf16 weights)", [b["total"] for b in bp])
    row("base_ppl before", [b["total_old"] for b in bp])
    hosts = [host(a, g) for a in archs]
    row(f"host RAM: train node ({g.gpus} processes, bf16 load)", [h["train"] for h in hosts], gpu=False)
    row("host RAM: train node, float32 load (before)", [h["train_fp32_load"] for h in hosts], gpu=False)
    row("host RAM: base_ppl (bf16 weights)", [h["base_ppl"] for h in hosts], gpu=False)
    return "\n".join(lines)


def quoted(g: Grid | None = None) -> dict[str, float]:
    """The numbers the README, config/paper.yaml and docs/memory.md quote in their prose, by name, as
    this model computes them (GB, LLaMA-3-8B unless named); tests/test_memory.py finds each quote and
    compares."""
    g = g or Grid()
    llama, four = ARCHITECTURES["llama-3-8b"], replace(g, gpus=4)
    archs = list(ARCHITECTURES.values())
    return {
        "llama_activations_off": training(llama, g, False)["activations"],
        "llama_activations_on": training(llama, g, True)["activations"],
        "llama_weights_bf16": _gb(2 * llama.parameters),
        "llama_adam_fp32": _gb(16 * llama.parameters),
        "llama_peak_8": largest_run(llama, g)[1],
        "llama_peak_4": largest_run(llama, four)[1],
        "largest_peak_8": max(largest_run(a, g)[1] for a in archs),
        "host_train_8": max(host(a, g)["train"] for a in archs),
        "host_train_8_fp32": max(host(a, g)["train_fp32_load"] for a in archs),
        "base_ppl_gpu": max(base_ppl(a, g)["total"] for a in archs),
        **{f"{k}_states_fp32_autocast": _gb(states_bytes(a, g, "fp32_autocast"))
           for k, a in ARCHITECTURES.items()},
        "llama_states_bf16": _gb(states_bytes(llama, g, "bf16")),
    }


def over(g: Grid, gpu_gb: float) -> list[tuple[str, str]]:
    """(backbone, probe) of every run that needs more than `gpu_gb` per GPU in this layout."""
    return [(name, k) for name, a in ARCHITECTURES.items() for k in RUN_ROWS
            if run_peak(a, g, None if k == "static" else k) > gpu_gb]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gpus", type=int, default=Grid.gpus,
                    help="GPUs per training run (profiles/slurm: train gpu)")
    ap.add_argument("--gpu-gb", type=float, default=80.0, help="GPU memory, to flag what does not fit")
    ap.add_argument("--budget", type=int, default=LOGIT_BUDGET, help="logits per output-layer chunk")
    args = ap.parse_args(argv)
    if args.gpus < 1 or not math.isfinite(args.gpu_gb):
        ap.error("--gpus must be >= 1 and --gpu-gb finite")
    print(table(Grid(gpus=args.gpus, logit_budget=args.budget), args.gpu_gb))


if __name__ == "__main__":
    main()
