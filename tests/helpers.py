"""Helpers the tests share that are not fixtures (import as `from tests.helpers import ...`;
the repository root is on pytest's `pythonpath`)."""

from __future__ import annotations


def train_spec(model_dir, testbed_dir, **train_overrides):
    """A small fine-tuning job spec over the four testbed skills."""
    train = {"steps": 8, "batch_size": 8, "micro_batch_size": 4, "lr": 3e-3, "warmup_ratio": 0.25,
             "weight_decay": 0.1, "grad_clip": 1.0, "loss": "response", "sampling_unit": "example",
             "max_length": 128, "pack_length": 128, "checkpoint_every": 4, "log_every": 2}
    train.update(train_overrides)
    return {"backbone": "tiny", "model": str(model_dir),
            "datasets": {s: str(testbed_dir / "train" / f"{s}.jsonl") for s in ("Mathematics", "Medicine", "General", "NLP")},
            "mixture": {"name": "uniform", "strategy": "temperature", "params": {"tau": "inf"}},
            "train": train, "seed": 0}
