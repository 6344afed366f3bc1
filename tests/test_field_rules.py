"""Every rule parameter of the field's methods away from its default, against arithmetic done here by
hand (issue 19): ODM's smoothing, reward transform, importance weights, policy form, ε schedule, fixed
ε, floor and warm-up; DoReMi's η and c and ᾱ; DynamixSFT's γ, α, β, min-max with K = 3 and unequal
rewards, the look-ahead's learning rate and step (the Adam look-ahead against torch's own AdamW step);
HBO under both update rules, its IFD buckets, gradient scope and local updates; Aioli's η, EMA,
cumulative update, sweeps, burst counts and report. A wrong or hard-coded constant fails one of them
(the mutation table of issue 19's closing note lists one per method).

    .venv/bin/python -m pytest tests/test_field_rules.py
"""

from __future__ import annotations

import copy
import math

import pytest
import torch

from mos.data.tokenized import load_dataset_file
from mos.data.tokenizer import load_tokenizer
from mos.mixing import registry
from mos.mixing.probe import Probe
from mos.models.backbones import load_model
from tests.test_field_strategies import ScriptedProbe, finished_reference, softmax, stats


def normalised(xs):
    return [x / sum(xs) for x in xs]


# ---------------------------------------------------------------- ODM
def eps_schedule(t, k=3):
    return min(1 / k, math.sqrt(math.log(k) / (k * t)))


def odm_probe():
    """Step 101 draws a (2 examples, mean loss 2) and b (1, loss 1); step 102 draws a (loss 2) and c (loss 3)."""
    return ScriptedProbe("abc", train_losses=[stats(a=(2, 4.0, 2), b=(1, 1.0, 1), c=(0, 0.0, 0)),
                                              stats(a=(1, 6.0, 3), b=(0, 0.0, 0), c=(2, 12.0, 4))])


def test_odm_default_is_the_released_smoothed_mean_rule_k3():
    odm = registry.build("odm", {})
    odm.initial_weights({"a": 10, "b": 10, "c": 10})
    probe = odm_probe()
    u = odm.update(101, probe)
    r = [0.1 * math.e ** 2, 0.1 * math.e, 0.0]  # R̂ = 0.9·0 + 0.1·exp(ℓ), arm c not drawn
    e = eps_schedule(101)
    pi1 = [(1 - 3 * e) * x / sum(r) + e for x in r]
    assert list(u.weights.values()) == pytest.approx(pi1, rel=1e-12)
    assert pi1 == pytest.approx([0.659212, 0.280573, 0.060214], abs=1e-6)  # field-fidelity.md §1.6
    assert list(u.smoothed_reward.values()) == pytest.approx(r, rel=1e-12)
    u = odm.update(102, probe)
    r = [0.9 * r[0] + 0.1 * math.e ** 2, r[1], 0.1 * math.e ** 3]  # b keeps its estimate, no 1/π anywhere
    e = eps_schedule(102)
    pi2 = [(1 - 3 * e) * x / sum(r) + e for x in r]
    assert list(u.weights.values()) == pytest.approx(pi2, rel=1e-12)
    assert pi2 == pytest.approx([0.372476, 0.120436, 0.507087], abs=1e-6)


def test_odm_smoothing_away_from_its_default():
    odm = registry.build("odm", {"alpha": 0.5})
    odm.initial_weights({"a": 10, "b": 10, "c": 10})
    probe = odm_probe()
    odm.update(101, probe)
    u = odm.update(102, probe)
    r = [0.5 * (0.5 * math.e ** 2) + 0.5 * math.e ** 2, 0.5 * math.e, 0.5 * math.e ** 3]
    e = eps_schedule(102)
    assert list(u.weights.values()) == pytest.approx([(1 - 3 * e) * x / sum(r) + e for x in r], rel=1e-12)
    assert list(u.weights.values()) == pytest.approx([0.328197, 0.125715, 0.546089], abs=1e-6)


