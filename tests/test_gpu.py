"""GPU checks (marked `gpu`, skipped without CUDA; never part of CI): bf16 mixed-precision training
and evaluation on the device, the paper's setting.

    .venv/bin/python -m pytest -m gpu tests/test_gpu.py
"""

from __future__ import annotations

import json

import pytest
import torch

from mos.train import train
from tests.helpers import train_spec

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


def test_bf16_training_on_the_gpu_learns(tiny_model_dir, testbed_dir, tmp_path):
    spec = train_spec(tiny_model_dir, testbed_dir, steps=40, precision="bf16", checkpoint_every=0, log_every=10)
    info = train(spec, tmp_path / "run")
    assert info["final_loss"] < 6.0
    assert "gpus" in info["provenance"]["hardware"]


def test_evaluation_runs_on_the_gpu(tiny_model_dir, testbed_dir, tmp_path):
    from mos.evaluate import main

    spec = {"model": str(tiny_model_dir), "benchmarks": {"testbed_mc": str(testbed_dir / "eval" / "mc.jsonl")},
            "batch_size": 64}
    assert main(["--spec", json.dumps(spec), "--out", str(tmp_path / "eval")]) == 0
    assert (tmp_path / "eval" / "metrics.csv").exists()
