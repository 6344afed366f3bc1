"""mSFT (baselines/msft.py) and the loop's rollback (mos.training.snapshots): the exclusion rule on
scripted held-out losses, a rollback restoring the snapshot's model, optimizer, scheduler and weight
average while the step counter goes on, and a run killed in the middle of a roll-out (before and after
its rollback) that resumes to the same final weights and logs as an uninterrupted one.

    .venv/bin/pytest tests/test_msft.py -q
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

import pytest
import torch
from safetensors.torch import load_file

from mos.mixing import registry
from mos.training.hooks import RunHooks
from mos.training.loop import Run
from tests.helpers import train_spec

NAMES = ["Mathematics", "Medicine", "General", "NLP"]


class LossProbe:
    """Scripted held-out losses: `table[dataset][k]` at the k-th evaluation."""

    def __init__(self, table):
        self.table, self.calls = table, 0

    def validation_loss(self, dataset, scope="training", model=None):
        return self.table[dataset][self.calls]


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def run_rule(strategy, table, every):
    """Every update of a strategy on scripted losses, one evaluation every `every` steps."""
    probe, out = LossProbe(table), []
    for k in range(len(next(iter(table.values())))):
        out.append(strategy.update(k * every, probe))
        probe.calls += 1
    return out


def test_the_dataset_that_peaks_first_is_excluded_and_the_run_rolls_back_to_its_best_step():
    """The notes' example: a 3, 2, 1.5, 1.6, 1.8 peaks at its third evaluation (step 20), b still improves
    at the end, c is monotone: a is excluded at step 40 and the run rolls back to step 20, whose 20
    steps after it are spent; the next roll-out starts from step 20's state and samples b and c only."""
    strategy = registry.build("msft", {"eval_every": 10, "rollout_steps": 40, "prior_tau": "inf"})
    strategy.initial_weights({"a": 100, "b": 100, "c": 100})
    table = {"a": [3, 2, 1.5, 1.6, 1.8, 9, 9, 9, 9],
             "b": [3, 2.5, 2.0, 1.7, 1.6, 1.55, 1.7, 1.8, 1.9],
             "c": [3, 2.9, 2.8, 2.7, 2.6, 2.5, 2.4, 2.3, 2.2]}
    updates = run_rule(strategy, table, 10)
    assert [u.snapshots for u in updates[:4]] == [[0], [0, 10], [0, 10, 20], [0, 10, 20, 30]]
    assert [u.rollback_to for u in updates[:4]] == [None] * 4
    assert updates[4].rollback_to == 20 and updates[4].snapshots == [20]
    assert updates[4].weights == {"a": 0.0, "b": 0.5, "c": 0.5}
    assert updates[4].reward == {"a": 1.8, "b": 1.6, "c": 2.6}
    # the next roll-out (counter 40 .. 80) starts at step 20's evaluation: b 2.0, then 1.55 (step 50)
    # is its best and it rises after: at the decision (step 80) b is excluded, back to step 50
    assert [u.snapshots for u in updates[5:8]] == [[20, 50], [20, 50, 60], [20, 50, 60, 70]]
    assert updates[8].rollback_to == 50 and updates[8].weights == {"a": 0.0, "b": 0.0, "c": 1.0}
    report = strategy.report(80)
    assert [(e["dataset"], e["step"], e["best_step"]) for e in report["excluded"]] == [("a", 40, 20), ("b", 80, 50)]
    # spent: 40 - 20 = 20 steps, then 80 - 50 = 30: the step counter went on to 80 all the same
    assert [e["rolled_back_steps"] for e in report["excluded"]] == [20, 30] and report["rolled_back_steps"] == 50
    assert report["active"] == ["c"]


def test_no_peak_means_no_exclusion_and_a_peak_at_the_start_rolls_back_the_whole_roll_out():
    strategy = registry.build("msft", {"eval_every": 5, "rollout_steps": 10})
    strategy.initial_weights({"a": 300, "b": 100})
    updates = run_rule(strategy, {"a": [3, 2, 1, 0.9, 0.8], "b": [3, 2.5, 2, 1.9, 2.5]}, 5)
    # step 10: both still improve at the end of the roll-out: advance, the next roll-out starts at 10
    assert updates[2].rollback_to is None and updates[2].snapshots == [10]
    assert updates[2].weights == {"a": 0.75, "b": 0.25}  # prior_tau 1: proportional
    # step 20: b peaked at step 15 (index 1 of the roll-out 10, 15, 20): excluded, back to 15
    assert updates[4].rollback_to == 15 and updates[4].weights == {"a": 1.0, "b": 0.0}
    assert strategy.report(20)["excluded"][0]["rolled_back_steps"] == 5

    strategy = registry.build("msft", {"eval_every": 5, "rollout_steps": 10})
    strategy.initial_weights({"a": 100, "b": 100})
    updates = run_rule(strategy, {"a": [2, 2.1, 2.2], "b": [3, 2.9, 2.8]}, 5)
    assert updates[2].rollback_to == 0 and strategy.report(10)["excluded"][0]["rolled_back_steps"] == 10


