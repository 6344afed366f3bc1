"""The GPU check (scripts/gpu_check.py) without a GPU: it measures the pipeline's own step, probes and
strategies (the functions the `train` rule runs, seen being called, with the probe configured as a run
configures it), the architecture configs have the public checkpoints' sizes, a failed part is a
result, `make gpu-check OUT=` and the README's prepared command and per-part estimates are the
script's, and the whole script runs on the CPU with tiny architectures (slow), so it cannot rot.

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
from accelerate.state import AcceleratorState

import mos.training.loop
import mos.training.step
from mos.mixing import registry
from mos.mixing.probe import Probe
from mos.models.backbones import is_checkpointing
from mos.models.loss import CausalLMLoss
from mos.pipeline import mixtures

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "gpu_check.py"


def load_script():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_check"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


gpu_check = load_script()


@pytest.fixture
def accelerator():
    """The check's accelerator (the paper config's bf16 precision), in a fresh accelerate state that
    is reset afterwards (other tests' runs use other precisions in this process)."""
    AcceleratorState._reset_state(True)
    work = gpu_check.Workload.make(gpu_check.paper_config(), tiny=True)
    yield mos.training.loop.make_accelerator(work.settings), work
    AcceleratorState._reset_state(True)


def spy(monkeypatch, module, name: str, calls: list):
    """Replace module.name by a wrapper that records (args, kwargs, result) and calls the original."""
    real = getattr(module, name)

    def wrapper(*args, **kwargs):
        result = real(*args, **kwargs)
        calls.append((args, kwargs, result))
        return result

    monkeypatch.setattr(module, name, wrapper)


@pytest.mark.parametrize(("name", "parameters", "vocab", "model_type"), [
    ("qwen1.5-0.5b", 463_987_712, 151_936, "qwen2"),      # Qwen1.5-0.5B: 0.46B with tied embeddings
    ("gemma-2b", 2_506_172_416, 256_000, "gemma"),        # Gemma-2B: 2.51B, tied, one KV head
    ("llama-3-8b", 8_030_261_248, 128_256, "llama"),      # LLaMA-3-8B: 8.03B, untied, 8 KV heads
])
def test_architecture_configs_have_the_public_sizes(name, parameters, vocab, model_type):
    from transformers import AutoModelForCausalLM

    from mos.training.memory import ARCHITECTURES

    config = gpu_check.arch_config(name, tiny=False)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    assert gpu_check.count_parameters(model) == parameters == ARCHITECTURES[name].parameters
    assert config.vocab_size == vocab and config.model_type == model_type


def test_the_train_parts_take_the_pipelines_optimizer_step(accelerator, monkeypatch):
    """The check calls mos.training.step.train_step (the loop's one step, not a copy) on the objects
    mos.training.loop.training_objects makes: CausalLMLoss, make_optimizer's AdamW, checkpointing as
    the settings say."""
    acc, work = accelerator
    steps, prepared = [], []
    spy(monkeypatch, mos.training.step, "train_step", steps)
    spy(monkeypatch, mos.training.loop, "training_objects", prepared)
    config = gpu_check.arch_config("llama-3-8b", tiny=True)
    for checkpointing in (False, True):
        steps.clear()
        out = gpu_check.train_part(config, work, acc, "bf16", checkpointing)
        assert len(steps) == work.train_steps and out["loss"] == [round(s[2].loss, 4) for s in steps]
        (model, batches), kwargs, _ = steps[0]
        loss_model, optimizer, scheduler = prepared[-1][2]
        assert model is loss_model and isinstance(acc.unwrap_model(model), CausalLMLoss)
        assert kwargs["optimizer"] is optimizer and kwargs["scheduler"] is scheduler
        assert kwargs["accelerator"] is acc
        assert kwargs["grad_clip"] == work.settings.grad_clip == 1.0
        assert [g["weight_decay"] for g in optimizer.param_groups] == [work.settings.weight_decay, 0.0]
        assert is_checkpointing(acc.unwrap_model(model).model) == checkpointing
        assert batches[0].input_ids.shape == (work.settings.micro_batch_size, work.settings.pack_length)
        assert out["loss"][0] == pytest.approx(math.log(4096), rel=0.1)


@pytest.mark.parametrize("label", ["multidds", "mos_cossim", "doremi"])
def test_the_probe_parts_run_the_pipelines_strategies_on_its_probe(label, accelerator, monkeypatch, tmp_path):
    """Each probe part's strategy comes from the registry through the config's mixture (never an
    import of baselines/), and its probe from mos.training.loop.make_probe, configured as a run's:
    micro-batch sized forward and backward passes, the run's autocast, checkpointing on."""
    acc, work = accelerator
    cfg = gpu_check.paper_config()
    probes, built, builds = [], [], []
    spy(monkeypatch, mos.training.loop, "make_probe", probes)
    spy(monkeypatch, mixtures, "build_strategy", built)
    spy(monkeypatch, registry, "build", builds)
    config = gpu_check.arch_config("gemma-2b", tiny=True)
    csv_path = tmp_path / "base_ppl.csv"
    _, model, loss_model = gpu_check.model_part(config, work, acc)
    gpu_check.base_ppl_part(config, work, model, csv_path)
    out = gpu_check.probe_part(config, work, acc, model, loss_model, cfg, label, csv_path, tmp_path / label)
    (probe_args, probe_kwargs, probe), = probes
    assert type(probe) is Probe and probe is gpu_check.probe_part.last["probe"]
    assert probe.rows_per_forward == probe.grad_batch == work.settings.micro_batch_size == 8
    assert probe.autocast == acc.autocast and probe.pack_length == work.settings.pack_length
    assert is_checkpointing(probe.model) and work.settings.gradient_checkpointing  # as config/paper.yaml says
    strategy = gpu_check.probe_part.last["strategy"]
    assert [a[1] for a, _, _ in built] == [label] and builds[-1][2] is strategy
    assert type(strategy) is registry.get(cfg["mixtures"][label]["strategy"])
    assert out["strategy"] == strategy.name
    paper = built[0][2]  # the paper's parameters, then only the probe sizes shrunk
    changed = {k for k in registry.parameters(type(strategy)) if getattr(strategy, k) != getattr(paper, k)}
    assert changed <= set(gpu_check.TINY_PARAMS)
    if label == "doremi":  # its reference model went through the probe's own loader
        assert len(probe._models) == 1


def test_a_failed_part_is_recorded_and_the_check_goes_on(tmp_path):
    released = []
    cpu = gpu_check.Device(torch.device("cpu"))
    report = gpu_check.Report(tmp_path / "r.json", budget_s=100, device=cpu, meta={},
                              release=lambda: released.append(1))
    where: dict = {}

    def out_of_memory():
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 80.00 GiB")

    report.measure(where, "probe", out_of_memory, runs="x", predicted_gb=1.0)
    report.measure(where, "next", lambda: {"tokens_per_s": 1.0})
    assert where["probe"]["status"] == "oom" and "80.00 GiB" in where["probe"]["error"]
    assert where["probe"]["runs"] == "x" and where["probe"]["predicted_gb"] == 1.0
    assert where["next"]["status"] == "ok" and len(released) == 2
    late = gpu_check.Report(tmp_path / "s.json", budget_s=0, device=cpu, meta={})
    late.measure(where, "late", lambda: {"tokens_per_s": 1.0}, needs_s=1)
    assert where["late"]["status"] == "skipped" and "time budget" in where["late"]["reason"]
    assert json.loads((tmp_path / "s.json").read_text())["meta"]["seconds"] >= 0


def test_the_predictions_and_estimates_are_the_memory_models():
    from mos.training import memory as M

    work = gpu_check.Workload.make(gpu_check.paper_config(), tiny=False)
    llama, one = M.ARCHITECTURES["llama-3-8b"], M.Grid(gpus=1, overhead_gb=0.0)
    assert gpu_check.predicted_gb("train/bf16/checkpointing_on", "llama-3-8b", work) == \
        round(M.training(llama, one, True, "bf16")["total"], 2)
    doremi = gpu_check.predicted_gb("probe/doremi", "llama-3-8b", work, "doremi")
    assert doremi == round(4 * llama.parameters / 1e9 + M.probes(llama, one)["doremi"], 2)  # + the reference
    s = work.settings
    assert (s.micro_batch_size, s.pack_length, s.gradient_checkpointing) == (8, 2048, True)


def test_make_gpu_check_writes_where_out_says():
    out = subprocess.run(["make", "-n", "gpu-check", "OUT=/some/where/report.json"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    assert "scripts/gpu_check.py --out /some/where/report.json" in out


def test_the_readme_has_the_prepared_command_and_the_scripts_estimates():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## GPU check"):readme.index("## Reproducibility")]
    table = subprocess.run([sys.executable, str(SCRIPT), "--estimate"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.strip()
    assert table in section, "the README's estimates differ from `python scripts/gpu_check.py --estimate`"
    assert "timeout 400 python3 scripts/gpu_check.py --budget-s 330 --out $OUT/gpu_check.json" in section


@pytest.mark.slow
def test_the_whole_check_runs_on_the_cpu_with_tiny_architectures(tmp_path):
    out = tmp_path / "gpu_check.json"
    proc = subprocess.run([sys.executable, str(SCRIPT), "--tiny", "--modes", "all", "--out", str(out)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert list(report["architectures"]) == list(gpu_check.ARCHITECTURES)
    assert report["zero2"]["status"] == "skipped" and "CUDA" in report["zero2"]["reason"]
    probes = {f"probe/{label}" for label in gpu_check.probe_mixtures(gpu_check.paper_config())}
    for name, arch in report["architectures"].items():
        parts = arch["parts"]
        train = {f"train/{s}/checkpointing_{c}" for s in ("fp32_autocast", "bf16") for c in ("off", "on")}
        assert set(parts) == train | {"model", "base_ppl", "generation"} | probes
        for key, part in parts.items():
            assert part["status"] == "ok", (name, key, part)
            assert part["seconds"] >= 0 and part["runs"] and "peak_allocated_gb" in part
        assert parts["base_ppl"]["examples"] == 16 and parts["generation"]["new_tokens"] == 4 * 8
        assert parts["probe/mos_diff"]["reward"] == {"D0": 1.0, "D1": 1.0}  # θ is θ0: the ratio is 1


def test_the_zero2_job_is_a_valid_training_job():
    """The ZeRO-2 part's job (testbed, tokenizer, model folder, spec) through the real training loop, as
    a plain process: what DeepSpeed gets on the GPU is a job that trains."""
    work = gpu_check.Workload.make(gpu_check.paper_config(), tiny=True)
    result = gpu_check.zero2_part(work, deepspeed=False)
    assert result["world_size"] == 1 and math.isfinite(result["final_loss"]) and result["tokens_per_s"] > 0


def test_the_check_needs_only_what_the_gpu_image_has():
    """The GPU machine has torch, transformers, accelerate (and their PyYAML, numpy, safetensors,
    tokenizers, tqdm) but not this package's other dependencies: the check and what it imports lazily
    load without them."""
    absent = ("jsonschema", "scipy", "pandas", "statsmodels", "datasets", "lm_eval", "alpaca_eval",
              "snakemake", "vllm", "gguf", "matplotlib", "deepspeed")
    code = (f"import sys; sys.modules.update(dict.fromkeys({absent!r})); "
            "sys.argv = ['gpu_check', '--estimate']; import runpy; "
            "runpy.run_path('scripts/gpu_check.py', run_name='__main__'); "
            "import mos.data.testbed.build, mos.data.tokenizer, mos.training.base_ppl, mos.mixing.probe; "
            "from mos.mixing import registry; [registry.get(n) for n in registry.available()]")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| probe/multidds |" in proc.stdout
