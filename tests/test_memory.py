"""Memory that scales with the data, not with positions x vocabulary (issue 11 part 1): the probe's
peak tensor memory at a 256K vocabulary, the chunked output layer against the plain computation,
the probe against the old (unchunked) computation, Gemma-2 soft-capping, the precision check of
DIFF, and docs/memory.md against mos.training.memory.

    .venv/bin/python -m pytest tests/test_memory.py -q
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml
from transformers import Gemma2Config, Gemma2ForCausalLM, LlamaConfig, LlamaForCausalLM

from baselines.multidds import MultiDDS
from mos.data.batching import IGNORE, pack
from mos.data.tokenized import TokenizedDataset
from mos.mixing.probe import Probe
from mos.models.vocab import _accumulate, cross_entropy_sum, target_stats
from mos.training import memory as M
from mos.training.loop import CausalLMLoss

ROOT = Path(__file__).resolve().parents[1]
MiB = 2**20


def tiny_llama(vocab: int, hidden: int = 16, layers: int = 1, seed: int = 0) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=vocab, hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
                         num_attention_heads=2, num_key_value_heads=2, head_dim=hidden // 2, max_position_embeddings=256,
                         tie_word_embeddings=True, pad_token_id=0)
    return LlamaForCausalLM(config).eval()


def random_dataset(name: str, n: int, length: int, vocab: int, seed: int) -> TokenizedDataset:
    """n examples of `length` (± a few) random tokens; the second half of each is the 'response'."""
    rng = np.random.default_rng(seed)
    ids, mask, response = [], [], []
    for _ in range(n):
        k = int(length + rng.integers(-4, 5))
        ids.append(rng.integers(1, vocab, size=k).astype(np.int64))
        resp = np.arange(k) >= k // 2
        response.append(resp)
        mask.append(np.arange(k) > 0)
    return TokenizedDataset(name, ids, mask, response)


def peak_cpu_bytes(fn) -> int:
    """Peak of the bytes held by tensors allocated inside fn, from the CPU allocator's events that
    torch.profiler records (allocations positive, frees negative, in time order)."""
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


# ---------------------------------------------------------------- the 256K-vocabulary bound

VOCAB, EXAMPLES, LENGTH = 256_000, 64, 64
BUDGET = 1 << 21          # logits per chunk in this test: 8 MiB per float32 copy (8 positions)
BOUND = 96 * MiB          # peak tensor memory allowed in the probe


@pytest.fixture(scope="module")
def big_vocab():
    model = tiny_llama(VOCAB)
    data = {"D": random_dataset("D", EXAMPLES, LENGTH, VOCAB, seed=1)}
    probe = Probe(model, data, pad_id=0, seed=0, pack_length=512, validation=data, logit_budget=BUDGET,
                  grad_batch=EXAMPLES)
    return model, data, probe


def test_old_code_would_exceed_the_bound_tenfold(big_vocab) -> None:
    """The old probe held float32 logits of every position (about 4 copies): one copy alone is
    more than 10 x the bound the new probe is held to below."""
    _, data, _ = big_vocab
    positions = sum(len(x) - 1 for x in data["D"].ids)
    one_copy = positions * VOCAB * 4
    assert one_copy >= 10 * BOUND, (one_copy / MiB, BOUND / MiB)


@pytest.mark.parametrize("what", ["perplexities", "entropy", "both_scopes", "gradient"])
def test_probe_peak_memory_stays_under_the_bound_at_a_256k_vocabulary(big_vocab, what) -> None:
    _, data, probe = big_vocab
    idx = list(range(EXAMPLES))
    run = {
        "perplexities": lambda: probe.perplexities("D", idx, "sequence"),
        "entropy": lambda: probe.token_stats("D", idx, "response", entropy=True),
        "both_scopes": lambda: probe.scope_stats("D", idx, ("sequence", "response")),
        "gradient": lambda: probe.gradients("D", idx[:16], "validation"),
    }[what]
    peak = peak_cpu_bytes(run)
    print(f"{what}: peak {peak / MiB:.1f} MiB (bound {BOUND / MiB:.0f} MiB)")
    assert peak < BOUND, f"{what}: peak {peak / MiB:.1f} MiB >= bound {BOUND / MiB:.0f} MiB"


def test_multidds_memory_does_not_grow_with_the_number_of_datasets() -> None:
    """MultiDDS holds u and one gradient at a time, whatever the number of validation sets; the old
    code kept one float64 copy of all parameters per validation set (+ 2 x params bytes each)."""
    model = tiny_llama(32_000, hidden=32, seed=2)
    params = sum(p.numel() for p in model.parameters()) * 4
    peaks = {}
    for n_sets in (2, 6):
        data = {f"D{k}": random_dataset(f"D{k}", 8, 48, 32_000, seed=k) for k in range(n_sets)}
        probe = Probe(model, data, pad_id=0, seed=0, pack_length=512, validation=data, logit_budget=BUDGET)
        peaks[n_sets] = peak_cpu_bytes(lambda p=probe: MultiDDS(grad_examples=2, validation_examples=2).rewards(p))
    print(f"MultiDDS peaks: {peaks[2] / MiB:.1f} MiB (2 sets), {peaks[6] / MiB:.1f} MiB (6 sets); "
          f"parameters {params / MiB:.1f} MiB")
    assert peaks[6] - peaks[2] < 0.5 * params  # the old code: + 4 x 2 x params
    assert peaks[6] < 8 * params


# ---------------------------------------------------------------- the same numbers as before


def old_token_stats(model, data, indices, scope):
    """The probe's computation before issue 11: float32 logits of every position, log_softmax,
    entropy, per-example sums (the reference the streamed computation must equal)."""
    masks = data.response if scope == "response" else [np.arange(len(x)) > 0 for x in data.ids]
    batch = pack([data.ids[i] for i in indices], [masks[i] for i in indices], 512, 0)
    with torch.no_grad():
        hidden = model.get_decoder()(input_ids=batch.input_ids, position_ids=batch.position_ids,
                                         use_cache=False).last_hidden_state
        logp = torch.log_softmax(model.get_output_embeddings()(hidden[:, :-1]).float(), dim=-1)
    targets = batch.labels[:, 1:]
    tok_nll = -logp.gather(-1, targets.clamp(min=0)[..., None])[..., 0]
    tok_ent = -(logp.exp() * logp).sum(-1)
    keep = targets != IGNORE
    nll = [tok_nll[r, a:b - 1][keep[r, a:b - 1]].sum().double() for r, a, b in batch.spans]
    ent = [tok_ent[r, a:b - 1][keep[r, a:b - 1]].sum().double() for r, a, b in batch.spans]
    return torch.stack(nll), torch.stack(ent)


def old_gradient(model, data, indices):
    """The flat float64 gradient of the mean training loss (the old Probe.gradient)."""
    params = [p for p in model.parameters() if p.requires_grad]
    batch = pack([data.ids[i] for i in indices], [data.mask[i] for i in indices], 512, 0)
    hidden = model.get_decoder()(input_ids=batch.input_ids, position_ids=batch.position_ids,
                                         use_cache=False).last_hidden_state
    targets = batch.labels[:, 1:]
    keep = targets != IGNORE
    loss = F.cross_entropy(model.get_output_embeddings()(hidden[:, :-1][keep]).float(), targets[keep], reduction="sum")
    grads = torch.autograd.grad(loss / int(keep.sum()), params, allow_unused=True)
    return torch.cat([(torch.zeros_like(p) if g is None else g).flatten() for p, g in zip(params, grads, strict=True)]).double()


@pytest.fixture(scope="module")
def small():
    vocab = 1000
    model = tiny_llama(vocab, hidden=32, layers=2, seed=3)
    data = {n: random_dataset(n, 12, 40, vocab, seed=s) for s, n in enumerate("ABC")}
    return model, data


@pytest.mark.parametrize("budget", [1 << 30, 3000])  # one chunk; 3 positions per chunk
def test_streamed_probe_equals_the_old_computation(small, budget) -> None:
    model, data = small
    probe = Probe(model, data, pad_id=0, seed=0, pack_length=512, logit_budget=budget, rows_per_forward=2,
                  grad_batch=5)
    idx = list(range(12))
    both = probe.scope_stats("A", idx, ("sequence", "response"), entropy=True)
    for scope in ("sequence", "response"):
        nll, ent = old_token_stats(model, data["A"], idx, scope)
        torch.testing.assert_close(both[scope]["nll"], nll, rtol=1e-6, atol=0)
        torch.testing.assert_close(both[scope]["entropy"], ent, rtol=1e-6, atol=0)
        alone = probe.token_stats("A", idx, scope)       # one scope at a time: the same numbers
        assert torch.equal(alone["nll"], both[scope]["nll"]) and "entropy" not in alone
    g, ref = probe.gradient("A", idx), old_gradient(model, data["A"], idx)  # in micro-batches of 5 vs one pass
    assert float((g - ref).norm() / ref.norm()) < 1e-6


def test_multidds_reward_is_the_mean_cosine_of_flat_gradients(small) -> None:
    """R(i) = 1/N Σ_j cos(g_i, v_j), hand-computed on flat float64 gradients (the old code)."""
    model, data = small
    probe = Probe(model, data, pad_id=0, seed=7, pack_length=512, validation=data, logit_budget=3000, grad_batch=3)
    strategy = MultiDDS(grad_examples=5, validation_examples=4)
    rewards = strategy.rewards(probe)
    replay = torch.Generator().manual_seed(7 * 7_919 + 104_729)  # the probe's draws, replayed

    def draw(n: int, k: int) -> list[int]:
        return torch.randperm(n, generator=replay)[:k].tolist()

    val = [old_gradient(model, data[n], draw(12, 4)) for n in data]
    for n in data:
        g = old_gradient(model, data[n], draw(12, 5))
        expected = float(torch.stack([F.cosine_similarity(g, v, dim=0) for v in val]).mean())
        assert rewards[n] == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("softcap", [None, 5.0])
def test_chunked_cross_entropy_equals_the_plain_one(softcap) -> None:
    torch.manual_seed(0)
    head = torch.nn.Linear(24, 500, bias=False)
    hidden = torch.randn(37, 24, requires_grad=True)
    targets = torch.randint(0, 500, (37,))
    plain = cross_entropy_sum(hidden, head, targets, softcap, budget=1 << 30)
    dh, dw = torch.autograd.grad(plain, [hidden, head.weight])
    chunked = cross_entropy_sum(hidden, head, targets, softcap, budget=500 * 4)  # 4 positions per chunk
    ch, cw = torch.autograd.grad(chunked, [hidden, head.weight])
    torch.testing.assert_close(chunked, plain, rtol=1e-6, atol=0)
    torch.testing.assert_close(ch, dh, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(cw, dw, rtol=1e-5, atol=1e-7)
    nll, ent = target_stats(hidden.detach(), head, targets, softcap, entropy=True, budget=500 * 4)
    assert float(nll.sum()) == pytest.approx(float(plain.detach()), rel=1e-6)
    assert ent is not None and bool((ent > 0).all())
    with torch.autocast("cpu", dtype=torch.bfloat16):  # the bf16 path runs and stays close
        low = cross_entropy_sum(hidden, head, targets, softcap, budget=500 * 4)
        (lh,) = torch.autograd.grad(low, [hidden])
    torch.testing.assert_close(low, plain, rtol=2e-2, atol=0)
    torch.testing.assert_close(lh, dh, rtol=0.1, atol=2e-3)


def test_gemma2_soft_capping_is_honoured_by_probe_and_loss() -> None:
    """Perplexities and the training loss use cap · tanh(z / cap), as the model's own logits do."""
    torch.manual_seed(0)
    config = Gemma2Config(vocab_size=300, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                          num_attention_heads=2, num_key_value_heads=1, head_dim=16, final_logit_softcapping=1.0,
                          max_position_embeddings=128, pad_token_id=0)
    model = Gemma2ForCausalLM(config).eval()
    with torch.no_grad():
        model.get_output_embeddings().weight.mul_(200.0)  # logits of several units, where the cap bites
    data = {"A": random_dataset("A", 3, 20, 300, seed=0)}
    ids = torch.as_tensor(data["A"].ids[0])[None]
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0, :-1].float()  # transformers applies the cap
    want = F.cross_entropy(logits, ids[0, 1:], reduction="sum")
    probe = Probe(model, data, pad_id=0, seed=0, pack_length=64, logit_budget=300 * 4)
    got = probe.token_stats("A", [0], "sequence")["nll"][0]
    assert float(got) == pytest.approx(float(want), rel=1e-5)
    batch = pack([data["A"].ids[0]], [data["A"].mask[0]], 64, 0)
    loss = CausalLMLoss(model, logit_budget=300 * 4)(batch.input_ids, batch.position_ids, batch.labels)
    assert float(loss.detach()) == pytest.approx(float(want), rel=1e-5)
    uncapped = F.cross_entropy(model.get_output_embeddings()(model.get_decoder()(input_ids=ids).last_hidden_state)[0, :-1],
                               ids[0, 1:], reduction="sum")
    assert abs(float(uncapped.detach()) - float(want)) > 0.1 * float(want)  # the cap matters here


