"""The GPU check (scripts/gpu_check.py) without a GPU: the paper's three architecture configs have
the public checkpoints' sizes, and the whole script runs on the CPU with tiny versions of them
(every measurement it makes on an H200, through the same code), so it cannot rot.

    pytest tests/test_gpu_check.py -q
"""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "gpu_check.py"


def load_script():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gpu_check = load_script()


@pytest.mark.parametrize(("name", "parameters", "vocab", "model_type"), [
    ("qwen1.5-0.5b", 463_987_712, 151_936, "qwen2"),      # Qwen1.5-0.5B: 0.46B with tied embeddings
    ("gemma-2b", 2_506_172_416, 256_000, "gemma"),        # Gemma-2B: 2.51B, tied, one KV head
    ("llama-3-8b", 8_030_261_248, 128_256, "llama"),      # LLaMA-3-8B: 8.03B, untied, 8 KV heads
])
def test_architecture_configs_have_the_public_sizes(name, parameters, vocab, model_type):
    from transformers import AutoModelForCausalLM

    config = gpu_check.arch_config(name, tiny=False)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    assert gpu_check.unique_parameters(model) == parameters
    assert config.vocab_size == vocab and config.model_type == model_type


def test_a_failed_measurement_is_recorded_and_the_check_goes_on(tmp_path):
    report = gpu_check.Report(tmp_path / "r.json", budget_s=100, device=gpu_check.Device("cpu"), meta={})
    where: dict = {}

    def out_of_memory():
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 80.00 GiB")

    report.measure(where, "probe", out_of_memory)
    report.measure(where, "next", lambda: {"tokens_per_s": 1.0})
    assert where["probe"]["status"] == "oom" and "80.00 GiB" in where["probe"]["error"]
    assert where["next"]["status"] == "ok"
    late = gpu_check.Report(tmp_path / "s.json", budget_s=0, device=gpu_check.Device("cpu"), meta={})
    late.measure(where, "late", lambda: {"tokens_per_s": 1.0}, needs_s=1)
    assert where["late"]["status"] == "skipped" and "time budget" in where["late"]["reason"]
    assert json.loads((tmp_path / "s.json").read_text())["meta"]["seconds"] >= 0


def test_the_whole_check_runs_on_the_cpu_with_tiny_architectures(tmp_path):
    out = tmp_path / "gpu_check.json"
    proc = subprocess.run([sys.executable, str(SCRIPT), "--device", "cpu", "--tiny", "--modes", "all",
                           "--out", str(out)], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert list(report["architectures"]) == list(gpu_check.ARCHITECTURES)
    assert report["zero2"]["status"] == "skipped" and "CUDA" in report["zero2"]["reason"]
    for name, arch in report["architectures"].items():
        assert arch["vocab_size"] == 4096
        states = arch["memory_model"]["states_gb"]
        assert states["fp32_autocast"] == round(16 * arch["parameters"] / 1e9, 2)
        assert set(arch["train"]) == {f"{m}/checkpointing_{c}" for m in ("fp32_autocast", "bf16_weights")
                                      for c in ("off", "on")}
        for step in arch["train"].values():
            assert step["status"] == "ok", (name, step)
            assert step["tokens"] == 8 * 64 and step["tokens_per_s"] > 0
            assert all(math.isfinite(x) for x in step["loss"]) and step["loss"][0] == pytest.approx(math.log(4096), 0.1)
        assert arch["base_ppl"]["status"] == "ok" and arch["base_ppl"]["examples"] == 16
        for label in ("cossim", "diff", "multiuat", "multidds"):
            probe = arch["probes"][label]
            assert probe["status"] == "ok", (name, label, probe)
            assert set(probe["rewards"]) == {"D0", "D1"}
        assert arch["probes"]["diff"]["rewards"] == {"D0": 1.0, "D1": 1.0}  # θ is θ0: the ratio is 1
        assert arch["generation"]["status"] == "ok" and arch["generation"]["new_tokens"] == 4 * 8


def test_the_zero2_job_is_a_valid_training_job():
    """The ZeRO-2 measurement's job (testbed, tokenizer, model folder, spec) through the real training
    loop, as a plain process: what DeepSpeed gets on the GPU is a job that trains."""
    result = gpu_check.zero2_step(gpu_check.Workload(tiny=True), tiny=True, deepspeed=False)
    assert result["world_size"] == 1 and math.isfinite(result["final_loss"]) and result["tokens_per_s"] > 0
