"""The field's mixing methods (baselines/doremi.py, odm.py, dynamixsft.py, aioli.py, hbo.py):
each update rule against weights computed by hand from the paper's equations (scripted probe
inputs, independent arithmetic here), the loop's extensions they use (training-loss statistics,
virtual steps, other runs' models, schedules, within-dataset weights), resumption mid-run, and
the budgets they report.

    .venv/bin/python -m pytest tests/test_field_strategies.py
"""

from __future__ import annotations

import copy
import csv
import json
import math

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from mos.data.tokenized import load_dataset_file
from mos.data.tokenizer import load_tokenizer
from mos.mixing import registry
from mos.mixing.probe import Probe
from mos.mixing.sampler import MixtureSampler
from mos.models.backbones import load_model
from mos.training.base_ppl import main as base_ppl_main
from mos.training.jobs import train
from mos.training.loop import Run
from tests.helpers import train_spec

SKILLS = ("Mathematics", "Medicine", "General", "NLP")


def softmax(xs):
    m = max(xs)
    e = [math.exp(x - m) for x in xs]
    return [v / sum(e) for v in e]


class ScriptedProbe:
    """Stands in for mos.mixing.probe.Probe with scripted numbers. A script is a list of measurements,
    each {dataset: value}; every call for a dataset takes that dataset's next measurement."""

    def __init__(self, names, **script):
        self.names, self.script, self.calls = list(names), script, []
        self.learning_rate = 0.5
        self.split_sizes = {}
        self._taken: dict[tuple[str, str], int] = {}

    def _next(self, key, dataset=None):
        k = self._taken.get((key, dataset), 0)
        self._taken[(key, dataset)] = k + 1
        value = self.script[key][k]
        return value if dataset is None else value[dataset]

    def sample(self, dataset, n, split="train", among=None):
        return list(among)[:n] if among is not None else list(range(n))

    def train_losses(self):
        return self._next("train_losses")

    def token_losses(self, dataset, indices, split="train", scope="training", model=None):
        key = "ref_tokens" if model is not None else "tokens"
        self.calls.append((key, dataset, split))
        return [torch.tensor(x, dtype=torch.float32) for x in self._next(key, dataset)]

    def example_losses(self, dataset, indices, split="train", scope="training", model=None):
        return torch.tensor(self._next("example_losses", dataset), dtype=torch.float64)

    def run_model(self, folder):
        self.calls.append(("run_model", folder))
        return "the reference model"

    def lookahead(self, dataset, indices, lr, scope="training", step="sgd"):
        self.calls.append(("lookahead", dataset, lr, step))
        pre, post = self._next("lookahead", dataset)
        return torch.tensor(pre, dtype=torch.float64), torch.tensor(post, dtype=torch.float64)

    def gradient_norms(self, dataset, indices, split="train", scope="training"):
        self.calls.append(("gradient_norms", dataset, scope))
        return torch.tensor([self.script["grad_norm"][dataset][i] for i in indices], dtype=torch.float64)

    def perplexities(self, dataset, indices, scope="sequence", split="train"):
        return torch.tensor([self.script["ppl_now"][dataset][i] for i in indices], dtype=torch.float64)

    def base_pool(self, dataset):
        return sorted(self.script["ppl_base"][dataset])

    def base_perplexities(self, dataset, indices, scope="sequence"):
        return torch.tensor([self.script["ppl_base"][dataset][i] for i in indices], dtype=torch.float64)

    def base_ifd(self, dataset, indices):
        return torch.tensor([self.script["ifd_base"][dataset][i] for i in indices], dtype=torch.float64)


def stats(**per):
    """train_losses() rows: name=(examples, loss_sum, tokens)."""
    return {n: {"examples": e, "loss_sum": s, "tokens": t} for n, (e, s, t) in per.items()}


# ---------------------------------------------------------------- ODM (Albalak et al. 2023, Alg. 1)
ODM_ALG1 = {"reward_transform": "loss", "importance_weight": "draw_share", "policy": "exponential",
            "warmup_steps": 0, "prior_tau": "inf"}  # the paper's Algorithm 1 as FIELD.md reads it