def test_odm_exp3_class_variant_k3():
    odm = registry.build("odm", {"estimator": "cumulative", "reward_transform": "loss", "reward_scale": 0.1,
                                 "importance_weight": "pulled_arm", "policy": "exponential", "warmup_steps": 0,
                                 "prior_tau": "inf"})
    odm.initial_weights({"a": 10, "b": 20, "c": 30})
    probe = odm_probe()
    u = odm.update(101, probe)
    r = [0.1 * 2.0 / (1 / 3), 0.1 * 1.0 / (1 / 3), 0.0]  # loss/10 over π for every pulled arm, whatever its count
    e1 = eps_schedule(101)
    s = softmax([x / 3 for x in r])  # the exponent's scale is ε_0 = 1/K
    pi1 = [(1 - 3 * e1) * x + e1 for x in s]
    assert list(u.weights.values()) == pytest.approx(pi1, rel=1e-12)
    assert pi1 == pytest.approx([0.361054, 0.332425, 0.306521], abs=1e-6)
    u = odm.update(102, probe)
    r = [r[0] + 0.1 * 2.0 / pi1[0], r[1], 0.1 * 3.0 / pi1[2]]
    e2 = eps_schedule(102)
    s = softmax([e1 * x for x in r])
    assert list(u.weights.values()) == pytest.approx([(1 - 3 * e2) * x + e2 for x in s], rel=1e-12)
    assert list(u.weights.values()) == pytest.approx([0.338972, 0.324986, 0.336043], abs=1e-6)


def test_odm_draw_share_importance_weight_and_loss_reward_k3():
    odm = registry.build("odm", {"reward_transform": "loss", "importance_weight": "draw_share", "alpha": 0.8,
                                 "prior_tau": 1.0, "warmup_steps": 0})
    prior = odm.initial_weights({"a": 50, "b": 30, "c": 20})
    u = odm.update(101, odm_probe())
    # r̂ = ℓ (n_i / n) / π(i): a drew 2 of 3 under π = 0.5, b 1 of 3 under 0.3; moving average 0.8
    r = [0.2 * 2.0 * (2 / 3) / prior["a"], 0.2 * 1.0 * (1 / 3) / prior["b"], 0.0]
    e = eps_schedule(101)
    assert list(u.smoothed_reward.values()) == pytest.approx(r, rel=1e-12)
    assert list(u.weights.values()) == pytest.approx([(1 - 3 * e) * x / sum(r) + e for x in r], rel=1e-12)


def test_odm_warmup_holds_the_size_prior_then_the_schedule_uses_the_global_step():
    odm = registry.build("odm", {"warmup_steps": 5})
    prior = odm.initial_weights({"a": 60, "b": 30, "c": 10})
    assert prior == pytest.approx({"a": 0.6, "b": 0.3, "c": 0.1})  # τ = 1: the code's natural mixture
    probe = ScriptedProbe("abc", train_losses=[stats(a=(1, 9.0, 1), b=(1, 9.0, 1), c=(1, 9.0, 1))] * 5
                          + [stats(a=(1, 1.0, 1), b=(1, 2.0, 1), c=(0, 0.0, 0))])
    for step in range(1, 6):
        assert odm.update(step, probe).weights == prior  # held; the warm-up's losses are not learned
    u = odm.update(6, probe)
    r = [0.1 * math.e, 0.1 * math.e ** 2, 0.0]
    e = eps_schedule(6)  # t = 6, the global step (warm-up included): sqrt(ln 3 / 18) < 1/3
    assert e < 1 / 3
    assert list(u.weights.values()) == pytest.approx([(1 - 3 * e) * x / sum(r) + e for x in r], rel=1e-12)


@pytest.mark.parametrize("params, eps", [({"fixed_epsilon": 0.1}, 0.1), ({"min_epsilon": 0.2}, 0.2)])
def test_odm_fixed_and_floored_exploration_k3(params, eps):
    odm = registry.build("odm", params)
    odm.initial_weights({"a": 10, "b": 10, "c": 10})
    u = odm.update(101, odm_probe())
    r = [0.1 * math.e ** 2, 0.1 * math.e, 0.0]
    assert list(u.weights.values()) == pytest.approx([(1 - 3 * eps) * x / sum(r) + eps for x in r], rel=1e-12)
    assert u.weights["c"] == pytest.approx(eps)  # an arm never drawn keeps exactly the floor


