"""Temperature sampling (paper Eq. 3): q_tau(i) ∝ (M_i / Σ M)^(1/tau).

One class covers the three heuristic baselines of the paper:
    proportional  tau = 1      (PROP., equivalent to concatenating the datasets)
    temperature   tau = 10     (TEMP.)
    uniform       tau = inf    (UNI., every dataset equally often)

`validation_size` (default 0) holds examples out of every dataset as the learned strategies do, so that
a static run can serve as a proxy measured on examples it never trained on (MixMin's single-skill runs
in config/headroom.yaml); it changes nothing else.
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
    validation_size: int = 0      # held out per dataset (a proxy's held-out examples), else none

    def __post_init__(self) -> None:
        if not self.tau > 0 or math.isnan(self.tau):
            raise ValueError(f"tau must be > 0 (inf for uniform), got {self.tau}")
        if self.validation_size < 0:
            raise ValueError(f"validation_size must be >= 0, got {self.validation_size}")

    def initial_weights(self, sizes: Mapping[str, int], seed: int = 0) -> Weights:
        return temperature_weights(sizes, self.tau)
