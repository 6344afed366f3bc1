"""MoS, MoSpec, MultiDDS and MultiUAT: scorer, rewards, base perplexities, and end-to-end runs
(resume between two scorer updates; two data-parallel processes).

    .venv/bin/python -m pytest tests/test_mos.py
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from mos.data.tokenized import load_dataset_file
from mos.data.tokenizer import load_tokenizer
from mos.mixing import registry
from mos.mixing import rewards as R
from mos.mixing.probe import Probe
from mos.mixing.scorer import ScorerPolicy
from mos.mixing.strategy import temperature_weights
from mos.models.backbones import load_model
from mos.training.base_ppl import main as base_ppl_main
from mos.training.jobs import train
from tests.helpers import train_spec

PAPER_SIZES = {"Mathematics": 26_200, "Medicine": 5_200, "General": 9_300, "NLP": 62_600}
SKILLS = list(PAPER_SIZES)


@pytest.mark.parametrize("tau, expected", [
    (1, [0.254, 0.050, 0.090, 0.606]), (10, [0.260, 0.221, 0.235, 0.284]), (math.inf, [0.25] * 4)])
def test_priors_from_paper_table1(tau, expected):
    assert list(temperature_weights(PAPER_SIZES, tau).values()) == pytest.approx(expected, abs=5e-4)


def test_adam_updates_converge_to_reward_proportional_weights():
    policy = ScorerPolicy(SKILLS, "logits", lr=1e-2, inner_steps=200)
    rewards = {"Mathematics": 0.4, "Medicine": 0.1, "General": 0.3, "NLP": 0.2}
    for _ in range(30):
        p = policy.update(rewards)
    assert list(p.values()) == pytest.approx([0.4, 0.1, 0.3, 0.2], abs=2e-3)


def test_one_update_moves_a_logit_by_at_most_about_inner_steps_times_lr():
    policy = ScorerPolicy(SKILLS, "logits", lr=1e-4, inner_steps=200)
    before = policy.model.logits.detach().clone()
    policy.update({"Mathematics": 5.0, "Medicine": 0.0, "General": 0.0, "NLP": 0.0})
    moved = (policy.model.logits.detach() - before).abs()
    assert moved.max() <= 200 * 1e-4 * 1.01 and moved.max() > 200 * 1e-4 * 0.9


def test_reinforce_is_one_plain_policy_gradient_step():
    policy = ScorerPolicy(SKILLS, "logits", lr=0.1, update_rule="reinforce")
    r = torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64)
    p = torch.softmax(policy.model.logits.detach(), 0)
    expected = policy.model.logits.detach() + 0.1 * (r - p * r.sum())  # ∇ Σ R log p = R - p ΣR
    policy.update(dict(zip(SKILLS, r.tolist(), strict=True)))
    torch.testing.assert_close(policy.model.logits.detach(), expected)


@pytest.mark.parametrize("kind", ["logits", "mlp"])
@pytest.mark.parametrize("tau", [1, 10, math.inf])
def test_both_scorers_fit_the_prior(kind, tau):
    prior = temperature_weights(PAPER_SIZES, tau)
    policy = ScorerPolicy(SKILLS, kind, lr=1e-2, seed=0)
    policy.fit_prior(prior, tol=1e-10)
    assert list(policy.probabilities().values()) == pytest.approx(list(prior.values()), abs=3e-5)


def test_ema_arithmetic():
    first = R.ema(None, {"a": 0.5, "b": 2.0}, beta=0.9)
    assert first == pytest.approx({"a": 0.9 * 0.5 + 0.1, "b": 0.9 * 2.0 + 0.1})
    second = R.ema(first, {"a": 1.0, "b": 0.0}, beta=0.9)
    assert second == pytest.approx({"a": 0.9 + 0.1 * first["a"], "b": 0.1 * first["b"]})


def test_cossim_rewards_and_mospec_target():
    z = {"a": torch.tensor([1.0, 0.0]), "b": torch.tensor([0.0, 2.0]), "c": torch.tensor([1.0, 1.0])}
    r = R.cossim_rewards(z)
    assert r["a"] == pytest.approx((1 + 0 + 2 ** -0.5) / 3) and r["c"] == pytest.approx((1 + 2 * 2 ** -0.5) / 3)
    t = R.cossim_to_target(z, "a")
    assert t["a"] == pytest.approx(1.0) and t["b"] == pytest.approx(0.0) and t["c"] == pytest.approx(2 ** -0.5)
    assert R.cossim_rewards({"x": z["c"], "y": 3 * z["c"]}) == pytest.approx({"x": 1.0, "y": 1.0})
    assert R.double_target({"a": 0.3, "b": 0.5}, "a") == {"a": 0.6, "b": 0.5}


@pytest.fixture(scope="module")
def base_ppl_csv(tiny_model_dir, testbed_dir, tmp_path_factory):
    spec = {"model": str(tiny_model_dir), "max_length": 128, "pool_size": 40, "seed": 0,
            "datasets": {s: str(testbed_dir / "train" / f"{s}.jsonl") for s in SKILLS}}
    out = tmp_path_factory.mktemp("ppl") / "base.csv"
    base_ppl_main(["--spec", json.dumps(spec), "--out", str(out)])
    return out


def test_diff_of_the_base_model_against_itself_is_one(tiny_model_dir, testbed_dir, base_ppl_csv):
    tok = load_tokenizer(str(tiny_model_dir))
    data = {s: load_dataset_file(s, testbed_dir / "train" / f"{s}.jsonl", tok, "response", 128) for s in SKILLS}
    probe = Probe(load_model(str(tiny_model_dir)).eval(), data, tok.pad_token_id, seed=1, base_ppl=str(base_ppl_csv))
    strategy = registry.build("mos", {"reward": "diff", "diff_examples": 8})
    strategy.initial_weights({s: len(d) for s, d in data.items()})
    rewards = strategy.rewards(probe)
    assert rewards == pytest.approx(dict.fromkeys(SKILLS, 1.0), abs=1e-6)
    with open(base_ppl_csv) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4 * 40 and all(float(r["ppl_sequence"]) > 1 for r in rows)
    spec = registry.build("mospec", {"reward": "diff", "diff_examples": 8, "target": "Medicine"})
    spec.initial_weights({s: len(d) for s, d in data.items()})
    assert spec.rewards(probe)["Medicine"] == pytest.approx(2.0, abs=1e-6)


def test_diff_compares_perplexities_computed_in_the_same_precision(tiny_model_dir, testbed_dir, base_ppl_csv, tmp_path):
    """θ0's perplexities record their precision; a probe computing in another stops the run (DIFF's
    ratio would be biased, REVIEW M6); in the same precision (here bf16 autocast on the CPU, as
    accelerate's bf16 runs compute) DIFF of θ0 against itself is 1."""
    spec = {"model": str(tiny_model_dir), "max_length": 128, "pool_size": 40, "seed": 0, "precision": "bf16",
            "datasets": {s: str(testbed_dir / "train" / f"{s}.jsonl") for s in SKILLS}}
    bf16_csv = tmp_path / "base_bf16.csv"
    base_ppl_main(["--spec", json.dumps(spec), "--out", str(bf16_csv)])
    with open(bf16_csv) as f:
        row = next(csv.DictReader(f))
    assert (row["weights_dtype"], row["autocast_dtype"]) == ("float32", "bfloat16")
    tok = load_tokenizer(str(tiny_model_dir))
    data = {s: load_dataset_file(s, testbed_dir / "train" / f"{s}.jsonl", tok, "response", 128) for s in SKILLS}
    model = load_model(str(tiny_model_dir)).eval()

    def bf16():
        return torch.autocast("cpu", dtype=torch.bfloat16)

    def diff(base_csv, autocast):
        probe = Probe(model, data, tok.pad_token_id, seed=1, base_ppl=str(base_csv), autocast=autocast)
        strategy = registry.build("mos", {"reward": "diff", "diff_examples": 8})
        strategy.initial_weights({s: len(d) for s, d in data.items()})
        return probe, strategy.rewards(probe)

    probe, same = diff(bf16_csv, bf16)
    probe.check_base_numerics()
    assert same == pytest.approx(dict.fromkeys(SKILLS, 1.0), abs=1e-3)
    probe, mixed = diff(base_ppl_csv, bf16)  # θ0 in fp32, the current model in bf16
    with pytest.raises(ValueError, match="DIFF's ratio would be biased"):
        probe.check_base_numerics()
    assert max(abs(r - 1) for r in mixed.values()) > 3 * max(abs(r - 1) for r in same.values())
    run = train_spec(tiny_model_dir, testbed_dir)  # an fp32 run against bf16 base perplexities: stops at once
    run["mixture"] = {"name": "mos_diff", **MOS_SPECS["mos_diff"]}
    run["base_ppl"] = str(bf16_csv)
    with pytest.raises(ValueError, match="DIFF's ratio would be biased"):
        train(run, tmp_path / "run")


def test_embeddings_and_perplexities_do_not_depend_on_packing(tiny_model_dir, testbed_dir):
    tok = load_tokenizer(str(tiny_model_dir))
    data = {"NLP": load_dataset_file("NLP", testbed_dir / "train" / "NLP.jsonl", tok, "response", 128)}
    model = load_model(str(tiny_model_dir)).eval()
    wide = Probe(model, data, tok.pad_token_id, seed=0, pack_length=512)
    narrow = Probe(model, data, tok.pad_token_id, seed=0, pack_length=8)  # one example per row
    idx = list(range(12))
    torch.testing.assert_close(wide.embeddings("NLP", idx), narrow.embeddings("NLP", idx), atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(wide.perplexities("NLP", idx, "response"), narrow.perplexities("NLP", idx, "response"),
                               atol=1e-5, rtol=1e-4)


MOS_SPECS = {
    "mos_cossim_ema": {"strategy": "mos", "params": {"reward": "cossim", "ema": True, "update_every": 3,
                                                    "scorer_lr": 1e-2, "cossim_examples": 8}},
    "mos_diff": {"strategy": "mos", "params": {"reward": "diff", "update_every": 3, "scorer_lr": 1e-2,
                                              "diff_examples": 8, "prior_tau": 10.0}},
    "mospec_diff_ema": {"strategy": "mospec", "params": {"reward": "diff", "ema": True, "update_every": 3,
                                                        "scorer_lr": 1e-2, "diff_examples": 8, "target": "Mathematics"}},
    "multidds": {"strategy": "multidds", "params": {"update_every": 3, "scorer_lr": 1e-2, "validation_size": 2,
                                                   "grad_examples": 4, "validation_examples": 2}},
    "multiuat": {"strategy": "multiuat", "params": {"update_every": 3, "scorer_lr": 1e-2, "validation_size": 2,
                                                   "validation_examples": 2}},
    "mos_mlp_reinforce": {"strategy": "mos", "params": {"reward": "cossim", "scorer": "mlp", "update_rule": "reinforce",
                                                       "update_every": 3, "scorer_lr": 0.1, "cossim_examples": 4}},
}


def read_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("label", sorted(MOS_SPECS))
def test_dynamic_strategies_train_and_log_their_rewards(label, tiny_model_dir, testbed_dir, base_ppl_csv, tmp_path):
    spec = train_spec(tiny_model_dir, testbed_dir, steps=9, checkpoint_every=0)
    spec["mixture"] = {"name": label, **MOS_SPECS[label]}
    spec["base_ppl"] = str(base_ppl_csv)
    info = train(spec, tmp_path / "run")
    rows = read_rows(tmp_path / "run" / "trajectory.csv")
    steps = sorted({int(r["step"]) for r in rows})
    assert steps == [0, 3, 6, 9]
    for step in (3, 6):
        at = [r for r in rows if int(r["step"]) == step]
        assert sum(float(r["weight"]) for r in at) == pytest.approx(1.0)
        assert all(r["reward"] != "" for r in at)
        assert all((r["smoothed_reward"] != "") == MOS_SPECS[label]["params"].get("ema", False) for r in at)
    assert sum(int(r["drawn"]) for r in rows) == 9 * 8
    first = [float(r["weight"]) for r in rows if int(r["step"]) == 0]
    last = [float(r["weight"]) for r in rows if int(r["step"]) == 9]
    assert first != last  # the scorer moved
    if "validation_size" in MOS_SPECS[label]["params"]:
        assert info["validation_sizes"] == dict.fromkeys(SKILLS, 2)


def test_diff_run_without_base_perplexities_fails_before_training(tiny_model_dir, testbed_dir, tmp_path):
    spec = train_spec(tiny_model_dir, testbed_dir)
    spec["mixture"] = {"name": "m", **MOS_SPECS["mos_diff"]}
    with pytest.raises(ValueError, match="needs base-model perplexities"):
        train(spec, tmp_path / "run")


def _launch(cmd, env=None):
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, **(env or {})})


