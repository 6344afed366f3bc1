"""The contract every registered mixing strategy must meet; a new strategy file in baselines/ is
covered automatically (the test is parametrised over the registry): initial weights, determinism,
and for dynamic strategies two updates with a real probe on the tiny model, whose state, saved
after the first as a checkpoint saves it, makes a fresh instance compute the same second update.
Strategies that read other runs (`dependencies()`) get finished-run folders made here.

    .venv/bin/python -m pytest tests/test_strategy_contract.py
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping

import numpy as np
import pytest
import torch

from mos.data.tokenized import load_dataset_file
from mos.data.tokenizer import load_tokenizer
from mos.mixing import registry
from mos.mixing.probe import Probe
from mos.mixing.strategy import temperature_weights
from mos.models.backbones import load_model
from mos.training.base_ppl import main as base_ppl_main
from mos.training.loop import hold_out

SIZES = {"Mathematics": 2620, "Medicine": 520, "General": 930, "NLP": 6260}
STRATEGIES = sorted(registry.available())
DYNAMIC = [n for n in STRATEGIES if registry.build(n, registry.get(n).contract_params(SIZES)).is_dynamic]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, tiny_model_dir):
    """A finished run folder as mos.training.loop leaves one: run.json, trajectory.csv (two updates), model/."""
    run = tmp_path_factory.mktemp("dependency") / "run"
    run.mkdir()
    model = load_model(str(tiny_model_dir))  # another run's model: θ0 moved by seeded noise
    gen = torch.Generator().manual_seed(11)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(0.05 * torch.randn(param.shape, generator=gen))
    model.save_pretrained(run / "model")
    (run / "run.json").write_text(json.dumps({"spec": {"mixture": {"name": "dep"}, "train": {"steps": 4, "batch_size": 2}},
                                              "budget": {"training_examples": 8, "extra_training_examples": 0},
                                              "validation_sizes": dict.fromkeys(SIZES, 2)}))  # as small() holds out
    with open(run / "trajectory.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["step", "dataset", "weight", "reward", "smoothed_reward", "drawn"])
        for step, reward in ((0, ""), (2, "0.5"), (4, "0.1")):
            for k, name in enumerate(SIZES):
                w.writerow([step, name, (k + 1 + step) / (10 + 4 * step), reward, "", 0])
    return run


def build(name, finished_run=None):
    strategy = registry.build(name, small(name))
    if strategy.dependencies():
        if finished_run is None:
            pytest.skip(f"{name} reads other runs")
        strategy.bind_runs(dict.fromkeys(strategy.dependencies(), str(finished_run)))
    return strategy


def same_state(a, b) -> bool:
    """Nested state dicts equal: tensors bit for bit, everything else by ==."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(same_state(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same_state(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def through_checkpoint(state):
    """The state as a resumed run sees it: torch.save, then torch.load(weights_only=True) as mos.training.loop does."""
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


def test_registry_finds_the_baselines_and_rejects_unknown_names():
    assert {"temperature", "fixed"} <= set(STRATEGIES)
    with pytest.raises(registry.StrategyError, match="Did you mean 'temperature'"):
        registry.get("temprature")
    with pytest.raises(registry.StrategyError, match="unknown parameter"):
        registry.build("temperature", {"tua": 3})
    with pytest.raises(registry.StrategyError, match="expected a number"):
        registry.build("temperature", {"tau": "hot"})


@pytest.mark.parametrize("name", STRATEGIES)
def test_initial_weights_are_a_distribution_over_the_datasets(name, finished_run):
    w = build(name, finished_run).initial_weights(SIZES, seed=0)
    assert list(w) == list(SIZES)
    assert all(v >= 0 and math.isfinite(v) for v in w.values())
    assert sum(w.values()) == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("name", STRATEGIES)
def test_deterministic_under_a_seed_and_state_round_trips(name, finished_run):
    a, b = build(name, finished_run), build(name, finished_run)
    assert a.initial_weights(SIZES, seed=3) == b.initial_weights(SIZES, seed=3)
    fresh = build(name, finished_run)
    fresh.initial_weights(SIZES, seed=3)
    fresh.load_state_dict(through_checkpoint(a.state_dict()))
    assert same_state(a.state_dict(), fresh.state_dict())


@pytest.fixture(scope="module")
def probe_data(tiny_model_dir, testbed_dir, tmp_path_factory):
    """The testbed's four skills tokenized for the tiny model, and θ0's perplexity of every example."""
    tok = load_tokenizer(str(tiny_model_dir))
    files = {s: str(testbed_dir / "train" / f"{s}.jsonl") for s in SIZES}
    data = {s: load_dataset_file(s, p, tok, "response", 128) for s, p in files.items()}
    csv_path = tmp_path_factory.mktemp("contract_ppl") / "base.csv"
    base_ppl_main(["--spec", json.dumps({"model": str(tiny_model_dir), "max_length": 128, "pool_size": None,
                                          "seed": 0, "datasets": files}), "--out", str(csv_path)])
    return {"model": load_model(str(tiny_model_dir)).eval(), "data": data, "pad": tok.pad_token_id,
            "base_ppl": str(csv_path)}