# ---------------------------------------------------------------- the documented memory model


def test_docs_memory_tables_are_what_the_model_computes() -> None:
    doc = (ROOT / "docs" / "memory.md").read_text(encoding="utf-8")
    for gpus in (4, 8):
        block = re.search(rf"<!-- python -m mos memory --gpus {gpus} -->\n(.*?)\n<!-- end -->", doc, re.S)
        assert block, f"docs/memory.md has no table for --gpus {gpus}"
        assert block.group(1).strip() == M.table(M.Grid(gpus=gpus)).strip(), f"regenerate the --gpus {gpus} table"
    out = subprocess.run([sys.executable, "-m", "mos", "memory"], capture_output=True, text=True, check=True).stdout
    assert out.strip() == M.table(M.Grid()).strip()


def test_parameter_counts_match_the_published_sizes() -> None:
    counts = {k: a.parameters for k, a in M.ARCHITECTURES.items()}
    assert counts["llama-3-8b"] == pytest.approx(8.03e9, rel=2e-3)
    assert counts["gemma-2b"] == pytest.approx(2.506e9, rel=2e-3)
    assert counts["qwen1.5-0.5b"] == pytest.approx(0.464e9, rel=2e-3)
    tiny = tiny_llama(1000, hidden=32, layers=2)
    arch = M.Architecture("t", "t", vocab=1000, hidden=32, intermediate=64, layers=2, heads=2, kv_heads=2, head_dim=16,
                          tied=True, qkv_bias=False, norm="rms")
    assert arch.parameters == sum(p.numel() for p in tiny.parameters())


