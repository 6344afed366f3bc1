"""The offline mixing laws (baselines/regmix.py, baselines/mixmin.py) and the random static mixtures
their proxies are (baselines/dirichlet.py): each fit against a hand computation on scripted inputs,
and the strategies' one update at step 0 with a scripted probe and scripted proxy run folders.

    .venv/bin/pytest tests/test_mixing_laws.py -q
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from baselines import mixmin as MM
from baselines import regmix as RM
from baselines.dirichlet import DIRICHLET_STREAM
from mos.mixing import registry

NAMES = ["Mathematics", "Medicine", "General", "NLP"]
SIZES = dict(zip(NAMES, (2620, 520, 930, 6260), strict=True))


# ---------------------------------------------------------------- dirichlet


def test_dirichlet_weights_depend_on_the_draw_not_the_training_seed():
    a = registry.build("dirichlet", {"draw": 3})
    assert a.initial_weights(SIZES, seed=0) == a.initial_weights(SIZES, seed=7)
    hand = np.random.default_rng([DIRICHLET_STREAM, 3]).dirichlet([1.0] * 4)  # alpha 1: uniform on the simplex
    assert list(a.initial_weights(SIZES).values()) == pytest.approx(hand / hand.sum(), abs=1e-15)
    assert registry.build("dirichlet", {"draw": 4}).initial_weights(SIZES) != a.initial_weights(SIZES)


def test_dirichlet_concentration_is_alpha_k_times_the_prior():
    proportional = registry.build("dirichlet", {"alpha": 0.5, "prior_tau": 1})
    total = sum(SIZES.values())
    assert proportional.concentration(SIZES) == pytest.approx([0.5 * 4 * n / total for n in SIZES.values()])
    assert registry.build("dirichlet", {"alpha": 2.0}).concentration(SIZES) == pytest.approx([2.0] * 4)
    with pytest.raises(registry.StrategyError, match="alpha must be a positive number"):
        registry.build("dirichlet", {"alpha": 0.0})


# ---------------------------------------------------------------- RegMix: the pieces


def write_run(folder: Path, weights: dict[str, float] | list[tuple[int, dict[str, float]]],
              validation: dict[str, int] | None, steps: int = 150, trained: dict[str, int] | None = None) -> Path:
    """A finished run folder as the loop leaves one: trajectory.csv and run.json (no model: the
    scripted probe stands in for it)."""
    folder.mkdir(parents=True)
    rows = weights if isinstance(weights, list) else [(0, weights), (steps, weights)]
    with open(folder / "trajectory.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["step", "dataset", "weight", "reward", "smoothed_reward", "drawn"])
        for step, ws in rows:
            for name, x in ws.items():
                w.writerow([step, name, x, "", "", 0])
    info = {"spec": {"mixture": {"name": folder.name}, "train": {"steps": steps, "batch_size": 16}},
            "budget": {"training_examples": steps * 16, "extra_training_examples": 0}}
    if validation is not None:
        info["validation_sizes"] = validation
    if trained is not None:
        info["dataset_sizes"] = trained  # the datasets the run trained on (run.json records them)
    (folder / "run.json").write_text(json.dumps(info))
    return folder


def test_trained_mixture_averages_the_weights_over_the_steps(tmp_path):
    rows = [(0, {"a": 0.5, "b": 0.5}), (2, {"a": 0.2, "b": 0.8}), (8, {"a": 0.2, "b": 0.8})]
    folder = write_run(tmp_path / "r", rows, None)
    # 2 steps at (0.5, 0.5), 6 at (0.2, 0.8): a = (2·0.5 + 6·0.2) / 8 = 0.275
    assert RM.trained_mixture(folder / "trajectory.csv", ["a", "b"]) == pytest.approx({"a": 0.275, "b": 0.725})
    static = write_run(tmp_path / "s", {"a": 0.3, "b": 0.7}, None)
    assert RM.trained_mixture(static / "trajectory.csv", ["a", "b"]) == pytest.approx({"a": 0.3, "b": 0.7})
    with pytest.raises(ValueError, match="this run trains on"):
        RM.trained_mixture(static / "trajectory.csv", ["a", "c"])


def test_scheffe_models_recover_a_known_law():
    rng = np.random.default_rng(0)
    x = rng.dirichlet([1.0] * 3, size=12)
    beta, beta_ab = np.array([2.0, 3.0, 1.5]), -4.0  # y = 2a + 3b + 1.5c - 4ab
    y = x @ beta + beta_ab * x[:, 0] * x[:, 1]
    quad = RM.fit_regressor(x, y, "quadratic", 0)
    # columns a, b, c, ab, ac, bc (scikit-learn's PolynomialFeatures order)
    assert quad.coef_ == pytest.approx([2.0, 3.0, 1.5, -4.0, 0.0, 0.0], abs=1e-9)
    lin = RM.fit_regressor(x, x @ beta, "linear", 0)
    assert lin.coef_ == pytest.approx(beta, abs=1e-12)


def test_top_k_is_the_mean_of_the_k_lowest_predictions():
    candidates = np.array([[1.0, 0.0], [0.5, 0.5], [0.2, 0.8], [0.9, 0.1], [0.0, 1.0]])
    predicted = np.array([3.0, 1.0, 2.0, 0.5, 2.0])
    # the two lowest: 0.5 (candidate 3) and 1.0 (candidate 1): mean (0.7, 0.3)
    assert RM.top_k_mixture(candidates, predicted, 2) == pytest.approx([0.7, 0.3])
    # a tie at 2.0 for the fourth place goes to the earlier candidate (2)
    assert RM.top_k_mixture(candidates, predicted, 3) == pytest.approx([(0.9 + 0.5 + 0.2) / 3, (0.1 + 0.5 + 0.8) / 3])


def test_gbdt_is_lightgbms_recipe_in_scikit_learn():
    rng = np.random.default_rng(1)
    x = rng.dirichlet([1.0] * 4, size=300)
    y = ((x - 0.25) ** 2).sum(axis=1)
    model = RM.fit_regressor(x, y, "gbdt", 42)
    assert (model.learning_rate, model.max_iter, model.n_iter_no_change) == (0.01, 1000, 3)
    assert (model.max_leaf_nodes, model.min_samples_leaf, model.random_state) == (31, 20, 42)
    assert model.validation_fraction == pytest.approx(1 / 3) and model.early_stopping is True
    assert 3 < model.n_iter_ <= 1000
    far, near = RM.predict(model, np.array([[1.0, 0, 0, 0], [0.25] * 4]), "gbdt")
    assert near < far  # it learned the shape of the law


# ---------------------------------------------------------------- RegMix: the update with a scripted probe


class ScriptedProbe:
    """The probe calls the mixing laws make, with each run's 'model' its folder and scripted losses:
    `losses[folder][dataset]` a held-out loss (RegMix) or a list of per-example token-loss tensors (MixMin)."""

    def __init__(self, losses, validation_sizes):
        self.losses, self.validation = losses, {n: [None] * k for n, k in validation_sizes.items()}
        self.loaded, self.held = [], set()

    def run_model(self, folder):
        self.loaded.append(str(folder))
        self.held.add(str(folder))
        assert len(self.held) == 1, "one proxy model at a time"
        return str(folder)

    def forget_model(self, folder):
        self.held.discard(str(folder))

    def validation_loss(self, dataset, scope="training", model=None):
        assert scope == "training"
        return self.losses[model][dataset]

    def token_losses(self, dataset, indices, split="train", scope="training", model=None):
        assert split == "validation" and list(indices) == list(range(len(self.validation[dataset])))
        return self.losses[model][dataset]


def regmix_with_proxies(tmp_path, mixtures, law, params=None, validation=None):
    folders = {f"proxy_{k}": write_run(tmp_path / f"p{k}", dict(zip(NAMES, w, strict=True)),
                                       {n: 5 for n in NAMES} if validation is None else validation)
               for k, w in enumerate(mixtures)}
    losses = {str(f): law(np.array(w)) for f, w in zip(folders.values(), mixtures, strict=True)}
    strategy = registry.build("regmix", {"n_proxies": len(mixtures), "validation_size": 5, **(params or {})})
    strategy.bind_runs({k: str(v) for k, v in folders.items()})
    strategy.initial_weights(SIZES, seed=0)
    return strategy, ScriptedProbe(losses, dict.fromkeys(NAMES, 5))


def test_regmix_finds_the_optimum_of_a_known_quadratic_law(tmp_path):
    """Held-out losses per dataset from a law whose mean over the datasets is minimal at w* = (0.4, 0.1,
    0.2, 0.3); 16 proxies, the quadratic model: the law is in the model, so the fit is exact and the mean
    of the 128 best of 100,000 candidates lands next to w* (the reference's search)."""
    target = np.array([0.4, 0.1, 0.2, 0.3])

    def law(w):  # per-dataset losses; their mean is 2 + Σ (w - w*)² = quadratic in w on the simplex
        bump = float(((w - target) ** 2).sum())
        return {n: 2.0 + bump + (0.1 * (k - 1.5)) for k, n in enumerate(NAMES)}

    mixtures = np.random.default_rng(5).dirichlet([1.0] * 4, size=16)
    strategy, probe = regmix_with_proxies(tmp_path, mixtures, law,
                                          {"regressor": "quadratic", "candidate_tau": "inf", "candidate_strength": 4})
    update = strategy.update(0, probe)
    assert update.final and list(update.weights) == NAMES
    assert list(update.weights.values()) == pytest.approx(target, abs=0.03)
    assert sum(update.weights.values()) == pytest.approx(1.0)
    report = strategy.report(0)
    assert report["fit"]["r2"] == pytest.approx(1.0, abs=1e-9) and report["fit"]["spearman"] == pytest.approx(1.0)
    assert report["fit"]["predicted_target"] == pytest.approx(2.0, abs=2e-3)
    assert len(report["proxies"]) == 16 and len(set(probe.loaded)) == 16
    first = report["proxies"][0]
    assert first["mixture"] == pytest.approx(dict(zip(NAMES, mixtures[0], strict=True)))
    assert first["target"] == pytest.approx(np.mean(list(law(mixtures[0]).values())))
    # a second call (a resumed run, or the contract test) returns the same weights without refitting
    assert strategy.update(10, probe).weights == update.weights and len(probe.loaded) == 16


def test_regmix_target_dataset_and_linear_law_pick_the_vertex(tmp_path):
    """A linear law in the target dataset's loss, lowest on Medicine: the top-k candidates crowd that vertex."""
    beta = np.array([3.0, 1.0, 2.0, 2.5])

    def law(w):
        return {n: (float(w @ beta) if n == "NLP" else 9.0) for n in NAMES}

    mixtures = np.random.default_rng(6).dirichlet([1.0] * 4, size=8)
    strategy, probe = regmix_with_proxies(tmp_path, mixtures, law,
                                          {"regressor": "linear", "target": "NLP", "top_k": 16, "n_candidates": 20000})
    weights = strategy.update(0, probe).weights
    assert weights["Medicine"] > 0.9
    assert strategy.report(0)["fit"]["coefficients"] == pytest.approx(beta, abs=1e-9)
    # the hand computation: the same candidates, ranked by the exact law
    prior = np.array(list(SIZES.values()), dtype=float) / sum(SIZES.values())
    cands = np.random.default_rng(42).dirichlet(prior, size=20000)
    hand = cands[np.argsort(cands @ beta, kind="stable")[:16]].mean(axis=0)
    assert list(weights.values()) == pytest.approx(hand / hand.sum(), abs=1e-9)


def test_regmix_refuses_proxies_that_trained_on_its_held_out_examples(tmp_path):
    mixtures = np.random.default_rng(7).dirichlet([1.0] * 4, size=3)
    strategy, probe = regmix_with_proxies(tmp_path, mixtures, lambda w: dict.fromkeys(NAMES, 1.0),
                                          {"regressor": "linear"}, validation={})
    with pytest.raises(ValueError, match="trained on the examples this run holds out; give the proxy mixtures "
                                         "validation_size: 5"):
        strategy.update(0, probe)


def test_regmix_reads_its_family_and_rejects_bad_parameters():
    strategy = registry.build("regmix", {"proxies": "rp", "n_proxies": 3})
    assert strategy.dependencies() == {"proxy_0": "rp_0", "proxy_1": "rp_1", "proxy_2": "rp_2"}
    assert strategy.is_dynamic and strategy.first_update == 0
    with pytest.raises(registry.StrategyError, match="expected one of"):
        registry.build("regmix", {"regressor": "lightgbm"})
    with pytest.raises(registry.StrategyError, match="top_k <= n_candidates"):
        registry.build("regmix", {"top_k": 10, "n_candidates": 5})
    with pytest.raises(ValueError, match="target 'Maths' is not a training dataset"):
        registry.build("regmix", {"target": "Maths"}).initial_weights(SIZES)


# ---------------------------------------------------------------- MixMin: the fit


def test_mixmin_two_hand_steps():
    """Lengths 1; p1 = (0.8, 0.2), p2 = (0.2, 0.4) on two target examples; λ0 = (½, ½), lr 1:
    ∇ = −½ (0.8/0.5 + 0.2/0.3, 0.2/0.5 + 0.4/0.3) = (−1.133333, −0.866667), λ1 = (0.566274, 0.433726);
    then ∇ = (−1.089806, −0.882749), λ2 = (0.616264, 0.383736)."""
    logp, lengths = np.log([[0.8, 0.2], [0.2, 0.4]]), np.ones(2)
    assert MM.gradient(np.array([0.5, 0.5]), logp, lengths) == pytest.approx([-1.133333, -0.866667], abs=1e-6)
    lam1, steps, grad = MM.exponentiated_gradient(logp, lengths, lr=1.0, max_steps=1)
    assert steps == 1 and lam1 == pytest.approx([0.566274, 0.433726], abs=1e-6)
    lam2, _, grad = MM.exponentiated_gradient(logp, lengths, lr=1.0, max_steps=2)
    assert grad == pytest.approx([-1.089806, -0.882749], abs=1e-6)
    assert lam2 == pytest.approx([0.616264, 0.383736], abs=1e-6)
    # f(λ0) = −½ (log 0.5 + log 0.3)
    assert MM.objective(np.array([0.5, 0.5]), logp, lengths) == pytest.approx(-0.5 * (math.log(0.5) + math.log(0.3)))


def test_mixmin_three_sources_per_token_lengths_and_the_stopping_rule():
    """Three sources, three examples of 1, 2 and 4 tokens with sequence probabilities p_i(x); one step of
    lr 0.5 by hand: mix(x) = Σ λ p(x) with λ = ⅓, ∇_i = −⅓ Σ_x p_i(x) / mix(x) / |x|."""
    p = np.array([[0.5, 0.04, 0.0001], [0.25, 0.09, 0.0016], [0.1, 0.01, 0.0081]])
    lengths = np.array([1.0, 2.0, 4.0])
    mix = p.mean(axis=0)  # (0.283333, 0.046667, 0.003267)
    hand = -np.mean(p / mix / lengths, axis=1)
    step = np.exp(-0.5 * hand) / np.exp(-0.5 * hand).sum()
    lam, steps, grad = MM.exponentiated_gradient(np.log(p), lengths, lr=0.5, max_steps=1)
    assert grad == pytest.approx(hand, rel=1e-12) and lam == pytest.approx(step, rel=1e-12)
    # ∇_1 = −⅓ (0.5/0.283333 + 0.04/0.046667/2 + 0.0001/0.0032667/4) = −⅓ (1.764706 + 0.428571 + 0.007653)
    # ∇_2 = −⅓ (0.882353 + 0.964286 + 0.122449), ∇_3 = −⅓ (0.352941 + 0.107143 + 0.619898)
    assert hand == pytest.approx([-0.733643, -0.656363, -0.359994], abs=1e-6)
    # on the simplex ⟨λ, ∇⟩ = −mean 1/|x| = −(1 + ½ + ¼)/3: ∇ never vanishes
    assert np.dot(np.full(3, 1 / 3), grad) == pytest.approx(-1.75 / 3)
    # max|∇| < tol stops after that step: a tolerance above every |∇| (0.7336) gives one step
    assert MM.exponentiated_gradient(np.log(p), lengths, lr=0.5, max_steps=100, tol=0.75)[1] == 1
    assert MM.exponentiated_gradient(np.log(p), lengths, lr=0.5, max_steps=100, tol=1e-4)[1] == 100


def test_mixmin_recovers_the_mixture_that_generated_the_target():
    """Sources are distributions over 3 one-token symbols; the target examples are drawn in proportion
    to Σ λ*_i p_i: the likelihood's maximum is λ*, and the reference's 100 steps of lr 1 get there."""
    sources = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]])
    true = np.array([0.5, 0.2, 0.3])
    counts = np.round(100 * true @ sources).astype(int)  # 43, 32, 25 examples of each symbol: exactly λ*
    assert counts.tolist() == [43, 32, 25]
    symbols = np.repeat(np.arange(3), counts)
    logp = np.log(sources[:, symbols])
    lam, steps, _ = MM.exponentiated_gradient(logp, np.ones(len(symbols)))
    assert steps == 100 and lam == pytest.approx(true, abs=1e-4)