def test_the_earliest_peak_wins_and_min_active_is_kept():
    strategy = registry.build("msft", {"eval_every": 1, "rollout_steps": 3})
    strategy.initial_weights({"a": 100, "b": 100, "c": 100})
    updates = run_rule(strategy, {"a": [3, 2, 1, 2], "b": [3, 2, 2.5, 2.6], "c": [3, 2.5, 2, 1]}, 1)
    assert updates[3].rollback_to == 1 and strategy.report(3)["excluded"][0]["dataset"] == "b"  # b's best: step 1
    strategy = registry.build("msft", {"eval_every": 1, "rollout_steps": 2, "min_active": 2})
    strategy.initial_weights({"a": 100, "b": 100})
    updates = run_rule(strategy, {"a": [3, 1, 2], "b": [3, 2, 1]}, 1)
    assert updates[2].rollback_to is None and strategy.report(2)["excluded"] == []
    with pytest.raises(registry.StrategyError, match="must be at least eval_every"):
        registry.build("msft", {"eval_every": 10, "rollout_steps": 5})


# ---------------------------------------------------------------- the loop's rollback


@dataclass
class ScriptedMSFT(registry.get("msft")):
    """The real rule on held-out losses scripted by evaluation (checkpointed: `_evaluations`): Medicine
    peaks at its second evaluation, General at its fifth, the others improve throughout."""

    def held_out_losses(self, probe):
        k = len(self._evaluations)
        table = {"Mathematics": 3 - 0.1 * k, "NLP": 3 - 0.05 * k,
                 "Medicine": [3, 2, 2.5, 2.6][k] if k < 4 else 9.0,
                 "General": 3 - 0.1 * k if k < 4 else [1.5, 1.7, 1.8][k - 4] if k < 7 else 9.0}
        return {n: table[n] for n in self._active}


def scripted(**kw) -> ScriptedMSFT:
    return ScriptedMSFT(validation_size=4, eval_every=2, rollout_steps=6, **kw)


class Recorder(RunHooks):
    """Copies of the weights after every step, and the state each rollback leaves."""

    def __init__(self):
        self.after, self.position, self.rollbacks = {}, {}, []

    def after_step(self, run, loss):
        self.after[run.step] = {k: v.clone() for k, v in run.hf_model.state_dict().items()}
        self.position[run.step] = run.scheduler.scheduler.last_epoch

    def after_update(self, run, update):
        if update.rollback_to is not None:
            self.rollbacks.append((run.step, update.rollback_to, run.scheduler.scheduler.last_epoch,
                                   {k: v.clone() for k, v in run.hf_model.state_dict().items()},
                                   sorted(os.listdir(run.out / "snapshots"))))


class Crash(RuntimeError):
    pass


class CrashAt(RunHooks):
    def __init__(self, step):
        self.step = step

    def after_step(self, run, loss):
        if run.step == self.step:
            raise Crash(f"killed after step {run.step}")


def msft_spec(tiny_model_dir, testbed_dir, checkpoint_every=5):
    spec = train_spec(tiny_model_dir, testbed_dir, steps=24, checkpoint_every=checkpoint_every, log_every=2,
                      average="tail", average_start=0.25)
    spec["mixture"] = {"name": "msft", "strategy": "msft", "params": {}}
    return spec


def test_a_rollback_restores_the_snapshot_and_the_counter_goes_on(tiny_model_dir, testbed_dir, tmp_path):
    recorder = Recorder()
    info = Run(msft_spec(tiny_model_dir, testbed_dir), tmp_path / "run", hooks=[recorder], strategy=scripted()).run()
    # evaluations at steps 0, 2, ..., 22; decisions at 6 (Medicine: back to 2), 12 (General: back to 8), 18 (none)
    assert [(step, back) for step, back, *_ in recorder.rollbacks] == [(6, 2), (12, 8)]
    for _, back, last_epoch, weights, kept in recorder.rollbacks:
        assert last_epoch == recorder.position[back]  # the scheduler is where it was after step `back`
        assert all(torch.equal(weights[k], recorder.after[back][k]) for k in weights)  # bit for bit
        assert f"step{back}" in kept
    report = info["strategy_report"]
    assert [e["dataset"] for e in report["excluded"]] == ["Medicine", "General"]
    assert report["rolled_back_steps"] == 4 + 4 and info["budget"]["training_steps"] == 24
    # the schedule went back with the model: 2 positions at the first rollback, then 8 - 4 at the second
    assert [pos for _, _, pos, _, _ in recorder.rollbacks] == [2, 4] and recorder.position[24] == 24 - 8
    rows = read_csv(tmp_path / "run" / "trajectory.csv")
    assert {r["dataset"]: float(r["weight"]) for r in rows if r["step"] == "24"}["Medicine"] == 0.0
    drawn = {n: sum(int(r["drawn"]) for r in rows if r["dataset"] == n and int(r["step"]) > 12) for n in NAMES}
    assert drawn["Medicine"] == drawn["General"] == 0 and drawn["NLP"] > 0
    assert [int(r["step"]) for r in read_csv(tmp_path / "run" / "train_log.csv")][-1] == 24
    assert not (tmp_path / "run" / "snapshots").exists() and not (tmp_path / "run" / "checkpoint").exists()