# ---------------------------------------------------------------- DoReMi
def test_doremi_eta_and_smoothing_away_from_their_defaults_k3(tmp_path):
    doremi = registry.build("doremi", {"eta": 0.5, "smoothing": 0.1, "examples": 1, "validation_size": 1})
    sizes = {"a": 5, "b": 6, "c": 7}
    doremi.bind_runs({"reference": str(finished_reference(tmp_path / "ref", dict.fromkeys(sizes, 1), sizes,
                                                          dict.fromkeys(sizes, 5)))})
    doremi.initial_weights(sizes)
    # one token each: λ = max(cur - ref, 0): (0.2, 0 (clipped), 0.6), then (0 (clipped), 0.3, 0.1)
    probe = ScriptedProbe("abc", tokens=[{"a": [[0.7]], "b": [[0.5]], "c": [[1.6]]},
                                         {"a": [[1.0]], "b": [[1.3]], "c": [[1.1]]}],
                          ref_tokens=[{"a": [[0.5]], "b": [[1.0]], "c": [[1.0]]},
                                      {"a": [[2.0]], "b": [[1.0]], "c": [[1.0]]}])

    def step(alpha, lam, eta=0.5, c=0.1):
        raw = normalised([a * math.exp(eta * x) for a, x in zip(alpha, lam, strict=True)])
        return [(1 - c) * x + c / 3 for x in raw]

    a1 = step([1 / 3] * 3, [0.2, 0.0, 0.6])
    assert a1 == pytest.approx([0.321219, 0.293823, 0.384958], abs=1e-6)  # field-fidelity.md §2.4
    assert list(doremi.update(10, probe).weights.values()) == pytest.approx(a1, rel=1e-6)  # float32 losses
    a2 = step(a1, [0.0, 0.3, 0.1])
    assert list(doremi.update(20, probe).weights.values()) == pytest.approx(a2, rel=1e-6)
    mean = [(1 / 3 + x + y) / 3 for x, y in zip(a1, a2, strict=True)]  # ᾱ with α_0, as the code
    assert list(doremi.report(20)["average_weights"].values()) == pytest.approx(mean, rel=1e-6)
    assert mean == pytest.approx([0.319586, 0.316119, 0.364296], abs=1e-6)


def test_doremi_average_without_the_initial_weights():
    doremi = registry.build("doremi", {"examples": 1, "split": "train", "validation_size": 0,
                                       "average_includes_initial": False, "eta": 2.0})
    doremi.bind_runs({"reference": "/unused"})
    doremi.initial_weights({"a": 1, "b": 1, "c": 1})
    probe = ScriptedProbe("abc", tokens=[{"a": [[1.0]], "b": [[0.0]], "c": [[0.0]]}],
                          ref_tokens=[{"a": [[0.0]], "b": [[0.0]], "c": [[0.0]]}])
    a1 = doremi.update(10, probe).weights
    e = math.exp(2.0)
    want = [0.999 * x + 0.001 / 3 for x in normalised([e, 1.0, 1.0])]
    assert list(a1.values()) == pytest.approx(want, rel=1e-9)
    assert doremi.report(10)["average_weights"] == pytest.approx(a1)  # T = 1: ᾱ = α_1


# ---------------------------------------------------------------- DynamixSFT
def dynamix_probe(*rewards):
    """Look-ahead losses that give these relative drops: pre 1, post 1 - r (one example)."""
    return ScriptedProbe("abc", lookahead=[{n: ([1.0], [1.0 - x]) for n, x in zip("abc", r, strict=True)}
                                           for r in rewards])


def dynamix_p(q, prior, beta, gamma):
    z = [math.exp(beta * x) * p for x, p in zip(q, prior, strict=True)]
    return [(1 - gamma) * v / sum(z) + gamma / len(z) for v in z]