# ---------------------------------------------------------------- MixMin: the update with a scripted probe


def mixmin_with_proxies(tmp_path, per_token, validation=None, params=None):
    folders = {n: write_run(tmp_path / f"{n}_only", {n: 1.0}, validation, steps=600) for n in NAMES[:3]}
    losses = {str(folders[n]): {d: [torch.tensor(t, dtype=torch.float32) for t in per_token[n][d]] for d in NAMES[:3]}
              for n in NAMES[:3]}
    strategy = registry.build("mixmin", {"proxies": {n: f"{n}_only" for n in NAMES[:3]}, "validation_size": 2,
                                         **(params or {})})
    strategy.bind_runs({n: str(f) for n, f in folders.items()})
    strategy.initial_weights({n: SIZES[n] for n in NAMES[:3]}, seed=3)
    return strategy, ScriptedProbe(losses, dict.fromkeys(NAMES[:3], 2))


def scripted_token_losses():
    """Per proxy, per target dataset, two examples' per-token losses (binary fractions: exact in float32);
    each proxy is best on its own data."""
    out = {}
    for i, n in enumerate(NAMES[:3]):
        out[n] = {d: [[0.25 + 0.25 * (i != j)] * (j + 1), [0.375 + 0.25 * (i != j)] * (j + 2)]
                  for j, d in enumerate(NAMES[:3])}
    return out


