"""Measure how far the strategy pins drift between float kernels and CPUs, whether an opt-in set of
arithmetic settings makes them identical across CPU vendors, and what those settings cost per step.

    python scripts/portable_arithmetic.py                                   # -> results/benchmarks/portable_arithmetic.json
    python scripts/portable_arithmetic.py --pins uniform,mos_cossim_ema --no-emulation   # quicker

Each *setting* trains the pinned runs of tests/pins.py (9 steps each, one thread) in a fresh process,
from one set of fixtures (the tests' testbed, tokenizer and tiny Llama, built once here):

- `native`: this CPU as it is;
- `scalar`: torch's non-vectorised kernels (`ATEN_CPU_CAPABILITY=default`), another reduction order;
- `portable`: the candidate portable arithmetic PORTABLE_ENV (MKL's vendor-independent code path
  `MKL_CBWR=COMPATIBLE`, torch's AVX2 kernels, oneDNN capped at AVX2);
- `intel-native`, `intel-portable`: the same two under `qemu-x86_64 -cpu Haswell-v4` (Debian's
  qemu-user), which runs this very Python, torch and MKL on an emulated *Intel* CPU: MKL and oneDNN read
  the vendor from CPUID and pick their kernels for it, as on a real Intel machine. Skipped (and said so)
  without qemu-user. Emulation is slow (minutes per run): `--emulated-pins` chooses the runs it trains.

It also fingerprints the pieces of one training step under every setting (`kernels`: a matrix product,
one forward and backward pass, a square root, one AdamW step), which tells where two settings part.
It reports, for every pair of settings, which runs are bit-identical and the largest relative difference
of every pinned field (the drift the tolerant branch of tests/test_strategy_pins.py must absorb), the
recorded AVX-512 fixture included; and the seconds per training step of the default tiny-llama recipe
under `native` and `portable`, interleaved over repeats on this machine (the cost of the opt-in).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mos.common.io import write_json  # noqa: E402

# The candidate portable arithmetic: MKL's vendor-independent code path (conditional numerical
# reproducibility), torch's AVX2 kernels on every CPU, oneDNN capped at AVX2.
PORTABLE_ENV = {"MKL_CBWR": "COMPATIBLE", "ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}

SETTINGS = {
    "native": ({}, False),
    "scalar": ({"ATEN_CPU_CAPABILITY": "default"}, False),
    "portable": (PORTABLE_ENV, False),
    "intel-native": ({}, True),
    "intel-portable": (PORTABLE_ENV, True),
}
EMULATOR = ["qemu-x86_64", "-cpu", "Haswell-v4"]
TINY_LLAMA = {"name": "tiny-llama", "family": "llama", "hidden_size": 96, "num_layers": 2, "num_heads": 4,
              "intermediate_size": 256}


def build_fixtures(folder: Path) -> Path:
    """The tests' fixtures (tests/conftest.py): testbed at scale 0.01, a 512-token BPE, the tiny Llama."""
    from mos.data.testbed.build import TestbedConfig, build
    from mos.data.tokenizer import load_tokenizer_dir, train_tokenizer, training_texts
    from mos.models.backbones import build_tiny

    if not (folder / "model").exists():
        build(TestbedConfig(seed=0, scale=0.01, corpus_docs=400, mc_math=20, mc_general=20, mc_nlp_per_task=3,
                            chat_per_category=2, word_problems=10), folder / "tb")
        train_tokenizer(training_texts(folder / "tb"), 512).save_pretrained(folder / "tok")
        tok = load_tokenizer_dir(folder / "tok")
        model = build_tiny({"name": "tiny", "family": "llama", "hidden_size": 32, "num_layers": 2, "num_heads": 2,
                            "intermediate_size": 64}, tok, seed=0)
        model.save_pretrained(folder / "model")
        tok.save_pretrained(folder / "model")
    return folder


def child_pins(fixtures: Path, labels: list[str], out: Path) -> None:
    """In a child process: θ0's perplexities, then each pinned run; writes {label: run, "hardware": ...}."""
    import torch

    from mos.common.provenance import hardware
    from mos.training.base_ppl import main as base_ppl_main
    from tests.pins import SKILLS, pinned_run

    torch.set_num_threads(1)
    work = Path(tempfile.mkdtemp(prefix="pins-"))
    ppl = work / "base.csv"
    base_ppl_main(["--spec", json.dumps({"model": str(fixtures / "model"), "max_length": 128, "pool_size": 40,
                   "seed": 0, "datasets": {s: str(fixtures / "tb" / "train" / f"{s}.jsonl") for s in SKILLS}}),
                   "--out", str(ppl)])
    result = {"hardware": hardware(), "base_ppl": ppl.read_text(), "runs": {}}
    for label in labels:
        result["runs"][label] = pinned_run(label, fixtures / "model", fixtures / "tb", ppl, work / label)
    shutil.rmtree(work, ignore_errors=True)
    write_json(out, result)


