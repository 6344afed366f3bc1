"""Fixed weights given in the config, e.g. to probe mixtures off the temperature curve:

    mixtures:
      math_heavy: {strategy: fixed, weights: {Mathematics: 0.4, Medicine: 0.2, General: 0.2, NLP: 0.2}}

Weights are normalised; every training dataset must be named (0 excludes one).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from mos.mixing.strategy import MixingStrategy, Weights, normalize


@dataclass
class Fixed(MixingStrategy):
    """Static sampling with explicit per-dataset weights."""

    name = "fixed"
    weights: dict[str, float] = field(default_factory=dict)

    @classmethod
    def contract_params(cls, sizes: Mapping[str, int]) -> dict:
        return {"weights": {name: float(k + 1) for k, name in enumerate(sizes)}}

    def initial_weights(self, sizes: Mapping[str, int], seed: int = 0) -> Weights:
        missing = sorted(set(sizes) - set(self.weights))
        extra = sorted(set(self.weights) - set(sizes))
        if missing or extra:
            raise ValueError(f"fixed weights must name exactly the training datasets {sorted(sizes)}; "
                             f"missing {missing}, unknown {extra}")
        return normalize({k: self.weights[k] for k in sizes})
