"""GPU checks (marked `gpu`, skipped without CUDA; never part of CI): bf16 mixed-precision training,
evaluation on the device (the paper's setting), and vLLM generation against transformers.

    .venv/bin/python -m pytest -m gpu tests/test_gpu.py
"""

from __future__ import annotations

import json

import pytest
import torch

from mos.training.jobs import train
from tests.helpers import train_spec

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


def test_bf16_training_on_the_gpu_learns(tiny_model_dir, testbed_dir, tmp_path):
    spec = train_spec(tiny_model_dir, testbed_dir, steps=40, precision="bf16", checkpoint_every=0, log_every=10)
    info = train(spec, tmp_path / "run")
    assert info["final_loss"] < 6.0
    assert "gpus" in info["provenance"]["hardware"]


def test_evaluation_runs_on_the_gpu(tiny_model_dir, testbed_dir, tmp_path):
    from mos.evaluation.evaluate import main

    spec = {"model": str(tiny_model_dir), "benchmarks": {"testbed_mc": str(testbed_dir / "eval" / "mc.jsonl")},
            "batch_size": 64}
    assert main(["--spec", json.dumps(spec), "--out", str(tmp_path / "eval")]) == 0
    assert (tmp_path / "eval" / "metrics.csv").exists()


def test_vllm_generation_matches_transformers_greedy(tiny_model_dir, testbed_dir):
    """vLLM (the GPU generation backend) answers the two-turn prompts like transformers, greedily."""
    pytest.importorskip("vllm", reason="the vllm extra is not installed")
    from mos.evaluation.chat_bench import load_questions
    from mos.evaluation.generation import GenerationSettings, make_generator

    convs = [[{"role": "user", "content": q.turns[0]}] for q in load_questions(testbed_dir / "eval" / "chat.jsonl")]
    settings = {"max_new_tokens": 16, "dtype": "float32"}
    hf = make_generator(str(tiny_model_dir), GenerationSettings(**settings)).chat(convs)
    vl = make_generator(str(tiny_model_dir), GenerationSettings(backend="vllm", gpu_memory_utilization=0.2,
                                                                **settings)).chat(convs)
    agree = sum(a.text == b.text for a, b in zip(hf, vl, strict=True))
    assert agree >= 0.9 * len(convs)  # float32 greedy decoding; kernels may differ on near-ties
