"""A config's mixtures as strategy objects: each mixture built through the registry with its parameters
checked and its initial weights dry-run, and the finished runs its strategy reads.

    strategy = build_strategy(cfg, "mos_diff_ema")      # ConfigError naming mixtures.<name> on a problem
    dependencies(cfg, "doremi")                          # {"reference": "uniform"}

Used by the config's validation (mos.pipeline.config) and by the job specs (mos.pipeline.specs).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mos.common.naming import did_you_mean
from mos.mixing import registry
from mos.mixing.strategy import MixingStrategy, UnboundRunsError
from mos.pipeline.errors import ConfigError
from mos.pipeline.grid import mixture_datasets

MIXTURE_KEYS = ("strategy", "paper_label", "train", "datasets", "seed_stream", "replicas",
                "proxy_run")  # the rest: strategy parameters


def build_strategy(cfg: Mapping[str, Any], mixture: str) -> MixingStrategy:
    """Instantiate a mixture's strategy, dry-run its initial weights; errors become ConfigError."""
    mix, where = cfg["mixtures"][mixture], f"mixtures.{mixture}"
    try:
        cls = registry.get(mix["strategy"])
    except registry.StrategyError as e:
        raise ConfigError(f"{where}.strategy: {e}") from None
    params = {k: v for k, v in mix.items() if k not in MIXTURE_KEYS}
    valid = list(registry.parameters(cls))
    for key in params:
        if key not in valid:
            raise ConfigError(f"{where}: unknown key {key!r} for strategy {mix['strategy']!r}."
                              f"{did_you_mean(key, [*valid, *MIXTURE_KEYS])} "
                              f"Valid keys: {', '.join([*MIXTURE_KEYS, *valid])}")
    try:
        strategy = registry.build(mix["strategy"], params, where=where)
    except registry.StrategyError as e:
        raise ConfigError(str(e)) from None
    try:  # catches e.g. fixed weights that do not name the mixture's datasets
        strategy.initial_weights(dict.fromkeys(mixture_datasets(cfg, mixture), 1000), seed=0)
    except UnboundRunsError:
        pass  # its weights come from another run (DoReMi's two-stage variant): nothing to dry-run
    except (ValueError, KeyError, TypeError) as e:
        raise ConfigError(f"{where}: {e}") from None
    return strategy


def dependencies(cfg: Mapping[str, Any], mixture: str) -> dict[str, str]:
    """{role: mixture} of the finished runs (same backbone and seed) the mixture's strategy reads."""
    return dict(build_strategy(cfg, mixture).dependencies())