@pytest.mark.parametrize(("crash", "every"), [(11, 5), (17, 5), (19, 10)])
def test_a_run_killed_in_a_roll_out_resumes_to_the_same_weights(tiny_model_dir, testbed_dir, tmp_path, crash, every):
    """Crash after step 11 (last checkpoint 10: before the rollback at 12, whose snapshot of step 8 and
    the roll-out's others must still be on disk), 17 (checkpoint 15: after it, in the next roll-out) or 19
    (checkpoint 10: the replay rolls back to step 8 again, a snapshot the run had stopped keeping at 18 but
    that no checkpoint since 10 has let go of)."""
    spec = msft_spec(tiny_model_dir, testbed_dir, every)
    Run(spec, tmp_path / "ref", strategy=scripted()).run()
    with pytest.raises(Crash):
        Run(spec, tmp_path / "res", hooks=[CrashAt(crash)], strategy=scripted()).run()
    state = torch.load(tmp_path / "res" / "checkpoint" / "state.pt", weights_only=True)
    assert state["step"] == crash - crash % every
    assert {f"step{k}" for k in state["snapshots"]} <= set(os.listdir(tmp_path / "res" / "snapshots"))
    info = Run(spec, tmp_path / "res", strategy=scripted()).run()
    assert info["timing"]["resumed"] is True
    a, b = (load_file(tmp_path / r / "model" / "model.safetensors") for r in ("ref", "res"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    for name in ("trajectory.csv", "train_log.csv"):
        ra, rb = (read_csv(tmp_path / r / name) for r in ("ref", "res"))
        for row in ra + rb:
            row.pop("seconds", None)
        assert ra == rb, name
    ref = json.loads((tmp_path / "ref" / "run.json").read_text())["strategy_report"]
    assert info["strategy_report"] == ref and len(ref["excluded"]) == 2


def test_rollback_to_a_step_without_a_snapshot_is_refused(tiny_model_dir, testbed_dir, tmp_path):
    class Bad(ScriptedMSFT):
        def update(self, step, probe):
            u = super().update(step, probe)
            u.rollback_to = 1 if step == 4 else u.rollback_to
            return u

    with pytest.raises(ValueError, match=r"rolls back to step 1, which has no snapshot \(held: \[0, 2, 4\]\)"):
        Run(msft_spec(tiny_model_dir, testbed_dir), tmp_path / "run", strategy=Bad(validation_size=4, eval_every=2,
                                                                                  rollout_steps=6)).run()


# ---------------------------------------------------------------- the real rule, killed for real


def _train(spec_path, out):
    cmd = [sys.executable, "-m", "mos", "train", "--spec", f"@{spec_path}", "--out", str(out), "--threads", "1"]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ})


@pytest.mark.slow
def test_killed_msft_run_resumes_to_the_same_weights(tiny_model_dir, testbed_dir, tmp_path):
    """`python -m mos train` of the real mSFT, SIGKILLed once its first checkpoint after a rollback is
    written, then rerun: the same final weights, logs and exclusions as a run never killed."""
    spec = train_spec(tiny_model_dir, testbed_dir, steps=120, checkpoint_every=7, log_every=5, lr=3e-2)
    spec["mixture"] = {"name": "msft", "strategy": "msft",
                       "params": {"validation_size": 4, "eval_every": 3, "rollout_steps": 9}}
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(spec))
    reference = _train(spec_path, tmp_path / "ref")
    assert reference.wait(timeout=300) == 0, reference.stderr.read().decode()
    ref = json.loads((tmp_path / "ref" / "run.json").read_text())
    excluded = ref["strategy_report"]["excluded"]
    assert excluded, "no dataset overfit: the test would not exercise a rollback"
    first = excluded[0]["step"]
    wanted = first + 7 - first % 7  # the first checkpoint after the first rollback

    killed = _train(spec_path, tmp_path / "res")
    state = tmp_path / "res" / "checkpoint" / "state.pt"
    deadline = time.time() + 120
    while time.time() < deadline and killed.poll() is None:
        try:
            if state.exists() and torch.load(state, weights_only=True)["step"] >= wanted:
                break
        except (RuntimeError, EOFError, OSError):  # being replaced
            pass
        time.sleep(0.005)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert not (tmp_path / "res" / "run.json").exists(), "the run finished before it could be killed"
    resumed = _train(spec_path, tmp_path / "res")
    assert resumed.wait(timeout=300) == 0, resumed.stderr.read().decode()
    a, b = (load_file(tmp_path / r / "model" / "model.safetensors") for r in ("ref", "res"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    for name in ("trajectory.csv", "train_log.csv"):
        ra, rb = (read_csv(tmp_path / r / name) for r in ("ref", "res"))
        for row in ra + rb:
            row.pop("seconds", None)
        assert ra == rb, name
    res = json.loads((tmp_path / "res" / "run.json").read_text())
    assert res["strategy_report"] == ref["strategy_report"] and res["timing"]["resumed"] is True
