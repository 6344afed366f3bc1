"""Random static mixtures: weights drawn once from a Dirichlet distribution over the datasets, the same
weights for the same `draw` whatever the training seed (a mixture is a point of the simplex; the seed
stays the sampler's). One mechanism for RegMix's proxy runs (baselines/regmix.py) and for a design of
static mixtures over the simplex (the headroom experiment of issue 20):

    mixtures:
      random: {strategy: dirichlet, replicas: 16}          # random_0 .. random_15: draws 0 .. 15,
                                                           # uniform on the simplex (alpha 1)
      regmix_proxy: {strategy: dirichlet, replicas: 16, proxy_run: true, validation_size: 100,
                     train: {steps: 150}}                  # proxies at a quarter of the budget

`replicas: N` (a config key, mos.pipeline.config) expands one entry into N mixtures `<name>_<k>` with
`draw: <draw> + k`. Concentration: α_i = alpha · K · q_i with q the temperature prior of `prior_tau`
(inf: uniform, so α_i = alpha: alpha 1 is the uniform distribution on the simplex; RegMix's reference
centres its proxies on a tempered token prior, e.g. prior_tau 2). `validation_size` holds out the
same examples as a RegMix run (mos.training.loop.hold_out: a fixed split per dataset), so that its
held-out losses are measured on examples the proxy never trained on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from mos.mixing.strategy import MixingStrategy, Weights, normalize, temperature_weights

DIRICHLET_STREAM = 0x6D69_78  # the random stream of the draws ("mix"), apart from every training seed


def dirichlet_weights(names: list[str], concentration: np.ndarray, draw: int) -> Weights:
    """Draw number `draw` of Dirichlet(concentration) over `names` (float64, normalised)."""
    w = np.random.default_rng([DIRICHLET_STREAM, int(draw)]).dirichlet(concentration)
    return normalize(dict(zip(names, (float(x) for x in w), strict=True)))


@dataclass
class Dirichlet(MixingStrategy):
    """Static sampling with weights drawn from Dirichlet(alpha · K · prior), reproducible by `draw`."""

    name = "dirichlet"
    draw: int = 0                   # which draw: the same weights for every training seed
    alpha: float = 1.0              # concentration per dataset (with the uniform prior)
    prior_tau: float = math.inf     # centre of the distribution: the temperature prior (inf: uniform)
    validation_size: int = 0        # held out per dataset (RegMix's proxies: as many as the RegMix run)

    def __post_init__(self) -> None:
        if self.draw < 0:
            raise ValueError(f"draw must be >= 0, got {self.draw}")
        if not (self.alpha > 0 and math.isfinite(self.alpha)):
            raise ValueError(f"alpha must be a positive number, got {self.alpha}")
        if self.validation_size < 0:
            raise ValueError(f"validation_size must be >= 0, got {self.validation_size}")

    def concentration(self, sizes: Mapping[str, int]) -> np.ndarray:
        prior = temperature_weights(sizes, self.prior_tau)
        return self.alpha * len(prior) * np.array(list(prior.values()), dtype=np.float64)

    def initial_weights(self, sizes: Mapping[str, int], seed: int = 0) -> Weights:
        return dirichlet_weights(list(sizes), self.concentration(sizes), self.draw)
