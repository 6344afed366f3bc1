"""Averages of the weights along a training run, one of the ways to cut seed-to-seed noise
(`train.average`; scripts/variance_study.py measures them):

    none   the final weights (the paper)
    ema    an exponential moving average θ̄ ← d·θ̄ + (1 − d)·θ after every optimizer step from
           `average_start` (a fraction of the steps) on, started at the weights of that step
    tail   the uniform mean of the weights after every optimizer step from `average_start` on
           (tail / stochastic weight averaging; with start 0.9, the mean of the last 10% of steps)

The average lives in float64 beside the model, is part of every checkpoint (so a resumed run ends
with the same average), and replaces the model's weights only when the run saves its final model.
The training trajectory, the probe and the strategies always see the weights being trained.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch

KINDS = ("none", "ema", "tail")


class WeightAverage:
    """The running average of a model's floating-point parameters and buffers."""

    def __init__(self, model: torch.nn.Module, kind: str, steps: int, decay: float = 0.99, start: float = 0.5):
        if kind not in KINDS:
            raise ValueError(f"train.average must be one of {KINDS}, got {kind!r}")
        if not 0 <= decay < 1:
            raise ValueError(f"train.average_decay must be in [0, 1), got {decay}")
        if not 0 <= start < 1:
            raise ValueError(f"train.average_start must be in [0, 1), got {start}")
        self.model, self.kind, self.decay = model, kind, decay
        self.start_step = min(steps, max(1, math.ceil(start * steps)))  # the first step averaged
        self.count = 0
        self.average: dict[str, torch.Tensor] = {}

    @property
    def active(self) -> bool:
        return self.kind != "none"

    def _tensors(self) -> dict[str, torch.Tensor]:
        return {k: v for k, v in self.model.state_dict().items() if v.is_floating_point()}

    def update(self, step: int) -> None:
        """Fold in the weights after optimizer step `step` (1-based)."""
        if not self.active or step < self.start_step:
            return
        current = self._tensors()
        with torch.no_grad():
            if not self.average:
                self.average = {k: v.detach().to(torch.float64, copy=True) for k, v in current.items()}
            elif self.kind == "ema":
                for k, v in current.items():
                    self.average[k].mul_(self.decay).add_(v.detach().to(torch.float64), alpha=1 - self.decay)
            else:
                weight = 1.0 / (self.count + 1)
                for k, v in current.items():
                    self.average[k].add_(v.detach().to(torch.float64) - self.average[k], alpha=weight)
        self.count += 1

    def copy_to_model(self) -> None:
        """Replace the model's weights by the average (nothing to do without one)."""
        if not self.active or not self.average:
            return
        with torch.no_grad():
            for k, v in self._tensors().items():
                v.copy_(self.average[k].to(v.dtype))

    def state_dict(self) -> dict[str, Any]:
        return {"count": self.count, "average": self.average}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.count = int(state.get("count", 0))
        self.average = dict(state.get("average") or {})