def contract_probe(strategy, probe_data, step: int) -> Probe:
    """A probe as the loop builds it (validation held out as the strategy asks), seeded identically."""
    train, val = hold_out(probe_data["data"], int(getattr(strategy, "validation_size", 0)))
    probe = Probe(probe_data["model"], train, probe_data["pad"], seed=5, pack_length=128, validation=val,
                  base_ppl=probe_data["base_ppl"],
                  optimizer=torch.optim.AdamW(probe_data["model"].parameters(), lr=1e-2))  # read, never stepped
    probe.learning_rate = 1e-2
    return probe


def scripted_train_losses(probe: Probe, step: int) -> None:
    """Loss statistics of the batches drawn since the last update, for strategies that need them."""
    probe.set_train_losses({n: {"examples": 1.0 + (k + step) % 3, "loss_sum": 2.0 + k + 0.1 * step,
                                "tokens": 3.0 + k} for k, n in enumerate(probe.names)})


def small(name):
    """Contract parameters, with the held-out validation fitting the small test datasets and a looser
    prior fit (MultiDDS's to τ = 1 takes seconds at its 1e-10; the contract needs a distribution, not that fit)."""
    params = registry.get(name).contract_params(SIZES)
    fields = registry.parameters(registry.get(name))
    if "validation_size" in fields:
        params = {**params, "validation_size": 2}
    if "prior_tol" in fields:
        params = {**params, "prior_tol": 1e-4}
    return params


def two_updates(name, finished_run, probe_data, state_after_first=None):
    """initial weights, then two updates; with `state_after_first`, a fresh instance loads that state
    (through a checkpoint round trip) and a fresh probe loads the probe's, and only the second runs."""
    strategy = registry.build(name, small(name))
    if strategy.dependencies():
        strategy.bind_runs(dict.fromkeys(strategy.dependencies(), str(finished_run)))
    probe = contract_probe(strategy, probe_data, 0)
    sizes = {n: len(d) for n, d in probe.datasets.items()}
    strategy.initial_weights(sizes, seed=1)
    # well into training (ODM's exploration schedule keeps π uniform over its first steps)
    step = strategy.first_update and 100 * strategy.first_update
    updates, states = [], []
    for k in range(2):
        if k == 0 and state_after_first is not None:
            strategy.load_state_dict(state_after_first["strategy"])
            probe.load_state_dict(state_after_first["probe"])
            step = state_after_first["step"]
            continue
        if strategy.needs_train_losses:
            scripted_train_losses(probe, step)
        u = strategy.update(step, probe)
        updates.append(u)
        step += u.next_update_in or strategy.update_every
        # saved at once, as a checkpoint would be (state dicts may hold live tensors that later updates change)
        states.append(through_checkpoint({"strategy": strategy.state_dict(), "probe": probe.state_dict(),
                                          "step": step}))
    return updates, states, sizes


@pytest.mark.parametrize("name", DYNAMIC)
def test_updates_are_distributions_deterministic_and_resume_from_their_state(name, finished_run, probe_data):
    updates, states, sizes = two_updates(name, finished_run, probe_data)
    for u in updates:
        assert list(u.weights) == list(sizes)
        assert all(v >= 0 and math.isfinite(v) for v in u.weights.values())
        assert sum(u.weights.values()) == pytest.approx(1.0, abs=1e-9)
        for n, w in (u.example_weights or {}).items():
            assert len(w) == sizes[n] and np.all(np.asarray(w) >= 0)
    again, _, _ = two_updates(name, finished_run, probe_data)
    assert [u.weights for u in again] == [u.weights for u in updates]  # deterministic
    resumed, _, _ = two_updates(name, finished_run, probe_data, state_after_first=states[0])
    assert resumed[0].weights == updates[1].weights  # the state after update 1 is all update 2 needs
    assert resumed[0].next_update_in == updates[1].next_update_in
    if updates[1].example_weights:
        assert all(np.array_equal(np.asarray(resumed[0].example_weights[n]), np.asarray(w))
                   for n, w in updates[1].example_weights.items())


def test_temperature_family_matches_paper_eq3():
    assert build("temperature").initial_weights(SIZES) == pytest.approx(temperature_weights(SIZES, 10))
    prop = registry.build("temperature", {"tau": 1}).initial_weights(SIZES)
    assert prop == pytest.approx({k: v / sum(SIZES.values()) for k, v in SIZES.items()})
    uni = registry.build("temperature", {"tau": "inf"}).initial_weights(SIZES)
    assert uni == pytest.approx(dict.fromkeys(SIZES, 0.25))


def test_fixed_weights_must_name_every_dataset():
    with pytest.raises(ValueError, match="missing"):
        registry.build("fixed", {"weights": {"Mathematics": 1.0}}).initial_weights(SIZES)