def test_mixmin_update_fits_the_proxies_log_probabilities(tmp_path):
    per_token = scripted_token_losses()
    strategy, probe = mixmin_with_proxies(tmp_path, per_token, {n: 2 for n in NAMES[:3]}, {"fit_fraction": 1.0})
    update = strategy.update(0, probe)
    assert update.final and list(update.weights) == NAMES[:3]
    # the hand arrays: log p_i(x) = −Σ token losses, |x| = tokens, examples in target-dataset order
    logp = np.array([[-sum(t) for d in NAMES[:3] for t in per_token[n][d]] for n in NAMES[:3]])
    lengths = np.array([len(t) for d in NAMES[:3] for t in per_token["Mathematics"][d]], dtype=float)
    lam, steps, _ = MM.exponentiated_gradient(logp, lengths, 1.0, 100, 1e-4)
    assert list(update.weights.values()) == pytest.approx(lam, rel=1e-9)
    report = strategy.report(0)
    assert report["fit"]["steps"] == steps == 100 and report["fit"]["examples_fitted"] == 6
    assert report["proxies"]["Medicine"]["held_out_targets"] is True
    assert report["fit"]["objective_fitted"]["fitted"] < report["fit"]["objective_fitted"]["uniform"]
    assert strategy.dependency_datasets("Medicine", NAMES) == ["Medicine"]