def child_steps(fixtures: Path, steps: int, out: Path) -> None:
    """In a child process: seconds per step of the default tiny-llama recipe (uniform, batch 16, 256 tokens)."""
    import torch

    from mos.data.tokenizer import load_tokenizer_dir
    from mos.models.backbones import build_tiny
    from mos.training.loop import Run
    from tests.pins import SKILLS

    torch.set_num_threads(1)
    work = Path(tempfile.mkdtemp(prefix="steps-"))
    tok = load_tokenizer_dir(fixtures / "model")
    build_tiny(TINY_LLAMA, tok, seed=0).save_pretrained(work / "model")
    tok.save_pretrained(work / "model")
    spec = {"backbone": "tiny-llama", "model": str(work / "model"), "seed": 0,
            "datasets": {s: str(fixtures / "tb" / "train" / f"{s}.jsonl") for s in SKILLS},
            "mixture": {"name": "uniform", "strategy": "temperature", "params": {"tau": "inf"}},
            "train": {"steps": steps, "batch_size": 16, "micro_batch_size": 16, "lr": 1e-3, "warmup_ratio": 0.1,
                      "weight_decay": 0.1, "adam_betas": [0.9, 0.95], "grad_clip": 1.0, "loss": "response",
                      "sampling_unit": "example", "max_length": 256, "pack_length": 256,
                      "checkpoint_every": 0, "log_every": 10}}
    run = Run(spec, work / "run")
    t0 = time.perf_counter()
    run.run()
    write_json(out, {"seconds_per_step": (time.perf_counter() - t0) / steps})
    shutil.rmtree(work, ignore_errors=True)


def child_kernels(out: Path) -> None:
    """In a child process: bit fingerprints of the pieces of a training step, to tell which of them depend on
    the CPU: a matrix product, the gradients of one forward and backward pass of a tiny Llama, the square
    root of a fixed tensor (Adam's denominator) and one AdamW step."""
    import hashlib

    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    def digest(tensors) -> str:
        return hashlib.sha256(b"".join(t.detach().contiguous().numpy().tobytes() for t in tensors)).hexdigest()[:16]

    torch.set_num_threads(1)
    torch.manual_seed(0)
    a, b = torch.randn(64, 300), torch.randn(300, 200)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=512, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=128))
    ids = torch.randint(0, 512, (4, 64), generator=torch.Generator().manual_seed(1))
    model(input_ids=ids, labels=ids).loss.backward()
    grads = [p.grad for p in model.parameters()]
    v = torch.randn(4096).mul_(1e-3).pow_(2).mul_(1e-3)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    opt.step()
    write_json(out, {"matmul": digest([a @ b]), "gradients": digest(grads), "sqrt_input": digest([v]),
                     "sqrt": digest([v.sqrt()]), "adamw_step": digest(list(model.parameters()))})