def test_odm_alg1_variant_is_exp3_with_the_papers_exploration_schedule():
    odm = registry.build("odm", ODM_ALG1)  # moving average, α = 0.9, scale 1, no floor
    assert odm.initial_weights({"a": 10, "b": 30}) == {"a": 0.5, "b": 0.5}
    probe = ScriptedProbe("ab", train_losses=[
        stats(a=(4, 8.0, 4), b=(0, 0.0, 0)),      # step 1: arm a pulled, mean loss 2
        stats(a=(0, 0.0, 0), b=(4, 3.0, 3)),      # step 2: arm b pulled, mean loss 1
        stats(a=(4, 10.0, 5), b=(0, 0.0, 0)),     # step 3: arm a, mean loss 2
    ])
    eps = lambda t: min(1 / 2, math.sqrt(math.log(2) / (2 * t)))  # noqa: E731
    # step 1: R_a = 0.9*0 + 0.1*2/0.5 = 0.4; eps_1 = min(.5, .589) = .5 so (1 - 2 eps_1) = 0: uniform
    u = odm.update(1, probe)
    assert u.weights == pytest.approx({"a": 0.5, "b": 0.5})
    assert u.reward == {"a": 2.0, "b": None} and u.smoothed_reward == pytest.approx({"a": 0.4, "b": 0.0})
    # step 2: R_b = 0.1*1/0.5 = 0.2; pi = (1 - 2 eps_2) softmax(eps_1 R) + eps_2 with eps_1 = 0.5
    u = odm.update(2, probe)
    s = softmax([0.5 * 0.4, 0.5 * 0.2])
    pi2 = [(1 - 2 * eps(2)) * s[0] + eps(2), (1 - 2 * eps(2)) * s[1] + eps(2)]
    assert list(u.weights.values()) == pytest.approx(pi2, rel=1e-12)
    # step 3: R_a = 0.9*0.4 + 0.1*2/pi2[a]; the exponent's scale is eps_2, the floor eps_3
    u = odm.update(3, probe)
    r_a = 0.9 * 0.4 + 0.1 * 2.0 / pi2[0]
    s = softmax([eps(2) * r_a, eps(2) * 0.2])
    assert list(u.weights.values()) == pytest.approx([(1 - 2 * eps(3)) * s[0] + eps(3),
                                                      (1 - 2 * eps(3)) * s[1] + eps(3)], rel=1e-12)
    assert u.weights["a"] > u.weights["b"]  # the higher-loss arm is sampled more


def test_odm_per_example_draws_cumulative_estimator_floor_and_warmup():
    odm = registry.build("odm", {**ODM_ALG1, "estimator": "cumulative", "reward_scale": 0.1, "min_epsilon": 0.2,
                                 "warmup_steps": 1, "prior_tau": 1.0})
    prior = odm.initial_weights({"a": 30, "b": 10})
    assert prior == pytest.approx({"a": 0.75, "b": 0.25})
    probe = ScriptedProbe("ab", train_losses=[stats(a=(3, 6.0, 3), b=(1, 1.0, 1)),
                                              stats(a=(3, 6.0, 3), b=(1, 1.0, 1))])
    assert odm.update(1, probe).weights == prior  # warm-up: held at the prior, nothing learned
    u = odm.update(2, probe)
    # both arms drawn in the batch: r_i = s * l_i * (n_i / n) / pi(i)
    r_a, r_b = 0.1 * 2.0 * (3 / 4) / 0.75, 0.1 * 1.0 * (1 / 4) / 0.25
    eps2 = max(0.2, min(0.5, math.sqrt(math.log(2) / 4)))  # the schedule, floored at 0.2
    s = softmax([0.5 * r_a, 0.5 * r_b])                    # eps_0 = 1/K still scales the exponent
    assert list(u.weights.values()) == pytest.approx([(1 - 2 * eps2) * s[0] + eps2, (1 - 2 * eps2) * s[1] + eps2])
    assert u.smoothed_reward == pytest.approx({"a": r_a, "b": r_b})


# ---------------------------------------------------------------- DoReMi (Xie et al. 2023, Alg. 1)
def doremi_step(alpha, lam, eta=1.0, c=1e-3):
    raw = [a * math.exp(eta * x) for a, x in zip(alpha, lam, strict=True)]
    return [(1 - c) * r / sum(raw) + c / len(raw) for r in raw]


