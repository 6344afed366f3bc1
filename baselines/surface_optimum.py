"""The best static mixture a fitted response surface predicts (issue 20's headroom): static sampling with the
weights of a JSON file that `python -m analysis.surface fit` wrote from a design of static mixtures.

    headroom_optimum: {strategy: surface_optimum, fit: results/headroom/headroom/optimum.json}

The file is the workflow's `headroom_fit` rule's output (the config's `headroom:` section names the design
and this mixture); the run waits for it (`input_files`). Trained at the primary arms' replication, it
verifies the surface's prediction and measures the headroom against the heuristics. Before the file
exists (when the workflow builds its jobs) the weights are unknown: building the strategy raises
UnboundRunsError, which the config's dry-run accepts, as for DoReMi's two-stage variant.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mos.mixing.strategy import MixingStrategy, UnboundRunsError, Weights, normalize


@dataclass
class SurfaceOptimum(MixingStrategy):
    """Static sampling with the weights of a fitted surface's optimum (a JSON file)."""

    name = "surface_optimum"
    fit: str = ""   # the optimum's JSON (analysis/surface.py: {"weights": {dataset: w}, ...})

    def __post_init__(self) -> None:
        if not self.fit:
            raise ValueError("surface_optimum needs `fit`: the path of the fitted optimum's JSON")

    def input_files(self) -> list[str]:
        return [self.fit]

    def read(self) -> dict[str, Any]:
        path = Path(self.fit)
        if not path.is_file():
            raise UnboundRunsError(f"surface_optimum: {path} does not exist yet (the headroom_fit job writes it)")
        try:
            doc = json.loads(path.read_text())
            return {"weights": {str(k): float(v) for k, v in doc["weights"].items()}, **doc}
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise ValueError(f"{path}: expected a JSON object with 'weights': {{dataset: weight}} ({e})") from None

    def initial_weights(self, sizes: Mapping[str, int], seed: int = 0) -> Weights:
        weights = self.read()["weights"]
        missing, extra = sorted(set(sizes) - set(weights)), sorted(set(weights) - set(sizes))
        if missing or extra:
            raise ValueError(f"{self.fit}: its weights name {sorted(weights)}, the run trains on {sorted(sizes)}")
        return normalize({k: weights[k] for k in sizes})

    def report(self, step: int) -> dict[str, Any]:
        doc = self.read()
        return {k: doc[k] for k in ("metric", "predicted", "predicted_lo", "predicted_hi", "design_runs") if k in doc}

    @classmethod
    def contract_params(cls, sizes: Mapping[str, int]) -> dict[str, Any]:
        import tempfile

        path = Path(tempfile.mkdtemp(prefix="surface-")) / "optimum.json"
        path.write_text(json.dumps({"weights": {k: 1.0 + i for i, k in enumerate(sizes)}}))
        return {"fit": str(path)}