def test_mos_run_killed_between_scorer_updates_resumes_exactly(tiny_model_dir, testbed_dir, base_ppl_csv, tmp_path):
    spec = train_spec(tiny_model_dir, testbed_dir, steps=150, checkpoint_every=5, log_every=5)
    spec["mixture"] = {"name": "mos_diff", **MOS_SPECS["mos_diff"]}
    spec["mixture"]["params"] = {**spec["mixture"]["params"], "update_every": 7, "ema": True}
    spec["base_ppl"] = str(base_ppl_csv)
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    cmd = [sys.executable, "-m", "mos", "train", "--spec", f"@{path}", "--threads", "1", "--out"]
    ref = _launch(cmd + [str(tmp_path / "ref")])
    assert ref.wait(timeout=300) == 0, ref.stderr.read().decode()
    killed = _launch(cmd + [str(tmp_path / "res")])
    state = tmp_path / "res" / "checkpoint" / "state.pt"
    deadline = time.time() + 120
    while time.time() < deadline and killed.poll() is None:
        if state.exists() and torch.load(state, weights_only=True)["step"] >= 10:  # after update 1, before 2 ends
            break
        time.sleep(0.01)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert not (tmp_path / "res" / "run.json").exists(), "the run finished before it could be killed"
    resumed = _launch(cmd + [str(tmp_path / "res")])
    assert resumed.wait(timeout=300) == 0, resumed.stderr.read().decode()
    a, b = load_file(tmp_path / "ref/model/model.safetensors"), load_file(tmp_path / "res/model/model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert read_rows(tmp_path / "ref/trajectory.csv") == read_rows(tmp_path / "res/trajectory.csv")
    assert json.loads((tmp_path / "res/run.json").read_text())["final_weights"] == \
        json.loads((tmp_path / "ref/run.json").read_text())["final_weights"]


@pytest.mark.skipif(shutil.which("accelerate") is None and not os.path.exists(os.path.join(os.path.dirname(sys.executable), "accelerate")),
                    reason="accelerate CLI not installed")
def test_two_data_parallel_processes_draw_differently_and_agree_on_weights(tiny_model_dir, testbed_dir, tmp_path):
    spec = train_spec(tiny_model_dir, testbed_dir, steps=12, batch_size=8, micro_batch_size=4, checkpoint_every=0)
    spec["mixture"] = {"name": "mos_cossim_ema", **MOS_SPECS["mos_cossim_ema"]}
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    accelerate = os.path.join(os.path.dirname(sys.executable), "accelerate")
    # accelerate 1.15 spawns several CPU processes only through its torchrun launcher (--multi_gpu);
    # `--cpu --num_processes 2` needs mpirun. Without CUDA, mos.training.loop's Accelerator runs gloo DDP on CPU.
    cmd = [accelerate, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no",
           "--dynamo_backend", "no", "-m", "mos", "train", "--spec", f"@{path}", "--out", str(tmp_path / "dp"), "--threads", "1"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    info = json.loads((tmp_path / "dp" / "run.json").read_text())
    assert info["world_size"] == 2
    prints = info["data_parallel"]["rank_sample_fingerprints"]
    assert len(prints) == 2 and prints[0] != prints[1]          # the ranks drew different examples
    assert info["data_parallel"]["rank_weight_max_spread"] == 0.0  # and computed identical updates
    rows = read_rows(tmp_path / "dp" / "trajectory.csv")
    assert sorted({int(r["step"]) for r in rows}) == [0, 3, 6, 9, 12]
    assert sum(int(r["drawn"]) for r in rows) == 12 * 8        # draws of both ranks counted