def test_slurm_profile_is_sized_from_the_memory_model() -> None:
    prof = yaml.safe_load((ROOT / "profiles" / "slurm" / "config.yaml").read_text(encoding="utf-8"))
    res = prof["set-resources"]
    grid = M.Grid(gpus=res["train"]["gpu"])
    hosts = [M.host(a, grid) for a in M.ARCHITECTURES.values()]
    assert res["train"]["mem_mb"] >= 1000 * max(h["train"] for h in hosts)
    assert res["base_ppl"]["mem_mb"] >= 1000 * max(h["base_ppl"] for h in hosts)
    gpu_gb = 80.0  # the profile is sized for 80 GB GPUs (A100/H100)
    assert not M.over(grid, gpu_gb), f"runs needing more than {gpu_gb:.0f} GB per GPU: {M.over(grid, gpu_gb)}"
    assert all(M.base_ppl(a, grid)["total"] <= gpu_gb for a in M.ARCHITECTURES.values())


def test_every_strategy_of_the_paper_config_has_its_memory() -> None:
    """Every mixture of config/paper.yaml maps to a probe of the memory model (or none, static), and the
    grid's probe sizes and batch layout are the paper config's."""
    from mos.pipeline.config import load_config
    from mos.pipeline.specs import strategy_params

    cfg = load_config(ROOT / "config" / "paper.yaml")
    kinds = {label: M.probe_key(mix["strategy"], strategy_params(cfg, label))
             for label, mix in cfg["mixtures"].items()}
    assert kinds["uniform"] is None and kinds["mos_diff_ema"] == "diff"
    assert kinds["dynamixsft_fwd"] == "dynamixsft_fwd"
    assert set(kinds.values()) - {None} == set(M.RUN_ROWS) - {"static"}  # every probe kind modelled and used
    with pytest.raises(KeyError, match="no probe for strategy 'new'"):
        M.probe_key("new")
    g, p = M.Grid(), lambda m, k: strategy_params(cfg, m)[k]
    assert (g.micro_batch, g.max_length) == (cfg["train"]["micro_batch_size"], cfg["train"]["max_length"])
    assert g.cossim_examples == p("mos_cossim", "cossim_examples")
    assert g.diff_examples == p("mos_diff", "diff_examples")
    assert g.uat_examples == p("multiuat", "validation_examples")
    assert g.dds_examples == p("multidds", "grad_examples") == p("multidds", "validation_examples")
    assert g.doremi_examples == p("doremi", "examples")
    assert g.dynamixsft_examples == p("dynamixsft", "examples")
    assert g.hbo_ppl_examples == p("hbo", "ppl_examples_per_level")
    assert g.aioli_examples == p("aioli", "validation_examples")