def finished_reference(folder, held_out, sizes, drawn):
    """A reference run folder as the loop leaves one: run.json (validation_sizes, dataset_sizes) and
    trajectory.csv whose `drawn` column sums to `drawn` per dataset."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "run.json").write_text(json.dumps({"validation_sizes": held_out, "dataset_sizes": sizes}))
    with open(folder / "trajectory.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["step", "dataset", "weight", "reward", "smoothed_reward", "drawn"])
        for n in sizes:
            w.writerows([(0, n, 0.5, "", "", 0), (9, n, 0.5, "", "", drawn[n])])
    return folder


def test_doremi_exponentiated_gradient_on_clipped_excess_losses(tmp_path):
    doremi = registry.build("doremi", {"examples": 2, "validation_size": 3})
    ref = finished_reference(tmp_path / "ref", {"a": 3, "b": 3}, {"a": 10, "b": 4}, {"a": 25, "b": 2})
    doremi.bind_runs({"reference": str(ref)})
    assert doremi.initial_weights({"a": 5, "b": 7}) == {"a": 0.5, "b": 0.5}
    probe = ScriptedProbe("ab",
                          tokens=[{"a": [[2.0, 1.0], [0.5]], "b": [[1.0]]}, {"a": [[1.0]], "b": [[3.0, 3.0]]}],
                          ref_tokens=[{"a": [[1.0, 1.5], [0.2]], "b": [[2.0]]}, {"a": [[1.0]], "b": [[1.0, 2.5]]}])
    u = doremi.update(10, probe)
    lam1 = [(1.0 + 0.0 + 0.3) / 3, 0.0]  # per token max(cur - ref, 0), over the tokens
    a1 = doremi_step([0.5, 0.5], lam1)
    assert u.reward == pytest.approx(dict(zip("ab", lam1, strict=True)), rel=1e-6)  # float32 token losses
    assert list(u.weights.values()) == pytest.approx(a1, rel=1e-6)
    u = doremi.update(20, probe)
    lam2 = [0.0, (2.0 + 0.5) / 2]
    a2 = doremi_step(a1, lam2)
    assert list(u.weights.values()) == pytest.approx(a2, rel=1e-6)
    assert ("run_model", str(ref)) in probe.calls  # the reference is the bound run's model
    # λ on held-out examples, for the current and the reference model alike
    assert {c[2] for c in probe.calls if c[0] in ("tokens", "ref_tokens")} == {"validation"}
    report = doremi.report(20)  # ᾱ counts α_0 (the code's running average)
    assert report["average_weights"] == pytest.approx({"a": (0.5 + a1[0] + a2[0]) / 3,
                                                       "b": (0.5 + a1[1] + a2[1]) / 3}, rel=1e-6)
    assert report["reference_epochs"] == pytest.approx({"a": 2.5, "b": 0.5})  # drawn / training examples
    assert report["excess_loss_mean"] == pytest.approx({"a": lam1[0] / 2, "b": lam2[1] / 2}, rel=1e-6)
    assert report["excess_loss_last"] == pytest.approx({"a": 0.0, "b": lam2[1]}, rel=1e-6)


def test_doremi_stops_when_the_reference_trained_on_the_held_out_examples(tmp_path):
    doremi = registry.build("doremi", {"examples": 2, "validation_size": 3})
    ref = finished_reference(tmp_path / "ref", {}, {"a": 10, "b": 4}, {"a": 1, "b": 1})  # held out nothing
    doremi.bind_runs({"reference": str(ref)})
    doremi.initial_weights({"a": 5, "b": 7})
    with pytest.raises(ValueError, match="held out nothing.*validation_size: 3"):
        doremi.update(10, ScriptedProbe("ab"))
    on_train = registry.build("doremi", {"examples": 1, "split": "train", "validation_size": 0})
    on_train.bind_runs({"reference": str(ref)})
    on_train.initial_weights({"a": 5, "b": 7})
    probe = ScriptedProbe("ab", tokens=[{"a": [[1.0]], "b": [[1.0]]}], ref_tokens=[{"a": [[0.5]], "b": [[1.0]]}])
    on_train.update(10, probe)  # the earlier variant: training examples, any reference
    assert {c[2] for c in probe.calls if c[0] in ("tokens", "ref_tokens")} == {"train"}
    with pytest.raises(registry.StrategyError, match="validation_size >= 1"):
        registry.build("doremi", {"validation_size": 0})


def test_doremi_two_stage_uses_the_proxys_average_weights(tmp_path):
    proxy = tmp_path / "proxy"
    proxy.mkdir()
    rows = [("0", "a", "0.5", ""), ("0", "b", "0.5", ""), ("10", "a", "0.6", "0.1"), ("10", "b", "0.4", "0.0"),
            ("20", "a", "0.8", "0.2"), ("20", "b", "0.2", "0.0"), ("30", "a", "0.8", ""), ("30", "b", "0.2", "")]
    with open(proxy / "trajectory.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["step", "dataset", "weight", "reward", "smoothed_reward", "drawn"])
        w.writerows([(*r, "", "0") for r in rows])
    two = registry.build("doremi_two_stage", {"proxy": "doremi"})
    assert two.dependencies() == {"proxy": "doremi"} and not two.is_dynamic
    with pytest.raises(RuntimeError, match="bind_runs"):
        two.initial_weights({"a": 1, "b": 1})
    two.bind_runs({"proxy": str(proxy)})
    # ᾱ = mean over α_0 (the first step's rows) and the updates (rows with a reward): (0.5 + 0.6 + 0.8) / 3
    assert two.initial_weights({"a": 1, "b": 1}) == pytest.approx({"a": 1.9 / 3, "b": 1.1 / 3})  # with α_0 (.5, .5)
    without = registry.build("doremi_two_stage", {"proxy": "doremi", "average_includes_initial": False})
    without.bind_runs({"proxy": str(proxy)})
    assert without.initial_weights({"a": 1, "b": 1}) == pytest.approx({"a": 0.7, "b": 0.3})
    with pytest.raises(ValueError, match="this run trains on"):
        two.initial_weights({"a": 1, "c": 1})


# ---------------------------------------------------------------- DynamixSFT (Shin et al. 2026, Eqs. 2-5)
def dynamix_policy(q, prior, beta=4.0, gamma=0.3):
    z = [math.exp(beta * x) * p for x, p in zip(q, prior, strict=True)]
    return [(1 - gamma) * v / sum(z) + gamma / len(z) for v in z]


def test_dynamixsft_lookahead_reward_minmax_and_prior_anchored_policy():
    dyn = registry.build("dynamixsft", {"examples": 2})
    prior = [0.75, 0.25]
    w0 = dyn.initial_weights({"a": 300, "b": 100})
    assert list(w0.values()) == pytest.approx([0.7 * 0.75 + 0.15, 0.7 * 0.25 + 0.15])
    probe = ScriptedProbe("ab", lookahead=[{"a": ([2.0, 4.0], [1.0, 3.0]), "b": ([2.0], [1.9])},
                                           {"a": ([1.0], [0.99]), "b": ([1.0], [0.5])}])
    u = dyn.update(10, probe)
    eps = 1e-8
    r1 = [((2 - 1) / (2 + eps) + (4 - 3) / (4 + eps)) / 2, (2 - 1.9) / (2 + eps)]
    assert list(u.reward.values()) == pytest.approx(r1, rel=1e-12)
    q = [0.05 * 1.0, 0.0]  # min-max: a -> 1, b -> 0; Q = 0.95 Q + 0.05 r
    assert list(u.weights.values()) == pytest.approx(dynamix_policy(q, prior), rel=1e-12)
    u = dyn.update(20, probe)
    q = [0.95 * q[0] + 0.05 * 0.0, 0.95 * q[1] + 0.05 * 1.0]
    assert list(u.weights.values()) == pytest.approx(dynamix_policy(q, prior), rel=1e-12)
    assert [c[2] for c in probe.calls if c[0] == "lookahead"] == [0.5] * 4  # the run's learning rate


def test_dynamixsft_forward_only_variant_measures_drops_between_updates():
    dyn = registry.build("dynamixsft", {"reward": "probe_drop", "examples": 2, "beta": 5.0})
    assert dyn.first_update == 0  # a baseline measurement before training
    dyn.initial_weights({"a": 100, "b": 100})
    probe = ScriptedProbe("ab", example_losses=[{"a": [2.0, 2.0], "b": [1.0, 1.0]},
                                                {"a": [1.0, 1.5], "b": [0.9, 0.9]}])
    u0 = dyn.update(0, probe)
    assert u0.reward is None and list(u0.weights.values()) == pytest.approx([0.5, 0.5])
    u = dyn.update(10, probe)
    r = [(0.5 + 0.25) / 2, 0.1]
    assert list(u.reward.values()) == pytest.approx(r, rel=1e-6)
    assert list(u.weights.values()) == pytest.approx(dynamix_policy([0.05, 0.0], [0.5, 0.5], beta=5.0), rel=1e-12)


# ---------------------------------------------------------------- Aioli (Chen et al. 2025)
def test_aioli_rounds_bursts_and_exponentiated_gradient():
    aioli = registry.build("aioli", {"round_steps": 10, "lp_rounds": 1, "lp_steps": 2, "one_hot_factor": 1.0,
                                     "normalize_A": False, "eta": 1.0, "validation_examples": 2})
    assert aioli.first_update == 0
    assert aioli.initial_weights({"a": 5, "b": 5}) == {"a": 0.5, "b": 0.5}
    probe = ScriptedProbe("ab", tokens=[{"a": [[3.0]], "b": [[3.0]]}, {"a": [[2.5]], "b": [[2.9]]},
                                        {"a": [[2.4]], "b": [[2.5]]}])
    u = aioli.update(0, probe)       # LearnParams starts: the first burst (one-hot on a random group)
    assert u.next_update_in == 2 and sorted(u.weights.values()) == [0.0, 1.0]
    first = max(u.weights, key=u.weights.get)
    u = aioli.update(2, probe)
    assert u.reward == pytest.approx({"a": 0.5, "b": 0.1}) and u.next_update_in == 2
    second = max(u.weights, key=u.weights.get)
    assert {first, second} == {"a", "b"}
    u = aioli.update(4, probe)       # LearnParams done: A's column j = the loss drops of j's burst
    beta = {first: [0.5, 0.1], second: [0.1, 0.4]}  # (drop of a, drop of b)
    credit = {j: sum(beta[j]) for j in "ab"}          # Σ_i A_ij
    p = [0.5 * math.exp(credit["a"]), 0.5 * math.exp(credit["b"])]
    assert list(u.weights.values()) == pytest.approx([x / sum(p) for x in p], rel=1e-6)  # float32 losses
    assert u.next_update_in == 10 - 4  # the rest of the round trains on p
    assert all(c[2] == "validation" for c in probe.calls)
    assert aioli.report(10)["burst_steps"] == 4


def test_aioli_demixes_normalises_and_smooths_like_the_reference_code():
    aioli = registry.build("aioli", {"round_steps": 10, "lp_rounds": 1, "lp_steps": 1, "one_hot_factor": 0.75,
                                     "normalize_A": True, "ema": 0.1, "eta": 2.0, "validation_examples": 1})
    aioli.initial_weights({"a": 5, "b": 5})
    losses = [3.0, 2.0, 1.5, 1.4, 1.0, 0.7, 0.5, 0.45]  # a's then b's loss at six measurements
    tokens = [{"a": [[losses[k]]], "b": [[losses[k] + 1]]} for k in range(3)]
    tokens += [{"a": [[1.0]], "b": [[2.0]]}, {"a": [[0.8]], "b": [[1.9]]}, {"a": [[0.7]], "b": [[1.5]]}]
    probe = ScriptedProbe("ab", tokens=tokens)
    order = []
    for step in (0, 1):
        u = aioli.update(step, probe)
        order.append(max(u.weights, key=u.weights.get))
        assert sorted(u.weights.values()) == pytest.approx([0.25, 0.75])
    u = aioli.update(2, probe)
    inv = [[1.5, -0.5], [-0.5, 1.5]]  # M^{-1} for M = [[.75, .25], [.25, .75]]

    def a_matrix(drops):  # β[:, j] = drops of j's burst; A = β M^{-1}; shift to >= 0; sum to 1
        beta = [[drops[j][i] for j in "ab"] for i in (0, 1)]
        a = [[sum(beta[i][m] * inv[m][j] for m in (0, 1)) for j in (0, 1)] for i in (0, 1)]
        low = min(0.0, min(min(r) for r in a))
        a = [[x - low for x in r] for r in a]
        return [[x / sum(sum(r) for r in a) for x in r] for r in a]

    a1 = a_matrix({order[0]: [1.0, 1.0], order[1]: [0.5, 0.5]})
    col = [a1[0][j] + a1[1][j] for j in (0, 1)]
    p = [0.5 * math.exp(2.0 * c) for c in col]
    assert list(u.weights.values()) == pytest.approx([x / sum(p) for x in p], rel=1e-6)
    order2 = []
    for step in (10, 11):
        u = aioli.update(step, probe)
        order2.append(max(u.weights, key=u.weights.get))
    u = aioli.update(12, probe)
    a2 = a_matrix({order2[0]: [0.2, 0.1], order2[1]: [0.1, 0.4]})
    smooth = [[0.9 * a2[i][j] + 0.1 * a1[i][j] for j in (0, 1)] for i in (0, 1)]
    p = [0.5 * math.exp(2.0 * (smooth[0][j] + smooth[1][j])) for j in (0, 1)]  # from p⁽⁰⁾, not cumulative
    assert list(u.weights.values()) == pytest.approx([x / sum(p) for x in p], rel=1e-6)


# ---------------------------------------------------------------- HBO (ICLR 2026)
def test_hbo_global_gradnorm_reward_and_local_bucket_actors():
    hbo = registry.build("hbo", {"levels": 2, "grad_examples_per_level": 2, "ppl_examples_per_level": 2,
                                 "update_rule": "reinforce", "scorer_lr": 0.1, "update_every": 5,
                                 "bucket_score": "ppl"})
    sizes = {"a": 4, "b": 4}
    assert hbo.initial_weights(sizes) == pytest.approx({"a": 0.5, "b": 0.5})  # logits at 1, prior τ = 1, equal sizes
    ppl_base = {"a": {0: 5.0, 1: 1.0, 2: 3.0, 3: 2.0}, "b": {0: 1.0, 1: 2.0, 2: 3.0, 3: 4.0}}
    probe = ScriptedProbe("ab", ppl_base=ppl_base,
                          grad_norm={"a": {0: 4.0, 1: 2.0, 2: 2.0, 3: 4.0}, "b": {0: 1.0, 1: 1.0, 2: 2.0, 3: 0.0}},
                          ppl_now={"a": {0: 5.0, 1: 0.5, 2: 3.0, 3: 1.0}, "b": {0: 1.0, 1: 2.0, 2: 1.5, 3: 2.0}})
    u = hbo.update(5, probe)
    # buckets by θ0 perplexity: a -> [1, 3] (ppl 1, 2) and [2, 0] (3, 5); b -> [0, 1], [2, 3]
    r = [3.0, 1.0]  # mean gradient norms: a (2 + 4 + 2 + 4) / 4, b (1 + 1 + 2 + 0) / 4
    assert u.reward == pytest.approx({"a": 3.0, "b": 1.0})
    logits = [1 + 0.1 * (x - 0.5 * sum(r)) for x in r]  # one REINFORCE step from uniform
    assert list(u.weights.values()) == pytest.approx(softmax(logits), rel=1e-12)
    # local: PPL now / θ0 per bucket, relative to the buckets' mean
    ratio_a = [(0.5 / 1 + 1 / 2) / 2, (3 / 3 + 5 / 5) / 2]
    rel_a = [x / (sum(ratio_a) / 2) for x in ratio_a]
    pa = softmax([1 + 0.1 * (x - 0.5 * sum(rel_a)) for x in rel_a])
    w = u.example_weights["a"]
    assert [w[1], w[3], w[2], w[0]] == pytest.approx([pa[0] / 2, pa[0] / 2, pa[1] / 2, pa[1] / 2], rel=1e-12)
    ratio_b = [(1 + 1) / 2, (0.5 + 0.5) / 2]
    assert ratio_b[0] != ratio_b[1] and u.example_weights["b"][0] > u.example_weights["b"][3]
    assert hbo.report(5)["level_probabilities"]["a"] == pytest.approx(pa)


def test_hbo_needs_every_example_scored():
    hbo = registry.build("hbo", {"levels": 2})
    hbo.initial_weights({"a": 4})
    probe = ScriptedProbe("a", ppl_base={"a": {0: 1.0, 1: 2.0, 2: 3.0}}, ifd_base={"a": {0: 1.0, 1: 2.0, 2: 3.0}})
    with pytest.raises(ValueError, match="pool_size: null"):
        hbo.buckets(probe)


# ---------------------------------------------------------------- the probe's and the sampler's extensions
@pytest.fixture(scope="module")
def real_probe(tiny_model_dir, testbed_dir):
    tok = load_tokenizer(str(tiny_model_dir))
    data = {s: load_dataset_file(s, testbed_dir / "train" / f"{s}.jsonl", tok, "response", 128) for s in SKILLS}
    return Probe(load_model(str(tiny_model_dir)), data, tok.pad_token_id, seed=0, pack_length=128)


def test_lookahead_restores_parameters_exactly_and_matches_a_manual_sgd_step(real_probe):
    probe, model = real_probe, real_probe.model
    before = {k: v.clone() for k, v in model.state_dict().items()}
    idx = [0, 3, 5]
    pre, post = probe.lookahead("NLP", idx, lr=0.5)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # bit for bit
    assert all(p.grad is None for p in model.parameters())
    manual = copy.deepcopy(model)
    data = probe.datasets["NLP"]
    losses = []
    for i in idx:  # independent arithmetic: the logits of the whole sequence, then the masked targets
        ids = torch.tensor(data.ids[i])[None]
        logp = torch.log_softmax(manual(input_ids=ids).logits[0, :-1].float(), -1)
        nll = -logp.gather(-1, ids[0, 1:, None])[:, 0]
        losses.append(nll[torch.from_numpy(data.mask[i][1:])])
    mean = torch.cat(losses).sum() / sum(x.numel() for x in losses)
    grads = torch.autograd.grad(mean, list(manual.parameters()))
    with torch.no_grad():
        for p, g in zip(manual.parameters(), grads, strict=True):
            p -= 0.5 * g
    torch.testing.assert_close(pre, torch.stack([x.double().mean() for x in losses]).detach(), rtol=1e-5, atol=1e-6)
    post_manual = Probe(manual, probe.datasets, probe.pad_id, seed=0, pack_length=128).example_losses("NLP", idx)
    torch.testing.assert_close(post, post_manual, rtol=1e-5, atol=1e-6)
    assert (post < pre).all()  # one step downhill lowers each example's loss here


def test_gradient_norms_and_token_losses_match_independent_computations(real_probe):
    probe = real_probe
    stats = probe.token_stats("Medicine", [1, 2], "response", entropy=False)
    tok = probe.token_losses("Medicine", [1, 2], scope="response")
    torch.testing.assert_close(torch.stack([t.double().sum() for t in tok]), stats["nll"], rtol=1e-5, atol=1e-5)
    assert [t.numel() for t in tok] == stats["count"].tolist()
    norms = probe.gradient_norms("Medicine", [1, 2], scope="training")
    for k, i in enumerate([1, 2]):
        flat = probe.gradient("Medicine", [i])  # the existing flat gradient of the training loss
        assert float(norms[k]) == pytest.approx(float(flat.norm()), rel=1e-5)


def test_run_model_loads_another_runs_model_once(real_probe, tiny_model_dir, tmp_path):
    run = tmp_path / "ref"
    run.mkdir()
    (run / "model").symlink_to(tiny_model_dir)
    m1 = real_probe.run_model(run)
    assert m1 is real_probe.run_model(run) and not m1.training
    a = real_probe.example_losses("NLP", [0, 1])
    b = real_probe.example_losses("NLP", [0, 1], model=m1)  # the same weights here: the same losses
    torch.testing.assert_close(a, b)
    with pytest.raises(FileNotFoundError, match="finished run"):
        real_probe.run_model(tmp_path / "nothing")


def test_sampler_example_weights_keep_the_random_stream_and_follow_the_weights():
    sizes = {"a": 10, "b": 4}
    plain, weighted = MixtureSampler(sizes, seed=3), MixtureSampler(sizes, seed=3)
    w = np.zeros(10)
    w[[2, 7]] = [1.0, 3.0]
    weighted.set_example_weights("a", w)
    counts = np.zeros(10)
    for _ in range(200):
        wa, ia = plain.draw({"a": 0.5, "b": 0.5}, 16)
        wb, ib = weighted.draw({"a": 0.5, "b": 0.5}, 16)
        assert (wa == wb).all()                              # the same datasets drawn
        assert (ia[wa == 1] == ib[wb == 1]).all()            # unweighted b: the same examples
        np.add.at(counts, ib[wb == 0], 1)
    assert torch.equal(plain.generator.get_state(), weighted.generator.get_state())  # the same stream
    assert set(np.flatnonzero(counts)) == {2, 7}
    assert counts[7] / counts.sum() == pytest.approx(0.75, abs=0.05)
    state = weighted.state_dict()
    again = MixtureSampler(sizes, seed=0)
    again.load_state_dict(state)
    assert again.draw({"a": 1.0, "b": 0.0}, 8)[1].tolist() == weighted.draw({"a": 1.0, "b": 0.0}, 8)[1].tolist()
    with pytest.raises(ValueError, match="expected 4 values"):
        weighted.set_example_weights("b", [1.0])


# ---------------------------------------------------------------- in the loop
@pytest.fixture(scope="module")
def full_base_ppl(tiny_model_dir, testbed_dir, tmp_path_factory):
    """θ0 perplexities of every training example (HBO's buckets need them all)."""
    spec = {"model": str(tiny_model_dir), "max_length": 128, "pool_size": None, "seed": 0,
            "datasets": {s: str(testbed_dir / "train" / f"{s}.jsonl") for s in SKILLS}}
    out = tmp_path_factory.mktemp("field_ppl") / "base.csv"
    base_ppl_main(["--spec", json.dumps(spec), "--out", str(out)])
    return out


@pytest.fixture(scope="module")
def uniform_run(tiny_model_dir, testbed_dir, tmp_path_factory):
    """A finished UNI. run that held out 2 examples per dataset: DoReMi's reference."""
    out = tmp_path_factory.mktemp("uniform") / "run"
    spec = train_spec(tiny_model_dir, testbed_dir, steps=12, checkpoint_every=0)
    spec["mixture"] = {"name": "uniform_heldout", "strategy": "temperature_heldout", "params": {"validation_size": 2}}
    train(spec, out)
    return out


FIELD = {
    "odm": {"strategy": "odm", "params": {"update_every": 3, "warmup_steps": 3}},  # loss sums pending at step 7
    "dynamixsft": {"strategy": "dynamixsft", "params": {"update_every": 3, "examples": 2}},
    "dynamixsft_fwd": {"strategy": "dynamixsft", "params": {"update_every": 3, "examples": 2,
                                                            "reward": "probe_drop"}},
    "aioli": {"strategy": "aioli", "params": {"round_steps": 8, "lp_rounds": 1, "lp_steps": 1,
                                              "validation_size": 2, "validation_examples": 2}},
    "hbo": {"strategy": "hbo", "params": {"update_every": 4, "levels": 2, "grad_examples_per_level": 1,
                                          "ppl_examples_per_level": 2, "scorer_lr": 1e-2}},
    "doremi": {"strategy": "doremi", "params": {"update_every": 3, "examples": 2, "validation_size": 2}},
}


def field_spec(label, tiny_model_dir, testbed_dir, base_ppl, uniform_run, **train_overrides):
    spec = train_spec(tiny_model_dir, testbed_dir, **train_overrides)
    spec["mixture"] = {"name": label, **FIELD[label]}
    spec["base_ppl"] = str(base_ppl)
    spec["runs"] = {"reference": str(uniform_run)}
    return spec


def read_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("label", sorted(FIELD))
def test_field_strategy_resumes_mid_run_to_the_same_trajectory_and_model(label, tiny_model_dir, testbed_dir,
                                                                         full_base_ppl, uniform_run, tmp_path,
                                                                         monkeypatch):
    """Kill-and-resume: a run that dies after its step-7 checkpoint, mid-schedule (between updates,
    inside an Aioli round, with ODM's loss sums half collected), restarts from the checkpoint in a
    fresh Run and ends exactly where an uninterrupted run ends."""
    spec = field_spec(label, tiny_model_dir, testbed_dir, full_base_ppl, uniform_run, steps=14,
                      checkpoint_every=7, log_every=1)
    ref = train(spec, tmp_path / "ref")

    def crash(self):
        if self.step == 9:
            raise KeyboardInterrupt("killed")
        return real_step(self)

    real_step = Run.train_step
    monkeypatch.setattr(Run, "train_step", crash)
    with pytest.raises(KeyboardInterrupt):
        train(spec, tmp_path / "res")
    assert (tmp_path / "res" / "checkpoint").exists() and not (tmp_path / "res" / "run.json").exists()
    monkeypatch.setattr(Run, "train_step", real_step)
    res = train(spec, tmp_path / "res")
    assert res["timing"]["resumed"]
    a, b = load_file(tmp_path / "ref/model/model.safetensors"), load_file(tmp_path / "res/model/model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert read_rows(tmp_path / "ref/trajectory.csv") == read_rows(tmp_path / "res/trajectory.csv")
    assert res["final_weights"] == ref["final_weights"] and res["strategy_report"] == ref["strategy_report"]
    rows = read_rows(tmp_path / "ref/trajectory.csv")
    assert sum(int(r["drawn"]) for r in rows) == 14 * 8
    assert len({int(r["step"]) for r in rows if r["reward"] != ""}) >= 2  # the strategy did update


def test_odm_sees_the_losses_the_batches_trained_on(tiny_model_dir, testbed_dir, full_base_ppl, uniform_run,
                                                   tmp_path):
    spec = field_spec("odm", tiny_model_dir, testbed_dir, full_base_ppl, uniform_run, steps=3, checkpoint_every=0)
    run = Run(spec, tmp_path / "run")
    data = list(run.datasets.values())
    replay = MixtureSampler(run.sizes, run.seed)
    replay.load_state_dict(run.sampler.state_dict())
    which, index = replay.draw(run.weights, 8)          # the examples the step will draw
    total = run.train_step()                              # the step's loss: Σ token losses / targets
    got = run._take_train_losses()
    for k, name in enumerate(run.sizes):
        mine = [i for d, i in zip(which, index, strict=True) if d == k]
        assert got[name]["examples"] == len(mine)
        assert got[name]["tokens"] == sum(int(data[k].mask[i].sum()) for i in mine)
    assert sum(g["loss_sum"] for g in got.values()) / sum(g["tokens"] for g in got.values()) == \
        pytest.approx(total, rel=1e-6)
    assert all(v == 0 for v in run._take_train_losses()["NLP"].values())  # reset after an update


def test_recording_train_losses_changes_neither_the_draws_nor_the_gradient(tiny_model_dir, testbed_dir, tmp_path):
    """ODM held at its prior (warm-up longer than the run) trains exactly as uniform sampling: the same
    draws and bit-identical weights. (Its summed loss is the sum of the per-token terms rather than
    cross_entropy's own sum, so the logged loss may differ in the last bits, not the gradient.)"""
    spec = train_spec(tiny_model_dir, testbed_dir, steps=6, checkpoint_every=0)
    uni = train(spec, tmp_path / "uni")
    spec["mixture"] = {"name": "odm", "strategy": "odm", "params": {"warmup_steps": 100, "prior_tau": "inf"}}
    odm = train(spec, tmp_path / "odm")
    a, b = load_file(tmp_path / "uni/model/model.safetensors"), load_file(tmp_path / "odm/model/model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert odm["tokens"] == uni["tokens"] and odm["final_loss"] == pytest.approx(uni["final_loss"], rel=1e-6)


def test_budgets_count_aiolis_bursts_inside_and_doremis_reference_outside(tiny_model_dir, testbed_dir,
                                                                          full_base_ppl, uniform_run, tmp_path):
    aioli = train(field_spec("aioli", tiny_model_dir, testbed_dir, full_base_ppl, uniform_run, steps=20,
                             checkpoint_every=0), tmp_path / "aioli")
    rows = read_rows(tmp_path / "aioli" / "trajectory.csv")
    # rounds of 8 steps: 4 one-step bursts (steps 0-4), then 4 steps on p; 20 steps = 2.5 rounds
    assert sorted({int(r["step"]) for r in rows}) == [0, 1, 2, 3, 4, 8, 9, 10, 11, 12, 16, 17, 18, 19, 20]
    assert aioli["strategy_report"]["burst_steps"] == 4 + 4 + 4
    assert aioli["budget"] == {"training_steps": 20, "training_examples": 160, "extra_training_examples": 0,
                               "dependency_runs": {}}
    assert sum(int(r["drawn"]) for r in rows) == 160   # the bursts are steps of the budget, not extra
    doremi = train(field_spec("doremi", tiny_model_dir, testbed_dir, full_base_ppl, uniform_run, steps=6,
                              checkpoint_every=0), tmp_path / "doremi")
    ref = json.loads((uniform_run / "run.json").read_text())
    assert doremi["budget"]["extra_training_examples"] == ref["budget"]["training_examples"] == 12 * 8
    assert doremi["budget"]["dependency_runs"]["reference"]["run"] == str(uniform_run)
    spec = field_spec("doremi", tiny_model_dir, testbed_dir, full_base_ppl, uniform_run, steps=6, checkpoint_every=0)
    spec["mixture"] = {"name": "doremi_two_stage", "strategy": "doremi_two_stage", "params": {"proxy": "doremi"}}
    spec["runs"] = {"proxy": str(tmp_path / "doremi")}
    two = train(spec, tmp_path / "two")
    assert two["budget"]["extra_training_examples"] == 6 * 8 + 12 * 8   # the proxy and, through it, UNI.
    assert two["final_weights"] == pytest.approx(doremi["strategy_report"]["average_weights"])
    del spec["runs"]
    with pytest.raises(ValueError, match="reads the finished runs proxy"):
        train(spec, tmp_path / "none")


def test_hbo_in_the_loop_weights_the_examples_by_bucket(tiny_model_dir, testbed_dir, full_base_ppl, uniform_run,
                                                        tmp_path):
    spec = field_spec("hbo", tiny_model_dir, testbed_dir, full_base_ppl, uniform_run, steps=5, checkpoint_every=0)
    run = Run(spec, tmp_path / "run")
    info = run.run()
    assert set(run.sampler.example_weights) == set(SKILLS)
    pool = len(full_base_ppl.read_text().splitlines()) - 1  # θ0 scored every example, twice (IFD): its budget
    assert info["budget"]["theta0_prepass"] == {"examples": pool, "forward_passes": 2 * pool}
    buckets = run.strategy.buckets(run.probe)
    for name, w in run.sampler.example_weights.items():
        p = run.strategy.level_probabilities()[name]
        for b, members in enumerate(buckets[name]):
            assert w[members] == pytest.approx(p[b] / len(members))
        assert w.sum() == pytest.approx(1.0)
