"""Weighted sampling over datasets with a seeded generator that can be saved and restored.

Two sampling units (SPEC §11):
    "example"  every example draws its dataset from the weights (the authors' code)
    "batch"    one dataset per optimizer step, all its examples from it (paper Algorithm 1)
Within a dataset, examples are drawn uniformly with replacement, as in the authors' code. Each
data-parallel rank seeds its own generator from (seed, rank), so ranks draw different examples.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from mos.mixing.strategy import Weights

UNITS = ("example", "batch")


class MixtureSampler:
    def __init__(self, sizes: Mapping[str, int], seed: int, rank: int = 0, unit: str = "example"):
        if unit not in UNITS:
            raise ValueError(f"sampling_unit must be one of {UNITS}, got {unit!r}")
        self.names = list(sizes)
        self.sizes = torch.tensor([sizes[n] for n in self.names], dtype=torch.float64)
        self.unit = unit
        self.generator = torch.Generator().manual_seed(1_000_003 * seed + 7919 * rank + 17)
        self.drawn = np.zeros(len(self.names), dtype=np.int64)  # since the last reset

    def _probabilities(self, weights: Weights) -> torch.Tensor:
        missing = set(self.names) - set(weights)
        if missing:
            raise ValueError(f"weights lack datasets {sorted(missing)}")
        return torch.tensor([weights[n] for n in self.names], dtype=torch.float64)

    def draw(self, weights: Weights, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(dataset index, example index) arrays for n examples of one optimizer step."""
        p = self._probabilities(weights)
        if self.unit == "example":
            which = torch.multinomial(p, n, replacement=True, generator=self.generator)
        else:
            which = torch.multinomial(p, 1, generator=self.generator).expand(n)
        u = torch.rand(n, generator=self.generator, dtype=torch.float64)
        index = torch.floor(u * self.sizes[which]).long()
        which_np = which.numpy().astype(np.int64)
        np.add.at(self.drawn, which_np, 1)
        return which_np, index.numpy()

    def take_counts(self) -> dict[str, int]:
        """Examples drawn per dataset since the previous call (then reset)."""
        counts = {n: int(c) for n, c in zip(self.names, self.drawn, strict=True)}
        self.drawn[:] = 0
        return counts

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state(), "drawn": self.drawn.copy(), "unit": self.unit}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self.drawn = np.asarray(state["drawn"], dtype=np.int64).copy()