# (file, the quote with its number as a group, the model's name for it, "~" rounds / "<=" is an upper bound)
QUOTES = [
    ("README.md", r"\(≤ (\d+) GB per GPU\) \|", "largest_peak_8", "<="),
    ("README.md", r"LLaMA-3-8B: (\d+) GB of bf16\s+weights", "llama_weights_bf16", "~"),
    ("README.md", r"\+ (\d+) GB / GPUs of fp32 gradients", "llama_adam_fp32", "~"),
    ("README.md", r"~(\d+) GB of activations\s+with gradient checkpointing", "llama_activations_on", "~"),
    ("README.md", r"~(\d+) GB per GPU on 8 GPUs", "llama_peak_8", "~"),
    ("README.md", r"MultiDDS ~(\d+) GB on 4", "llama_peak_4", "~"),
    ("README.md", r"~(\d+) GB of host memory for 8 LLaMA-3-8B", "host_train_8", "~"),
    ("README.md", r"\(≤ (\d+) GB of GPU\)", "base_ppl_gpu", "<="),
    ("README.md", r"LLaMA-3-8B: (\d+) GB of weights, gradients", "llama-3-8b_states_fp32_autocast", "~"),
    ("config/paper.yaml", r"~(\d+) GB of activations without", "llama_activations_off", "~"),
    ("config/paper.yaml", r"without, ~(\d+) GB with", "llama_activations_on", "~"),
    ("config/accelerate/deepspeed_zero2.yaml", r"takes (\d+) GB of bf16 weights", "llama_weights_bf16", "~"),
    ("config/accelerate/deepspeed_zero2.yaml", r"\+ (\d+) GB / N of fp32", "llama_adam_fp32", "~"),
    ("docs/memory.md", r"\(~(\d+) GB of activations without it", "llama_activations_off", "~"),
    ("docs/memory.md", r"2,048; ~(\d+) GB with\)", "llama_activations_on", "~"),
    ("docs/memory.md", r"need ~(\d+) GB per GPU there", "llama_peak_8", "~"),
    ("docs/memory.md", r"runs need ~(\d+) GB, just over 80 GB", "llama_peak_4", "~"),
    ("docs/memory.md", r"needs ~(\d+) GB of RAM for the 8", "host_train_8", "~"),
    ("docs/memory.md", r"loads in bf16 \(~(\d+) GB when each loaded float32", "host_train_8_fp32", "~"),
    ("docs/memory.md", r"need one GPU\*\* \(≤ (\d+) GB\)", "base_ppl_gpu", "<="),
    ("docs/memory.md", r"Qwen (\d+\.\d) GB, Gemma", "qwen1.5-0.5b_states_fp32_autocast", "~"),
    ("docs/memory.md", r"Gemma\s+(\d+) GB, LLaMA-3-8B", "gemma-2b_states_fp32_autocast", "~"),
    ("docs/memory.md", r"LLaMA-3-8B (\d+) GB \(does not fit", "llama-3-8b_states_fp32_autocast", "~"),
]


