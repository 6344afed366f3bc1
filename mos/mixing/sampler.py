"""Weighted sampling over datasets with a seeded generator that can be saved and restored.

Two sampling units (SPEC §11):
    "example"  every example draws its dataset from the weights (the authors' code)
    "batch"    one dataset per optimizer step, all its examples from it (paper Algorithm 1)
Within a dataset, examples are drawn uniformly with replacement, as in the authors' code, unless a
strategy has set weights for that dataset's examples (`set_example_weights`: HBO's local actors
over difficulty buckets); then the same uniform number u in [0, 1) that picks floor(u · size)
picks the example whose cumulative weight first exceeds u, so the random stream is the same
either way.

Under data parallel every rank draws the whole GLOBAL batch of the step from the same generator
(seeded by the run's seed alone) and keeps its own slice: rank r of W takes examples
[r·n/W, (r+1)·n/W). The step's examples are therefore the same for 1, 2, 4 or 8 processes (a single
process's stream is the one it always was), ranks never draw the same example slot, and under
`batch` the one dataset of a step is shared by all ranks (Algorithm 1's single-dataset batch).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from mos.mixing.strategy import Weights

UNITS = ("example", "batch")


class MixtureSampler:
    def __init__(self, sizes: Mapping[str, int], seed: int, rank: int = 0, unit: str = "example",
                 world_size: int = 1):
        if unit not in UNITS:
            raise ValueError(f"sampling_unit must be one of {UNITS}, got {unit!r}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is not in [0, world_size {world_size})")
        self.names = list(sizes)
        self.sizes = torch.tensor([sizes[n] for n in self.names], dtype=torch.float64)
        self.unit = unit
        self.rank, self.world_size = rank, world_size
        self.generator = torch.Generator().manual_seed(1_000_003 * seed + 17)  # the same on every rank
        self.drawn = np.zeros(len(self.names), dtype=np.int64)  # this rank's draws since the last reset
        self.example_weights: dict[str, np.ndarray] = {}  # dataset -> weight per example (absent: uniform)
        self._cdf: dict[int, torch.Tensor] = {}

    def set_example_weights(self, dataset: str, weights: np.ndarray | list[float] | None) -> None:
        """Draw the examples of `dataset` with probability proportional to `weights` (one per example,
        non-negative, not all zero); None restores uniform drawing."""
        if dataset not in self.names:
            raise ValueError(f"unknown dataset {dataset!r}; datasets: {self.names}")
        k = self.names.index(dataset)
        if weights is None:
            self.example_weights.pop(dataset, None)
            self._cdf.pop(k, None)
            return
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != (int(self.sizes[k]),):
            raise ValueError(f"example weights of {dataset!r}: expected {int(self.sizes[k])} values, got shape {w.shape}")
        if not (np.isfinite(w).all() and (w >= 0).all() and w.sum() > 0):
            raise ValueError(f"example weights of {dataset!r} must be finite, non-negative and not all zero")
        self.example_weights[dataset] = w.copy()
        cdf = np.cumsum(w)
        self._cdf[k] = torch.from_numpy(cdf / cdf[-1])

    def _probabilities(self, weights: Weights) -> torch.Tensor:
        missing = set(self.names) - set(weights)
        if missing:
            raise ValueError(f"weights lack datasets {sorted(missing)}")
        return torch.tensor([weights[n] for n in self.names], dtype=torch.float64)

    def draw(self, weights: Weights, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(dataset index, example index) arrays of this rank's share of the n examples (the global
        batch) of one optimizer step."""
        if n % self.world_size:
            raise ValueError(f"a batch of {n} examples does not split over {self.world_size} processes")
        p = self._probabilities(weights)
        if self.unit == "example":
            which = torch.multinomial(p, n, replacement=True, generator=self.generator)
        else:
            which = torch.multinomial(p, 1, generator=self.generator).expand(n)
        u = torch.rand(n, generator=self.generator, dtype=torch.float64)
        index = torch.floor(u * self.sizes[which]).long()
        for k, cdf in self._cdf.items():  # weighted datasets: the same u, through the cumulative weights
            at = which == k
            if bool(at.any()):
                index[at] = torch.searchsorted(cdf, u[at], right=True).clamp(max=len(cdf) - 1)
        local = slice(self.rank * n // self.world_size, (self.rank + 1) * n // self.world_size)
        which_np = which[local].numpy().astype(np.int64)
        np.add.at(self.drawn, which_np, 1)
        return which_np, index[local].numpy()

    def take_counts(self) -> dict[str, int]:
        """Examples drawn per dataset since the previous call (then reset)."""
        counts = {n: int(c) for n, c in zip(self.names, self.drawn, strict=True)}
        self.drawn[:] = 0
        return counts

    def state_dict(self) -> dict[str, Any]:
        state = {"generator": self.generator.get_state(), "drawn": self.drawn.copy(), "unit": self.unit}
        if self.example_weights:
            state["example_weights"] = {n: w.tolist() for n, w in self.example_weights.items()}
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self.drawn = np.asarray(state["drawn"], dtype=np.int64).copy()
        for name in list(self.example_weights):
            self.set_example_weights(name, None)
        for name, w in state.get("example_weights", {}).items():
            self.set_example_weights(name, w)
