"""The overhead benchmarks' harness (scripts/_bench.py) observes real runs through the loop's hooks
only: runs take turns of `turn` steps, updates are timed and passes counted, and the MoS benchmark's
replay arm (a strategy handed to the loop) trains on exactly its twin's batches.

    .venv/bin/pytest tests/test_bench.py -q
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mos.training.hooks import RunHooks
from mos.training.loop import Run
from tests.helpers import train_spec

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
try:
    import _bench
    import benchmark_mos_overhead
finally:
    sys.path.remove(str(ROOT / "scripts"))

MOS = {"strategy": "mos",
       "params": {"reward": "cossim", "update_every": 2, "cossim_examples": 2, "inner_steps": 5}}


class Steps(RunHooks):
    """Records which run took which step, in the order the steps ran."""

    def __init__(self, label: str, seen: list):
        self.label, self.seen = label, seen

    def before_step(self, run: Run) -> None:
        self.seen.append((self.label, run.step))


def spec(tiny_model_dir, testbed_dir, label: str, mixture: dict | None = None) -> dict:
    out = train_spec(tiny_model_dir, testbed_dir, steps=4, checkpoint_every=0, log_every=2)
    out["mixture"] = {"name": label, **(mixture or out["mixture"])}
    return out


def test_runs_take_turns_and_hooks_time_and_count_them(tiny_model_dir, testbed_dir, tmp_path):
    order, seen = ["uniform", "mos"], []
    lock = _bench.Lockstep(order, turn=2)
    timers = {label: _bench.UpdateTimer(record={}) for label in order}
    counters = {label: _bench.PassCounter() for label in order}
    hooks = {label: [lock.turns(label), Steps(label, seen), timers[label], counters[label]]
             for label in order}
    runs = {label: Run(spec(tiny_model_dir, testbed_dir, label, None if label == "uniform" else MOS),
                       tmp_path / label, hooks=hooks[label]) for label in order}
    info = lock.run_all(runs)
    assert seen == [("uniform", 0), ("uniform", 1), ("mos", 0), ("mos", 1),
                    ("uniform", 2), ("uniform", 3), ("mos", 2), ("mos", 3)]
    assert lock.turns_taken == {"uniform": 2, "mos": 2} and all(lock.wall[k] > 0 for k in order)
    assert timers["uniform"].n_updates == 0 and timers["mos"].n_updates == 1 and timers["mos"].seconds > 0
    assert timers["mos"].record == {2: info["mos"]["final_weights"]}  # the weights after its one update
    assert counters["uniform"].counts["update_fwd"] == 0 and counters["uniform"].counts["train"] > 0
    assert counters["mos"].counts["update_fwd"] > 0 and counters["mos"].counts["update_fwd_bwd"] == 0
    phases = info["mos"]["strategy_report"]["phase_seconds"]  # the strategy times its own phases
    assert phases["rewards"] > 0 and phases["scorer"] > 0
    assert phases["rewards"] + phases["scorer"] <= timers["mos"].seconds


def test_a_failing_run_hands_over_its_turns(tiny_model_dir, testbed_dir, tmp_path):
    class Boom(RunHooks):
        def before_step(self, run: Run) -> None:
            if run.step == 2:
                raise RuntimeError("boom")

    lock = _bench.Lockstep(["a", "b"], turn=2)
    runs = {"a": Run(spec(tiny_model_dir, testbed_dir, "a"), tmp_path / "a", hooks=[lock.turns("a"), Boom()]),
            "b": Run(spec(tiny_model_dir, testbed_dir, "b"), tmp_path / "b", hooks=[lock.turns("b")])}
    with pytest.raises(RuntimeError, match="benchmark run failed"):
        lock.run_all(runs)
    assert "b" in lock.done and (tmp_path / "b" / "run.json").exists()  # b finished its run alone


def test_the_replay_arm_trains_on_its_twins_batches(tiny_model_dir, testbed_dir, tmp_path):
    specs = {"mos_cossim": spec(tiny_model_dir, testbed_dir, "mos_cossim", MOS),
             "mos_cossim_replay": spec(tiny_model_dir, testbed_dir, "mos_cossim_replay")}
    result = benchmark_mos_overhead.lockstep_round(specs, list(specs), 2, tmp_path)
    mos, replay = result["mos_cossim"], result["mos_cossim_replay"]
    assert (mos["tokens"], mos["final_loss"], mos["final_weights"]) == \
        (replay["tokens"], replay["final_loss"], replay["final_weights"])
    assert mos["n_updates"] == replay["n_updates"] == 1 and mos["reward"] > 0 and replay["reward"] == 0