def quote_problems(quotes, model: dict[str, float]) -> list[str]:
    bad = []
    for file, pattern, key, kind in quotes:
        found = re.findall(pattern, (ROOT / file).read_text(encoding="utf-8"))
        if len(found) != 1:
            bad.append(f"{file}: {pattern!r} found {len(found)} times, expected once")
            continue
        value, digits = model[key], len(found[0].partition(".")[2])
        ok = (float(found[0]) == round(value, digits) if kind == "~"
              else value <= float(found[0]) < value + 10 ** -digits + 1e-9)
        if not ok:
            bad.append(f"{file}: quotes {found[0]} for {key}; the model says {value:.2f} ({kind})")
    return bad


def test_the_numbers_the_docs_quote_are_the_models() -> None:
    """One number per fact: each memory figure in the README, the config comments and docs/memory.md's
    prose is what mos.training.memory computes (the tables are generated, the prose is checked here)."""
    model = M.quoted()
    assert not quote_problems(QUOTES, model), "\n".join(quote_problems(QUOTES, model))
    assert M.over(M.Grid(gpus=4), 80.0) == [("llama-3-8b", k) for k in ("multidds", "doremi", "dynamixsft")]
    assert not M.over(M.Grid(gpus=4), 141.0)  # "every run fits 4 x 141 GB (H200)"
    # the check can fail: a stale quote is reported
    assert quote_problems([("docs/memory.md", r"need ~(\d+) GB per GPU there", "llama_peak_8", "~")],
                          {**model, "llama_peak_8": 57.4}) == \
        ["docs/memory.md: quotes 65 for llama_peak_8; the model says 57.40 (~)"]


