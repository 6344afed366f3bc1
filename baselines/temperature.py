"""Temperature sampling (paper Eq. 3): q_tau(i) ∝ (M_i / Σ M)^(1/tau).

One class covers the three heuristic baselines of the paper:
    proportional  tau = 1      (PROP., equivalent to concatenating the datasets)
    temperature   tau = 10     (TEMP.)
    uniform       tau = inf    (UNI., every dataset equally often)

`temperature_heldout` is the same sampling with `validation_size` examples of every dataset held out (the
loop's fixed split), so that a static run can be measured on examples it never trained on: DoReMi's
reference run (UNI., `reference: uniform_heldout`) and MixMin's single-skill proxies.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from mos.mixing.strategy import MixingStrategy, Weights, temperature_weights


@dataclass
class Temperature(MixingStrategy):
    """Static sampling with probabilities proportional to dataset size ** (1 / tau)."""

    name = "temperature"
    tau: float = 10.0

    def __post_init__(self) -> None:
        if not self.tau > 0 or math.isnan(self.tau):
            raise ValueError(f"tau must be > 0 (inf for uniform), got {self.tau}")

    def initial_weights(self, sizes: Mapping[str, int], seed: int = 0) -> Weights:
        return temperature_weights(sizes, self.tau)


@dataclass
class HeldOutTemperature(Temperature):
    """Temperature sampling that holds out `validation_size` examples of every dataset (a reference or a proxy)."""

    name = "temperature_heldout"
    tau: float = math.inf
    validation_size: int = 100    # the same examples a learned run with this validation_size holds out

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.validation_size < 1:
            raise ValueError(f"validation_size must be >= 1 (what the run holds out), got {self.validation_size}")