def test_dynamixsft_gamma_alpha_beta_and_minmax_with_three_unequal_rewards():
    dyn = registry.build("dynamixsft", {"alpha": 0.9, "beta": 2.0, "gamma": 0.1, "examples": 1})
    prior = [0.5, 0.3, 0.2]
    assert list(dyn.initial_weights({"a": 50, "b": 30, "c": 20}).values()) == pytest.approx(
        [0.9 * p + 0.1 / 3 for p in prior])
    probe = dynamix_probe((0.02, 0.005, 0.011), (0.001, 0.03, 0.002))
    u = dyn.update(10, probe)
    scaled = [1.0, 0.0, 0.4]  # min-max: (0.02 - 0.005) / 0.015 = 1, 0, (0.011 - 0.005) / 0.015 = 0.4
    q = [0.1 * x for x in scaled]
    assert list(u.smoothed_reward.values()) == pytest.approx(q, rel=1e-6)
    assert list(u.weights.values()) == pytest.approx(dynamix_p(q, prior, 2.0, 0.1), rel=1e-6)
    assert list(u.weights.values()) == pytest.approx([0.520872, 0.272831, 0.206297], abs=1e-6)
    u = dyn.update(20, probe)
    scaled = [0.0, 1.0, (0.002 - 0.001) / (0.03 - 0.001)]
    q = [0.9 * a + 0.1 * b for a, b in zip(q, scaled, strict=True)]
    assert list(u.weights.values()) == pytest.approx(dynamix_p(q, prior, 2.0, 0.1), rel=1e-6)


def test_dynamixsft_lookahead_step_and_learning_rate_reach_the_probe():
    default = registry.build("dynamixsft", {"examples": 1})
    default.initial_weights({"a": 1, "b": 1, "c": 1})
    probe = dynamix_probe((0.1, 0.2, 0.3))
    default.update(10, probe)
    assert {c[2:] for c in probe.calls} == {(0.5, "adam")}  # the run's lr, the run's AdamW step
    sgd = registry.build("dynamixsft", {"examples": 1, "lookahead_step": "sgd", "lookahead_lr": 0.25})
    sgd.initial_weights({"a": 1, "b": 1, "c": 1})
    probe = dynamix_probe((0.1, 0.2, 0.3))
    sgd.update(10, probe)
    assert {c[2:] for c in probe.calls} == {(0.25, "sgd")}


@pytest.fixture(scope="module")
def nlp(tiny_model_dir, testbed_dir):
    tok = load_tokenizer(str(tiny_model_dir))
    return {"NLP": load_dataset_file("NLP", testbed_dir / "train" / "NLP.jsonl", tok, "response", 128)}, tok.pad_token_id


def adamw(model):
    """The loop's optimizer (mos.training.settings.make_optimizer): matrices decay, vectors do not."""
    params = [p for p in model.parameters() if p.requires_grad]
    return torch.optim.AdamW([{"params": [p for p in params if p.ndim >= 2], "weight_decay": 0.1},
                              {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}],
                             lr=1e-3, betas=(0.9, 0.95), foreach=True)