def test_the_head_gradient_accumulates_in_place_in_six_bytes_per_weight() -> None:
    """The chunked loss's backward pass holds the output layer's float32 accumulator and one bf16
    product at a time (6·V·H bytes with bf16 weights, what mos.training.memory counts), not a float32
    copy of the product on top (10·V·H); and the in-place sum is the same numbers as the copy."""
    torch.manual_seed(0)
    vocab, hidden, n = 40_000, 64, 24
    head = torch.nn.Linear(hidden, vocab, bias=False).to(torch.bfloat16)
    h = torch.randn(n, hidden, dtype=torch.bfloat16, requires_grad=True)
    targets = torch.randint(0, vocab, (n,))
    budget = 2 * vocab  # 2 positions per chunk: 12 chunks, the accumulator is summed into 11 times

    def backward():
        loss = cross_entropy_sum(h, head, targets, budget=budget)
        return torch.autograd.grad(loss, [head.weight])[0]

    vh = vocab * hidden
    peak = peak_cpu_bytes(backward)
    print(f"head gradient: peak {peak / vh:.2f} bytes per weight")
    assert peak < 7.5 * vh, f"{peak / vh:.2f} bytes per weight: the product was copied to float32"
    # the copy it replaced (dw += (g.T @ h).float()) gives the same bits
    g = torch.randn(3, vocab, dtype=torch.bfloat16)
    a = torch.randn(vocab, hidden)
    b = a.clone()
    for _ in range(3):
        _accumulate(a, g.T @ h.detach()[:3], budget=1000)
        b += (g.T @ h.detach()[:3]).float()
    assert torch.equal(a, b)


def test_the_lookahead_holds_one_model_of_copies_and_gradients() -> None:
    """DynamixSFT's virtual step copies each parameter just before it moves and frees its gradient
    after: the copies and the gradients together stay one model's size (the memory model's w·P), not two."""
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=64, hidden_size=256, intermediate_size=512, num_hidden_layers=8,
                         num_attention_heads=4, num_key_value_heads=4, head_dim=64,
                         max_position_embeddings=64, tie_word_embeddings=True)
    model = LlamaForCausalLM(config).eval()
    data = {"D": random_dataset("D", 2, 12, 64, seed=0)}
    probe = Probe(model, data, pad_id=0, seed=0, pack_length=64)
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    before = [p.detach().clone() for p in model.parameters()]
    peak = peak_cpu_bytes(lambda: probe.lookahead("D", [0, 1], lr=0.1))
    print(f"lookahead: peak {peak / weights:.2f} x the weights")
    assert peak < 1.4 * weights, f"{peak / weights:.2f} x the weights: copies and gradients both held whole"
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
