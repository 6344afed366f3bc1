"""The fine-tuning recipe of a job spec's `train` section: its settings, the learning-rate schedule and
the optimizer (config/config.yaml comments every key).

    settings = TrainSettings.from_spec(spec["train"])
    optimizer = make_optimizer(model, settings)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(settings))
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import torch


@dataclass
class TrainSettings:
    """The `train` section of a job spec (see config/config.yaml for what each key means)."""

    steps: int
    batch_size: int
    micro_batch_size: int
    lr: float
    warmup_ratio: float = 0.1
    weight_decay: float = 0.0
    adam_betas: tuple[float, float] = (0.9, 0.999)
    grad_clip: float = 1.0
    loss: str = "all"
    sampling_unit: str = "example"
    max_length: int = 2048
    pack_length: int = 2048
    checkpoint_every: int = 500
    log_every: int = 10
    precision: str = "fp32"
    average: str = "none"          # none | ema | tail: the saved model is an average of the weights
    average_decay: float = 0.99    # ema: θ̄ ← d·θ̄ + (1 − d)·θ
    average_start: float = 0.5     # ema / tail: the fraction of the steps after which weights are averaged
    gradient_checkpointing: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> TrainSettings:
        known = {f.name for f in fields(cls)} - {"extra"}
        settings = cls(**{k: v for k, v in spec.items() if k in known})
        settings.extra = {k: v for k, v in spec.items() if k not in known}
        settings.adam_betas = tuple(settings.adam_betas)
        return settings


def lr_lambda(settings: TrainSettings):
    """Linear warm-up over warmup_ratio of the steps, then linear decay to 0 (the paper's schedule)."""
    warmup = math.ceil(settings.warmup_ratio * settings.steps)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (settings.steps - step) / max(1, settings.steps - warmup))

    return factor


def make_optimizer(model: torch.nn.Module, settings: TrainSettings) -> torch.optim.Optimizer:
    """AdamW; matrices decay, vectors (norms, biases) do not."""
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.ndim >= 2]
    other = [p for p in params if p.ndim < 2]
    groups = [{"params": decay, "weight_decay": settings.weight_decay}, {"params": other, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=settings.lr, betas=settings.adam_betas, foreach=True)