def test_mixmin_held_out_targets_are_required_unless_waived(tmp_path):
    per_token = scripted_token_losses()
    strategy, probe = mixmin_with_proxies(tmp_path, per_token, {})
    with pytest.raises(ValueError, match="trained on this run's held-out target examples"):
        strategy.update(0, probe)
    strategy, probe = mixmin_with_proxies(tmp_path / "waived", per_token, {}, {"require_held_out": False})
    strategy.update(0, probe)
    report = strategy.report(0)
    assert {p["held_out_targets"] for p in report["proxies"].values()} == {False}
    assert report["fit"]["examples_fitted"] + report["fit"]["examples_reported"] == 6


def test_mixmin_single_skill_proxies_hold_out_the_other_datasets_by_construction(tmp_path):
    """The headroom config's proxies (math_only, ...): each trains on its own dataset alone and holds out only
    that dataset's examples, so every other target is held out because it never trained on it. A proxy that
    trained on a second dataset without holding its examples out is still refused."""
    per_token = scripted_token_losses()
    folders = {n: write_run(tmp_path / f"{n}_only", {n: 1.0}, {n: 2}, steps=600, trained={n: SIZES[n]})
               for n in NAMES[:3]}
    losses = {str(folders[n]): {d: [torch.tensor(t, dtype=torch.float32) for t in per_token[n][d]] for d in NAMES[:3]}
              for n in NAMES[:3]}
    strategy = registry.build("mixmin", {"proxies": {n: f"{n}_only" for n in NAMES[:3]}, "validation_size": 2})
    strategy.bind_runs({n: str(f) for n, f in folders.items()})
    strategy.initial_weights({n: SIZES[n] for n in NAMES[:3]}, seed=3)
    strategy.update(0, ScriptedProbe(losses, dict.fromkeys(NAMES[:3], 2)))
    assert {p["held_out_targets"] for p in strategy.report(0)["proxies"].values()} == {True}
    leaky = write_run(tmp_path / "leaky", {NAMES[0]: 0.5, NAMES[1]: 0.5}, {NAMES[0]: 2}, steps=600,
                      trained={NAMES[0]: SIZES[NAMES[0]], NAMES[1]: SIZES[NAMES[1]]})
    assert RM.held_out_check(leaky, dict.fromkeys(NAMES[:3], 2)) is False
    assert RM.held_out_check(folders[NAMES[0]], dict.fromkeys(NAMES[:3], 2)) is True


def test_mixmin_proxies_must_name_every_dataset():
    with pytest.raises(ValueError, match=r"missing \['NLP'\], unknown \[\]"):
        registry.build("mixmin", {"proxies": {n: "x" for n in NAMES[:3]}}).initial_weights(SIZES)
    assert registry.build("mixmin").dependencies() == MM.SINGLE_SKILL_RUNS