def spawn(setting: str, args: list[str]) -> None:
    env_extra, emulated = SETTINGS[setting]
    env = {**os.environ, **env_extra, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    for key in ("MKL_CBWR", "ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS"):
        if key not in env_extra:
            env.pop(key, None)
    cmd = [*(EMULATOR if emulated else []), sys.executable, __file__, *args]
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# ---------------------------------------------------------------------------- comparisons
def drift(a: dict, b: dict) -> dict[str, float]:
    """field -> the largest relative difference between two sets of pinned runs (their common runs)."""
    worst: dict[str, float] = {}

    def note(field: str, x, y) -> None:
        if x in ("", None) or y in ("", None) or field in ("step", "dataset", "drawn", "tokens", "lr"):
            return
        x, y = float(x), float(y)
        worst[field] = max(worst.get(field, 0.0), abs(x - y) / max(abs(y), 1e-300))

    for label in sorted(set(a) & set(b)):
        for table in ("trajectory", "train_log"):
            for row_a, row_b in zip(a[label][table], b[label][table], strict=True):
                for k in row_a:
                    note(k, row_a[k], row_b[k])
        for k in a[label]["final_weights"]:
            note("final_weights", a[label]["final_weights"][k], b[label]["final_weights"][k])
        note("final_loss", a[label]["final_loss"], b[label]["final_loss"])
    return worst


def identical(a: dict, b: dict) -> dict[str, bool]:
    return {label: a[label] == b[label] for label in sorted(set(a) & set(b))}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=REPO / "results/benchmarks/portable_arithmetic.json")
    ap.add_argument("--pins", default="all", help="comma-separated pinned runs for the native settings (default all)")
    ap.add_argument("--emulated-pins", default="uniform,mos_cossim_ema,multidds",
                    help="the pinned runs trained under emulation (slow)")
    ap.add_argument("--no-emulation", action="store_true")
    ap.add_argument("--steps", type=int, default=60, help="training steps per timing")
    ap.add_argument("--repeats", type=int, default=5, help="interleaved timings per setting")
    ap.add_argument("--child", choices=["pins", "steps", "kernels"], help=argparse.SUPPRESS)
    ap.add_argument("--fixtures", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--labels", help=argparse.SUPPRESS)
    ap.add_argument("--child-out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child == "pins":
        child_pins(args.fixtures, args.labels.split(","), args.child_out)
        return 0
    if args.child == "steps":
        child_steps(args.fixtures, args.steps, args.child_out)
        return 0
    if args.child == "kernels":
        child_kernels(args.child_out)
        return 0

    from tests.pins import OTHER_CPU, PINNED

    labels = sorted(PINNED) if args.pins == "all" else args.pins.split(",")
    emulated = [] if args.no_emulation or not shutil.which(EMULATOR[0]) else args.emulated_pins.split(",")
    report: dict = {"pins": labels, "emulated_pins": emulated, "emulator": " ".join(EMULATOR) if emulated else
                    "not available (install Debian's qemu-user) or switched off", "settings": {}}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        fixtures = build_fixtures(work / "fixtures")
        results = {}
        for setting, (env, is_emulated) in SETTINGS.items():
            todo = emulated if is_emulated else labels
            if not todo:
                continue
            t0 = time.perf_counter()
            out = work / f"{setting}.json"
            spawn(setting, ["--child", "pins", "--fixtures", str(fixtures), "--labels", ",".join(todo),
                            "--child-out", str(out)])
            results[setting] = json.loads(out.read_text())
            report["settings"][setting] = {"env": env, "emulated_intel": is_emulated, "runs": todo,
                                           "fingerprint": results[setting]["hardware"]["fingerprint"],
                                           "wall_s": round(time.perf_counter() - t0, 1)}
            print(f"{setting:15s} {len(todo)} runs in {time.perf_counter() - t0:.0f} s", flush=True)
        kernels = {}
        for setting, (_, is_emulated) in SETTINGS.items():
            if is_emulated and not emulated:
                continue
            out = work / f"kernels-{setting}.json"
            spawn(setting, ["--child", "kernels", "--child-out", str(out)])
            kernels[setting] = json.loads(out.read_text())
        report["kernels"] = kernels
        runs = {name: r["runs"] for name, r in results.items()}
        runs["recorded-avx512"] = json.loads(OTHER_CPU.read_text())["runs"]
        pairs = [(a, b) for i, a in enumerate(runs) for b in list(runs)[i + 1:]]
        report["pairs"] = {f"{a} vs {b}": {"identical": identical(runs[a], runs[b]), "drift": drift(runs[a], runs[b]),
                                           "same_base_ppl": results.get(a, {}).get("base_ppl") ==
                                           results.get(b, {}).get("base_ppl") if b in results else None}
                           for a, b in pairs if set(runs[a]) & set(runs[b])}
        fields: dict[str, float] = {}
        for pair in report["pairs"].values():
            for k, v in pair["drift"].items():
                fields[k] = max(fields.get(k, 0.0), v)
        report["largest_drift"] = fields
        timings: dict[str, list[float]] = {"native": [], "portable": []}
        for _ in range(args.repeats):  # interleaved, so both see the same machine state
            for setting in timings:
                out = work / f"steps-{setting}.json"
                spawn(setting, ["--child", "steps", "--fixtures", str(fixtures), "--steps", str(args.steps),
                                "--child-out", str(out)])
                timings[setting].append(json.loads(out.read_text())["seconds_per_step"])
        report["seconds_per_step"] = timings
        report["portable_cost_ratio"] = round(statistics.median(
            p / n for p, n in zip(timings["portable"], timings["native"], strict=True)), 3)
    write_json(args.out, report)
    for pair, value in report["pairs"].items():
        same = sum(value["identical"].values())
        print(f"{pair:40s} identical {same}/{len(value['identical'])}   largest drift "
              f"{max(value['drift'].values(), default=0.0):.1e}")
    print(f"portable arithmetic costs {report['portable_cost_ratio']:.3f}x the native step time; wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