def test_adam_lookahead_is_the_runs_adamw_step_and_leaves_the_optimizer_alone(tiny_model_dir, nlp):
    data, pad = nlp
    model = load_model(str(tiny_model_dir))
    opt = adamw(model)
    probe = Probe(model, data, pad, seed=0, pack_length=128, optimizer=opt)
    for idx in ([1, 2], [3, 4]):  # two real steps: non-zero moments, step counter 2
        for p, g in zip(probe.parameters(), probe.gradients("NLP", idx), strict=True):
            p.grad = g
        opt.step()
        opt.zero_grad(set_to_none=True)
    state = copy.deepcopy(opt.state_dict())
    params = {k: v.clone() for k, v in model.state_dict().items()}
    idx = [0, 3, 5]
    pre, post = probe.lookahead("NLP", idx, lr=2e-3, step="adam")
    assert all(torch.equal(params[k], v) for k, v in model.state_dict().items())  # restored bit for bit
    after = opt.state_dict()
    assert after["param_groups"] == state["param_groups"]
    assert all(torch.equal(state["state"][k][f], after["state"][k][f]) for k in state["state"] for f in state["state"][k])
    # the same step by torch's AdamW on a copy: its moments, lr 2e-3, the mini-batch's mean-loss gradient
    twin = copy.deepcopy(model)
    twin_opt = adamw(twin)
    twin_opt.load_state_dict(copy.deepcopy(state))
    for group in twin_opt.param_groups:
        group["lr"] = 2e-3
    twin_probe = Probe(twin, data, pad, seed=0, pack_length=128)
    for p, g in zip(twin_probe.parameters(), twin_probe.gradients("NLP", idx), strict=True):
        p.grad = g
    twin_opt.step()
    torch.testing.assert_close(post, twin_probe.example_losses("NLP", idx), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(pre, probe.example_losses("NLP", idx), rtol=0, atol=0)
    sgd_pre, sgd_post = probe.lookahead("NLP", idx, lr=2e-3, step="sgd")
    assert torch.equal(sgd_pre, pre) and not torch.allclose(sgd_post, post)  # a different step
    with pytest.raises(RuntimeError, match="reads the run's optimizer"):
        Probe(model, data, pad, seed=0, pack_length=128).lookahead("NLP", idx, lr=1e-3, step="adam")


# ---------------------------------------------------------------- HBO
def hand_adam(w, rewards, steps, lr, t0=0, moments=None, b1=0.9, b2=0.999, eps=1e-8):
    """`steps` Adam steps on -Σ R log softmax(w) at step counter t0, from `moments` (a dict kept across
    calls, as the optimizer keeps its state across updates; None: zero)."""
    moments = {} if moments is None else moments
    m, v = moments.get("m", [0.0] * len(w)), moments.get("v", [0.0] * len(w))
    for t in range(t0 + 1, t0 + steps + 1):
        p = softmax(w)
        g = [-r + pi * sum(rewards) for r, pi in zip(rewards, p, strict=True)]
        m = [b1 * a + (1 - b1) * x for a, x in zip(m, g, strict=True)]
        v = [b2 * a + (1 - b2) * x * x for a, x in zip(v, g, strict=True)]
        w = [x - lr * (a / (1 - b1 ** t)) / (math.sqrt(b / (1 - b2 ** t)) + eps)
             for x, a, b in zip(w, m, v, strict=True)]
    moments.update(m=m, v=v)
    return w


def hand_reinforce(w, rewards, lr):
    p = softmax(w)
    return [x + lr * (r - pi * sum(rewards)) for x, r, pi in zip(w, rewards, p, strict=True)]


HBO_SCRIPT = {
    # IFD orders the examples differently from θ0's perplexity: a's IFD buckets are [3, 1], [2, 0]
    # (perplexity buckets would be [0, 2], [3, 1]); b's [1, 2], [0, 3]
    "ifd_base": {"a": {0: 0.9, 1: 0.2, 2: 0.5, 3: 0.1}, "b": {0: 0.3, 1: 0.1, 2: 0.2, 3: 0.4}},
    "ppl_base": {"a": {0: 1.0, 1: 5.0, 2: 2.0, 3: 4.0}, "b": {0: 1.0, 1: 2.0, 2: 4.0, 3: 8.0}},
    "ppl_now": {"a": {0: 1.0, 1: 2.5, 2: 3.0, 3: 4.0}, "b": {0: 2.0, 1: 2.0, 2: 4.0, 3: 4.0}},
    "grad_norm": {"a": {0: 1.0, 1: 2.0, 2: 3.0, 3: 5.0}, "b": {0: 1.0, 1: 1.0, 2: 2.0, 3: 0.5}},
}


@pytest.mark.parametrize("rule", ["adam", "reinforce"])
def test_hbo_global_and_local_actors_under_both_update_rules_with_ifd_buckets(rule):
    hbo = registry.build("hbo", {"levels": 2, "grad_examples_per_level": 1, "ppl_examples_per_level": 2,
                                 "update_rule": rule, "scorer_lr": 0.1, "inner_steps": 3, "local_updates": 2})
    sizes = {"a": 4, "b": 4}
    assert hbo.initial_weights(sizes) == pytest.approx({"a": 0.5, "b": 0.5})
    probe = ScriptedProbe("ab", **HBO_SCRIPT)
    u = hbo.update(50, probe)
    assert hbo.buckets(probe) == {"a": [[3, 1], [2, 0]], "b": [[1, 2], [0, 3]]}
    # global: the first example of every bucket (the probe's draw): a (5 + 3) / 2, b (1 + 1) / 2
    r = [4.0, 1.0]
    assert u.reward == pytest.approx({"a": 4.0, "b": 1.0})
    assert {c[2] for c in probe.calls if c[0] == "gradient_norms"} == {"sequence"}  # the code's whole sequence
    # the global actor's prior fit (τ = 1, equal sizes) took one zero-gradient Adam step: t starts at 1
    w = hand_adam([1.0, 1.0], r, 3, 0.1, t0=1) if rule == "adam" else hand_reinforce([1.0, 1.0], r, 0.1)
    assert list(u.weights.values()) == pytest.approx(softmax(w), rel=1e-9)
    # local (a): PPL now / θ0 per bucket, relative to the buckets' mean; two updates (local_updates)
    ratio = [(4 / 4 + 2.5 / 5) / 2, (3 / 2 + 1 / 1) / 2]
    rel = [x / (sum(ratio) / 2) for x in ratio]
    if rule == "adam":
        state = {}  # the local actor's Adam state carries over from its first update to its second
        w = hand_adam(hand_adam([1.0, 1.0], rel, 3, 0.1, moments=state), rel, 3, 0.1, t0=3, moments=state)
    else:
        w = hand_reinforce(hand_reinforce([1.0, 1.0], rel, 0.1), rel, 0.1)
    pa = softmax(w)
    assert hbo.level_probabilities()["a"] == pytest.approx(pa, rel=1e-9)
    assert list(u.example_weights["a"]) == pytest.approx([pa[1] / 2, pa[0] / 2, pa[1] / 2, pa[0] / 2], rel=1e-9)


@pytest.mark.parametrize("scope", ["training", "response"])
def test_hbo_gradient_norms_take_the_configured_scope(scope):
    """grad_scope away from the code's whole sequence reaches every gradient-norm call of the global reward."""
    hbo = registry.build("hbo", {"levels": 2, "grad_examples_per_level": 1, "ppl_examples_per_level": 2,
                                 "grad_scope": scope})
    hbo.initial_weights({"a": 4, "b": 4})
    probe = ScriptedProbe("ab", **HBO_SCRIPT)
    hbo.update(50, probe)
    scopes = [c[2] for c in probe.calls if c[0] == "gradient_norms"]
    assert len(scopes) == 4 and set(scopes) == {scope}  # one call per bucket of each dataset


def test_hbo_starts_at_the_size_prior_and_its_ppl_variant_buckets_by_perplexity():
    hbo = registry.build("hbo", {"levels": 2, "prior_tol": 1e-12})
    w = hbo.initial_weights({"a": 30, "b": 10})
    assert w == pytest.approx({"a": 0.75, "b": 0.25}, abs=1e-5)  # the code's temperature 1, fitted
    assert hbo.base_passes == 2  # IFD: the answer alone besides the full sequence
    ppl = registry.build("hbo", {"levels": 2, "bucket_score": "ppl", "prior_tau": "inf"})
    assert ppl.initial_weights({"a": 4, "b": 4}) == pytest.approx({"a": 0.5, "b": 0.5})
    assert ppl.base_passes == 1
    assert ppl.buckets(ScriptedProbe("ab", **HBO_SCRIPT)) == {"a": [[0, 2], [3, 1]], "b": [[0, 1], [2, 3]]}


# ---------------------------------------------------------------- Aioli
def aioli_round(aioli, probe, start, bursts):
    """Run one round's LearnParams; returns the burst order (the group each burst favoured) and the last update."""
    order, step = [], start
    for _ in range(bursts):
        u = aioli.update(step, probe)
        order.append(max(u.weights, key=u.weights.get))
        step += u.next_update_in
    return order, aioli.update(step, probe)


def drop_matrix(order, drops):
    """A[i][j]: the drop of group i's loss after the burst on group j (δ = 1, one sweep)."""
    names = ["a", "b"]
    return [[drops[order.index(j)][i] for j in names] for i in range(2)]


def losses_after(drops, start=(3.0, 3.0)):
    """Validation-loss measurements (a, b) at a round's start and after each burst."""
    out, now = [list(start)], list(start)
    for d in drops:
        now = [x - y for x, y in zip(now, d, strict=True)]
        out.append(list(now))
    return out


def scripted(measurements):
    return ScriptedProbe("ab", tokens=[{"a": [[a]], "b": [[b]]} for a, b in measurements])


def test_aioli_cumulative_update_with_eta_away_from_its_default():
    aioli = registry.build("aioli", {"round_steps": 6, "lp_rounds": 1, "lp_steps": 2, "one_hot_factor": 1.0,
                                     "normalize_A": False, "eta": 0.5, "ema": None, "validation_examples": 1})
    aioli.initial_weights({"a": 5, "b": 5})
    d1, d2 = [(0.5, 0.0), (0.125, 0.25)], [(0.125, 0.0), (0.125, 0.375)]
    probe = scripted(losses_after(d1) + losses_after(d2, (2.0, 2.0)))
    order1, u = aioli_round(aioli, probe, 0, 2)
    assert u.next_update_in == 6 - 2 * 2  # the round's rest after 2 bursts of 2 steps
    a1 = drop_matrix(order1, d1)
    p1 = normalised([0.5 * math.exp(0.5 * (a1[0][j] + a1[1][j])) for j in (0, 1)])
    assert list(u.weights.values()) == pytest.approx(p1, rel=1e-6)
    order2, u = aioli_round(aioli, probe, 6, 2)
    a2 = drop_matrix(order2, d2)
    p2 = normalised([p1[j] * math.exp(0.5 * (a2[0][j] + a2[1][j])) for j in (0, 1)])  # from p1: cumulative
    assert list(u.weights.values()) == pytest.approx(p2, rel=1e-6)
    report = aioli.report(12)
    assert report["burst_steps"] == 8 and report["burst_share"] == pytest.approx(8 / 12)
    assert report["exploit_weight_movement"] == pytest.approx(max(abs(x - 0.5) for x in p1 + p2), rel=1e-6)


def test_aioli_ema_away_from_its_default_anchors_every_round():
    aioli = registry.build("aioli", {"round_steps": 4, "lp_rounds": 1, "lp_steps": 1, "one_hot_factor": 1.0,
                                     "normalize_A": False, "eta": 1.0, "ema": 0.5, "validation_examples": 1})
    aioli.initial_weights({"a": 5, "b": 5})
    d1, d2 = [(0.5, 0.0), (0.125, 0.25)], [(0.125, 0.0), (0.125, 0.375)]
    probe = scripted(losses_after(d1) + losses_after(d2, (2.0, 2.0)))
    order1, u = aioli_round(aioli, probe, 0, 2)
    a1 = drop_matrix(order1, d1)
    order2, u = aioli_round(aioli, probe, 4, 2)
    a2 = drop_matrix(order2, d2)
    smooth = [[0.5 * a2[i][j] + 0.5 * a1[i][j] for j in (0, 1)] for i in (0, 1)]
    p = normalised([0.5 * math.exp(smooth[0][j] + smooth[1][j]) for j in (0, 1)])  # from p⁽⁰⁾, not p1
    assert list(u.weights.values()) == pytest.approx(p, rel=1e-6)


def test_aioli_two_sweeps_average_the_drops_and_report_their_agreement():
    aioli = registry.build("aioli", {"round_steps": 8, "lp_rounds": 2, "lp_steps": 1, "one_hot_factor": 1.0,
                                     "normalize_A": False, "eta": 1.0, "ema": None, "validation_examples": 1})
    aioli.initial_weights({"a": 5, "b": 5})
    drops = [(0.4, 0.0), (0.1, 0.2), (0.2, 0.0), (0.1, 0.4)]
    order, u = aioli_round(aioli, scripted(losses_after(drops)), 0, 4)
    assert u.next_update_in == 8 - 2 * 2 * 1
    beta = [[0.0, 0.0], [0.0, 0.0]]
    for k, j in enumerate(order):
        for i in (0, 1):
            beta[i]["ab".index(j)] += drops[k][i]
    credit = [(beta[0][j] + beta[1][j]) / 2 for j in (0, 1)]  # β / lp_rounds
    assert list(u.weights.values()) == pytest.approx(normalised([math.exp(c) for c in credit]), rel=1e-6)
    first = [drops[k][i] for i in (0, 1) for j in "ab" for k in range(2) if order[k] == j]
    second = [drops[k][i] for i in (0, 1) for j in "ab" for k in range(2, 4) if order[k] == j]
    r = float(torch.corrcoef(torch.tensor([first, second], dtype=torch.float64))[0, 1])
    assert aioli.report(8)["sweep_agreement"] == pytest.approx(r, rel=1e-6)


# ---------------------------------------------------------------- θ0's IFD (HBO's buckets), mos.training.base_ppl
def test_base_ppl_computes_the_ifd_of_the_answer_alone(tiny_model_dir, testbed_dir, tmp_path):
    import csv
    import json

    from mos.training.base_ppl import answers_alone, main, template_parts

    tok = load_tokenizer(str(tiny_model_dir))
    files = {s: str(testbed_dir / "train" / f"{s}.jsonl") for s in ("Mathematics", "General")}
    data = {s: load_dataset_file(s, p, tok, "response", 128) for s, p in files.items()}
    lead, header = template_parts(data)
    assert tok.decode(lead) == tok.bos_token and tok.decode(header).strip().endswith("<|assistant|>")
    alone = answers_alone(data["Mathematics"], lead, header)
    ids, response = data["Mathematics"].ids[0], data["Mathematics"].response[0]
    assert alone.ids[0].tolist() == lead + header + ids[response].tolist()  # one reply: header + the reply
    out = tmp_path / "base.csv"
    main(["--spec", json.dumps({"model": str(tiny_model_dir), "max_length": 128, "pool_size": 3, "seed": 0,
                                "datasets": files}), "--out", str(out)])
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    model = load_model(str(tiny_model_dir)).eval()

    def mean_response_loss(seq, mask):  # independent arithmetic: full logits, the masked targets
        with torch.no_grad():
            logp = torch.log_softmax(model(input_ids=torch.tensor(seq)[None]).logits[0, :-1].double(), -1)
        nll = -logp.gather(-1, torch.tensor(seq[1:])[:, None])[:, 0]
        return float(nll[torch.from_numpy(mask[1:])].mean())

    for row in rows:
        d, i = data[row["dataset"]], int(row["index"])
        solo = answers_alone(d.subset([i]), lead, header)
        cond, free = mean_response_loss(d.ids[i].tolist(), d.response[i]), mean_response_loss(
            solo.ids[0].tolist(), solo.response[0])
        assert float(row["ifd"]) == pytest.approx(cond / free, rel=1e-4)
        assert float(row["ppl_alone"]) == pytest.approx(math.exp(free), rel=1e-4)
        assert float(row["ifd"]) == pytest.approx(math.log(float(row["ppl_response"])) / free, rel=1e-4)
    probe = Probe(model, data, tok.pad_token_id, seed=0, base_ppl=str(out))
    first = [r for r in rows if r["dataset"] == "General"]
    idx = [int(r["index"]) for r in first]
    assert probe.base_ifd("General", idx).tolist() == pytest.approx([float(r["ifd"]) for r in first])
