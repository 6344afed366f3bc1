"""The contract every registered mixing strategy must meet; a new strategy file in baselines/ is
covered automatically (the test is parametrised over the registry).

    .venv/bin/python -m pytest tests/test_strategy_contract.py
"""

from __future__ import annotations

import math

import pytest
import torch

from mos.mixing import registry
from mos.mixing.strategy import temperature_weights

SIZES = {"Mathematics": 2620, "Medicine": 520, "General": 930, "NLP": 6260}
STRATEGIES = sorted(registry.available())


def build(name):
    cls = registry.get(name)
    return registry.build(name, cls.contract_params(SIZES))


def test_registry_finds_the_baselines_and_rejects_unknown_names():
    assert {"temperature", "fixed"} <= set(STRATEGIES)
    with pytest.raises(registry.StrategyError, match="Did you mean 'temperature'"):
        registry.get("temprature")
    with pytest.raises(registry.StrategyError, match="unknown parameter"):
        registry.build("temperature", {"tua": 3})
    with pytest.raises(registry.StrategyError, match="expected a number"):
        registry.build("temperature", {"tau": "hot"})


@pytest.mark.parametrize("name", STRATEGIES)
def test_initial_weights_are_a_distribution_over_the_datasets(name):
    w = build(name).initial_weights(SIZES, seed=0)
    assert list(w) == list(SIZES)
    assert all(v >= 0 and math.isfinite(v) for v in w.values())
    assert sum(w.values()) == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("name", STRATEGIES)
def test_deterministic_under_a_seed_and_state_round_trips(name):
    a, b = build(name), build(name)
    assert a.initial_weights(SIZES, seed=3) == b.initial_weights(SIZES, seed=3)
    fresh = build(name)
    fresh.initial_weights(SIZES, seed=3)
    fresh.load_state_dict(a.state_dict())
    sa, sf = a.state_dict(), fresh.state_dict()
    assert sa.keys() == sf.keys()
    for k in sa:
        if isinstance(sa[k], torch.Tensor):
            assert torch.equal(sa[k], sf[k])


def test_temperature_family_matches_paper_eq3():
    assert build("temperature").initial_weights(SIZES) == pytest.approx(temperature_weights(SIZES, 10))
    prop = registry.build("temperature", {"tau": 1}).initial_weights(SIZES)
    assert prop == pytest.approx({k: v / sum(SIZES.values()) for k, v in SIZES.items()})
    uni = registry.build("temperature", {"tau": "inf"}).initial_weights(SIZES)
    assert uni == pytest.approx(dict.fromkeys(SIZES, 0.25))


def test_fixed_weights_must_name_every_dataset():
    with pytest.raises(ValueError, match="missing"):
        registry.build("fixed", {"weights": {"Mathematics": 1.0}}).initial_weights(SIZES)
