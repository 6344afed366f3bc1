"""Tests of analysis/inference.py and analysis/variance.py (the statistics model of the analysis: θ0 is the
unit of replication) and of the verdict procedure of analysis/claims.py.

    .venv/bin/pytest tests/test_inference.py

Coverage of the intervals by simulation under a strong mixture × θ0 interaction, the θ0-level contrast
against hand computations and against statsmodels' REML mixed model, bounded intervals that stay in
range, Welch across backbones, "not testable" with one θ0, the variance components and the planner over
θ0s, Holm, the permutation test over θ0 blocks, and the verdicts: held / contradicted / smaller than the
paper's effect / inconclusive, the families' fixed order and α shares, the A/A check outside the budget.
The whole claims pipeline on null data with a strong θ0 interaction is in tests/test_claims_null.py.
"""

from __future__ import annotations

import math
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis import best_differs, claims, inference, variance

ROOT = Path(__file__).resolve().parent.parent


def design(backbones: int = 1, mixtures: int = 2, theta0s: int = 12, seeds: int = 1) -> pd.DataFrame:
    """Runs of every backbone × mixture × θ0 × seed; seed numbers run over θ0s (seed = θ0·seeds + k)."""
    rows = [(f"b{b}", f"m{m}", t * seeds + k, str(t)) for b in range(backbones) for m in range(mixtures)
            for t in range(theta0s) for k in range(seeds)]
    return pd.DataFrame(rows, columns=["backbone", "mixture", "seed", "theta0"])


def simulate(frame: pd.DataFrame, rng: np.random.Generator, effect: float = 0.0, theta_sd: float = 1.0,
             inter_sd: float = 1.0, seed_sd: float = 0.5) -> pd.DataFrame:
    """Values with an effect on m1 (vs m0), a θ0 effect, a mixture × θ0 interaction and seed noise."""
    u = {k: rng.normal(0, theta_sd) for k in set(zip(frame["backbone"], frame["theta0"], strict=True))}
    v = {k: rng.normal(0, inter_sd) for k in set(zip(frame["backbone"], frame["mixture"], frame["theta0"], strict=True))}
    value = [50 + u[(b, t)] + v[(b, m, t)] + (effect if m == "m1" else 0.0) + rng.normal(0, seed_sd)
             for b, m, t in zip(frame["backbone"], frame["mixture"], frame["theta0"], strict=True)]
    return frame.assign(value=value)


# ---------------------------------------------------------------- coverage under the θ0 interaction


@pytest.mark.parametrize("theta0s, seeds", [(12, 1), (3, 3)])
def test_difference_interval_covers_under_a_strong_interaction(theta0s: int, seeds: int) -> None:
    """Δ = 1.5 with σ²_m×θ0 = 4 σ²_seed: the θ0-level interval covers it ≥ 93% (nominal 95%) with one seed per θ0
    and with three (where a seed-level analysis would cover about 85%)."""
    rng, frame, covered = np.random.default_rng(1), design(theta0s=theta0s, seeds=seeds), 0
    for _ in range(1500):
        c = inference.Fit(simulate(frame, rng, effect=1.5, inter_sd=1.0, seed_sd=0.5)).compare("b0", "m1", "m0")
        covered += c.lo <= 1.5 <= c.hi
    assert covered / 1500 >= 0.93


def test_bounded_cell_interval_covers_and_stays_in_range() -> None:
    """Accuracies near 100%: drawn on the logit scale per θ0, the θ0-level interval covers the true mean and
    stays ≤ 100."""
    rng, frame = np.random.default_rng(3), design(mixtures=4, theta0s=6)
    logit = np.log(np.array([0.6, 0.8, 0.95, 0.99]) / (1 - np.array([0.6, 0.8, 0.95, 0.99])))
    draws = rng.normal(0, 0.3, (50_000, 4))
    true = {f"m{i}": 100 * float(np.mean(1 / (1 + np.exp(-(m + draws[:, i]))))) for i, m in enumerate(logit)}
    covered = total = 0
    arm = frame["mixture"].str[1:].astype(int).to_numpy()
    for _ in range(300):
        z = logit[arm] + rng.normal(0, 0.3, len(frame))
        cells = inference.cell_intervals(frame.assign(value=100 / (1 + np.exp(-z))), scale=inference.PERCENT)
        assert (cells["lo"] >= 0).all() and (cells["hi"] <= 100).all()
        assert ((cells["lo"] <= cells["mean"]) & (cells["mean"] <= cells["hi"])).all()
        covered += sum(lo <= true[m] <= hi for m, lo, hi in zip(cells["mixture"], cells["lo"], cells["hi"], strict=True))
        total += len(cells)
    assert covered / total >= 0.90


def test_bounded_intervals_stay_in_range_and_one_theta0_has_none() -> None:
    frame = design(mixtures=2, theta0s=3)
    acc = frame.assign(value=[100.0, 100.0, 82.0, 50.0, 60.0, 40.0])
    cells = inference.cell_intervals(acc, scale=inference.PERCENT).set_index("mixture")
    raw_hi = cells.loc["m0", "mean"] + inference.t_crit(2) * np.std([100, 100, 82], ddof=1) / math.sqrt(3)
    assert raw_hi > 100  # what mean ± t·s/√n would have printed
    assert cells["lo"].min() >= 0 and cells["hi"].max() <= 100 and (cells["df"] == 2).all()
    assert cells.loc["m0", "lo"] <= cells.loc["m0", "mean"] <= cells.loc["m0", "hi"]
    judge = frame.assign(value=[1.0, 1.0, 1.5, 9.0, 10.0, 10.0])
    cells = inference.cell_intervals(judge, scale=inference.SCORE)
    assert cells["lo"].min() >= 1 and cells["hi"].max() <= 10
    with pytest.raises(ValueError, match="outside the metric's range"):
        inference.cell_intervals(frame.assign(value=[101.0, 1, 2, 3, 4, 5]), scale=inference.PERCENT)
    one = design(mixtures=2, theta0s=1).assign(value=[50.0, 52.0])
    assert inference.cell_intervals(one)[["lo", "hi"]].isna().all().all()
    c = inference.Fit(one).compare("b0", "m1", "m0")
    assert c.effect == 2.0 and not c.testable and math.isnan(c.p(1)) and math.isnan(c.mde)
    c = inference.Comparison(90.0, 10.0, 2, 3, 3, 1.0, inference.PERCENT.width)  # clipped to the metric's width
    assert c.hi == 100 and c.lo > -100


# ---------------------------------------------------------------- the model by hand


def test_contrast_is_the_paired_t_on_theta0_means() -> None:
    """Two arms, three θ0s, two seeds each: seeds averaged within θ0, then the paired t (2 df)."""
    frame = design(mixtures=2, theta0s=3, seeds=2)
    frame["value"] = [1.0, 2.0, 3.0, 3.0, 2.0, 4.0, 4.0, 4.0, 5.0, 6.0, 3.0, 5.0]  # m0 then m1
    c = inference.Fit(frame).compare("b0", "m1", "m0")
    d = np.array([4.0 - 1.5, 5.5 - 3.0, 4.0 - 3.0])  # θ0 means of m1 − m0
    assert c.effect == pytest.approx(d.mean()) and c.df == 2
    assert c.se == pytest.approx(d.std(ddof=1) / math.sqrt(3))
    test = stats.ttest_rel([4.0, 5.5, 4.0], [1.5, 3.0, 3.0])
    assert c.p(0) == pytest.approx(test.pvalue) and c.p(1) == pytest.approx(test.pvalue / 2)
    cell = inference.Fit(frame).cell("b0", "m1")
    assert cell.n == 3 and cell.mean == pytest.approx(np.mean([4.0, 5.5, 4.0]))
    with pytest.raises(ValueError, match="more than one value per run"):
        inference.Fit(pd.concat([frame, frame]))


def test_equals_the_reml_mixed_model() -> None:
    """Balanced two-arm design, one seed per θ0: the REML mixed model (arm fixed, θ0 random) gives the same
    difference and SE as the θ0-level paired t, whose n − 1 df are the exact Satterthwaite df."""
    import statsmodels.formula.api as smf

    frame = simulate(design(mixtures=2, theta0s=12), np.random.default_rng(2), effect=1.0, theta_sd=2.0)
    c = inference.Fit(frame).compare("b0", "m1", "m0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reml = smf.mixedlm("value ~ C(mixture)", frame, groups="theta0").fit(reml=True)
    assert reml.fe_params["C(mixture)[T.m1]"] == pytest.approx(c.effect)
    assert reml.bse_fe["C(mixture)[T.m1]"] == pytest.approx(c.se, rel=1e-3) and c.df == 11


def test_contrasts_across_backbones_and_disjoint_theta0s() -> None:
    frame = simulate(design(backbones=2, mixtures=2, theta0s=5), np.random.default_rng(4), effect=1.0)
    fit = inference.Fit(frame)
    a, b = fit.compare("b1", "m1", "m0"), fit.compare("b0", "m1", "m0")
    gain = fit.contrast({("b1", "m1"): 1, ("b1", "m0"): -1, ("b0", "m1"): -1, ("b0", "m0"): 1})
    assert gain.effect == pytest.approx(a.effect - b.effect)
    assert gain.se == pytest.approx(math.hypot(a.se, b.se))
    welch = (a.se ** 2 + b.se ** 2) ** 2 / (a.se ** 4 / 4 + b.se ** 4 / 4)
    assert gain.df == pytest.approx(welch)
    # arms on disjoint θ0s: unpaired Welch on each arm's θ0 means
    split = frame[~((frame["mixture"] == "m1") & frame["theta0"].isin(["0", "1"]))
                  & ~((frame["mixture"] == "m0") & frame["theta0"].isin(["2", "3", "4"]))]
    c = inference.Fit(split[split["backbone"] == "b0"]).compare("b0", "m1", "m0")
    m1 = split[(split["backbone"] == "b0") & (split["mixture"] == "m1")]["value"]
    m0 = split[(split["backbone"] == "b0") & (split["mixture"] == "m0")]["value"]
    assert c.effect == pytest.approx(m1.mean() - m0.mean())
    assert c.se == pytest.approx(math.sqrt(m1.var() / 3 + m0.var() / 2))
    with pytest.raises(KeyError, match="no runs of b0 × m9"):
        fit.contrast({("b0", "m9"): 1, ("b0", "m0"): -1})
    versus = fit.versus("b0", "m1", 50.0)
    means = frame[(frame["backbone"] == "b0") & (frame["mixture"] == "m1")]["value"]
    assert versus.effect == pytest.approx(means.mean() - 50) and versus.df == 4


def test_simulated_statistics_match_the_data_path() -> None:
    """contrast_stats on many experiments at once gives, row by row, what compare() gives on each."""
    frame = design(mixtures=3, theta0s=4, seeds=2)
    fit = inference.Fit(frame.assign(value=0.0))
    Y = np.random.default_rng(5).normal(size=(5, len(frame)))
    effect, se, df = fit.contrast_stats({("b0", "m2"): 1, ("b0", "m0"): -1}, Y)
    for i in range(5):
        one = inference.Fit(frame.assign(value=Y[i])).compare("b0", "m2", "m0")
        assert (effect[i], se[i], df[i]) == pytest.approx((one.effect, one.se, one.df))


# ---------------------------------------------------------------- variance components and planning


def test_reml_components_recover_the_truth() -> None:
    """A large design with known components: REML recovers σ²_θ0, σ²_m×θ0 and σ²_seed (with several seeds per θ0)
    and their sum when one seed per θ0 leaves the last two together."""
    rng = np.random.default_rng(6)
    frame = simulate(design(mixtures=5, theta0s=40, seeds=3), rng, theta_sd=1.5, inter_sd=1.0, seed_sd=0.7)
    c = variance.components(frame)
    assert c.separable and c.theta0 == pytest.approx(2.25, rel=0.35)
    assert c.interaction == pytest.approx(1.0, rel=0.3) and c.seed == pytest.approx(0.49, rel=0.2)
    one = variance.components(simulate(design(mixtures=5, theta0s=40), rng, theta_sd=1.5, inter_sd=1.0, seed_sd=0.7))
    assert not one.separable and one.seed == 0 and one.interaction == pytest.approx(1.49, rel=0.3)


def test_planning_over_theta0s() -> None:
    c = variance.Components(0.2, 0.3, 0.8, 2, 12, 24, True)
    assert c.difference_var(1) == pytest.approx(2 * 1.1) and c.difference_var(4) == pytest.approx(2 * 0.5)
    n = variance.theta0s_needed(c.difference_var(1), half=1.0, delta=2.0)
    ok = [variance.half_width(c.difference_var(1), k) <= 1.0 and
          inference.power_at(2.0, math.sqrt(c.difference_var(1) / k), k - 1) >= 0.8 for k in (n - 1, n)]
    assert ok == [False, True]
    table = variance.plan_table(c, theta0s=(3, 12), seeds=(1, 3))
    # more seeds on 3 θ0s never reach what 12 θ0s with one seed reach: the interaction is a floor
    assert table.query("theta0s == 3 and seeds == 3")["half_width"].iloc[0] > \
        table.query("theta0s == 12 and seeds == 1")["half_width"].iloc[0]
    assert variance.half_width(c.difference_var(10 ** 6), 3) > inference.t_crit(2) * math.sqrt(0.6 / 3) - 1e-9


def test_python_m_variance_plan_runs() -> None:
    proc = subprocess.run([sys.executable, "-m", "analysis.variance", "plan", "--interaction", "0.26",
                           "--seed-var", "0.77", "--half-width", "1.0"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0 and "θ0s" in proc.stdout and "runs per arm" in proc.stdout


# ---------------------------------------------------------------- MDE, power, multiplicity


def test_mde_and_power_by_hand() -> None:
    # Student-t table, 60 df: t(0.975) = 2.000, t(0.80) = 0.848; MDE = (2.000 + 0.848) · SE
    assert inference.mde(1.0, 60) == pytest.approx(2.000 + 0.848, abs=1e-3)
    assert inference.mde(2.0, 1e9) == pytest.approx(2 * (1.959964 + 0.841621), abs=1e-4)
    assert inference.mde(1.0, 1e9, alpha=0.01) == pytest.approx(2.575829 + 0.841621, abs=1e-4)  # at a Holm level
    assert inference.power_at(inference.mde(1.0, 62), 1.0, 62) == pytest.approx(0.80, abs=0.01)
    assert inference.power_at(inference.mde(1.0, 62, 0.01), 1.0, 62, 0.01) == pytest.approx(0.80, abs=0.01)
    assert inference.power_at(0.0, 1.0, 30) == pytest.approx(0.05, abs=1e-9)
    assert inference.power_at(40.0, 0.1, 2) == pytest.approx(1.0)


def test_holm_against_a_hand_computation() -> None:
    p = np.array([0.01, 0.04, 0.03, 0.005, np.nan])
    assert inference.holm(p)[:4] == pytest.approx([0.03, 0.06, 0.06, 0.02]) and np.isnan(inference.holm(p)[4])
    assert inference.holm_levels(np.array([0.01, 0.04, 0.03]), 0.05) == pytest.approx([0.05 / 3, 0.05, 0.025])


# ---------------------------------------------------------------- the selection-aware test over θ0 blocks


def test_permutation_test_holds_its_level_under_the_interaction() -> None:
    """Null data with a strong mixture × θ0 interaction and three seeds per θ0: shuffling labels of whole θ0 blocks
    keeps the level, and the simulation shortcut the scorecard uses has the same null distribution."""
    rng = np.random.default_rng(7)
    frame = design(backbones=3, mixtures=3, theta0s=4, seeds=3)
    fit = inference.Fit(simulate(frame, rng))
    dsgn = best_differs.BestDiffersDesign(fit, ["b0", "b1", "b2"], ["m0", "m1", "m2"])
    comps = {b: variance.Components(1.0, 1.0, 0.25, 3, 4, 36, True) for b in ("b0", "b1", "b2")}
    Y = variance.simulate(fit, comps, 400, rng)
    p_each, p_held, _ = dsgn.pvalues(Y, 199, np.random.default_rng(8))
    assert abs((p_each[:, 0] <= 0.05).mean() - 0.05) < 0.035
    reference = variance.simulate(fit, comps, 2000, rng)
    shortcut = dsgn.simulated_pvalues(variance.simulate(fit, comps, 2000, rng), reference)[0]
    assert (p_held <= 0.05).mean() <= 0.06 and (shortcut <= 0.05).mean() <= 0.06
    for level in (0.25, 0.5):
        assert abs((p_held <= level).mean() - (shortcut <= level).mean()) < 0.08, level


def test_best_differs_finds_a_real_crossover() -> None:
    frame = design(backbones=2, mixtures=2, theta0s=8)
    rng = np.random.default_rng(9)
    value = [(2.0 if (b, m) in {("b0", "m0"), ("b1", "m1")} else 0.0) + rng.normal(0, 0.3)
             for b, m in zip(frame["backbone"], frame["mixture"], strict=True)]
    result = best_differs.best_differs_test(inference.Fit(frame.assign(value=value)), ["b0", "b1"], ["m0", "m1"],
                                         permutations=999, seed=0)
    assert result.best == {"b0": "m0", "b1": "m1"} and result.p_held < 0.05 and result.p_contradicted > 0.5


# ---------------------------------------------------------------- verdicts on constructed experiments


def constructed(effects: dict[str, float], theta0s: int = 8, families: dict[str, str] | None = None,
                shares: dict[str, float] | None = None,
                sims: int = 1000) -> claims.Data:
    """One backbone, a reference arm 'ref' and one arm per effect, each on `theta0s` θ0s with a θ0 effect and an
    interaction; a claim 'a vs ref' per arm (family from `families`, default primary)."""
    rng = np.random.default_rng(11)
    frame = design(mixtures=1 + len(effects), theta0s=theta0s)
    arms = ["ref", *effects]
    frame["mixture"] = frame["mixture"].map({f"m{i}": a for i, a in enumerate(arms)})
    u = rng.normal(0, 2.0, theta0s)
    frame["value"] = [50 + u[int(t)] + effects.get(m, 0.0) + rng.normal(0, 1.0)
                      for m, t in zip(frame["mixture"], frame["theta0"], strict=True)]
    runs = frame[["backbone", "mixture", "seed", "theta0"]].assign(paper_backbone="", paper_method="")
    spec = {"alpha": 0.05, "null_simulations": sims, "seed": 0, "family_alpha": shares,
            "list": [{"id": m, "text": m, "kind": "contrast", "family": (families or {}).get(m, "primary"),
                      "metric": "mu_mmlu", "direction": "greater", "backbones": ["b0"], "a": {"b0": m},
                      "b": {"b0": ["ref"]}} for m in effects]}
    return claims.Data(Path("constructed"), runs, spec, {"mu_mmlu": frame},
                       {"table2": pd.DataFrame(), "table3": pd.DataFrame(), "table5": pd.DataFrame()}, {})


def test_verdicts_and_error_rates() -> None:
    hyps = {h.claim["id"]: h for h in claims.evaluate(constructed({"up": 5.0, "down": -5.0, "flat": 0.0}),
                                                      simulations=2000)}
    assert hyps["up"].verdict == "held" and hyps["down"].verdict == "contradicted"
    flat = hyps["flat"]
    assert flat.verdict == f"inconclusive (MDE = {flat.mde:.2f})" and flat.comparison.lo < 0 < flat.comparison.hi
    assert flat.mde == pytest.approx(flat.comparison.mde_at(flat.level)) and flat.level < 0.05
    # the reviewer's paired t by hand equals the model's
    assert flat.reviewer.se == pytest.approx(flat.comparison.se) and flat.reviewer.df == flat.comparison.df
    for h in hyps.values():  # P(held) without any effect: below the primary share α·0.8 = 0.04, Holm included
        assert h.chance <= 0.04 + 3 * math.sqrt(0.04 * 0.96 / 2000)
    assert hyps["up"].same_verdict > 0.9
    # a difference that clears α alone but not Holm's smallest level stays inconclusive
    small = {h.claim["id"]: h for h in claims.evaluate(constructed({"a": 1.4, "b": 0.0, "c": 0.0}), simulations=0)}
    assert small["a"].p < 0.05 and small["a"].p > small["a"].level and small["a"].verdict.startswith("inconclusive")


def test_families_in_order_share_alpha_and_pass_it_on() -> None:
    """A secondary hypothesis is tested at the secondary share; when every primary one is rejected, the primary
    share passes on to the secondary family."""
    shares = {"primary": 0.04, "secondary": 0.01}
    p = np.array([[0.001, 0.012, 0.012]])  # two-sided: one-sided 0.0005 and 0.006
    held, contra, small = p / 2, 1 - p / 2, np.full_like(p, np.nan)
    codes, levels = claims.decide(held, contra, small, ["primary", "secondary", "secondary"], shares, 0.05)
    assert codes[0, 0] == claims.HELD and levels[0, 0] == pytest.approx(0.04)
    # primary all rejected: secondary Holm at 0.05 over 2: 0.025 then 0.05 -> both held
    assert list(codes[0, 1:]) == [claims.HELD, claims.HELD] and levels[0, 1] == pytest.approx(0.025)
    codes, levels = claims.decide(np.array([[0.3, 0.006, 0.006]]), np.array([[0.7, 0.994, 0.994]]), small,
                                  ["primary", "secondary", "secondary"], shares, 0.05)
    assert codes[0, 0] == claims.INCONCLUSIVE and list(codes[0, 1:]) == [claims.INCONCLUSIVE] * 2  # 0.012 > 0.005
    # the check family is outside the budget: tested alone at α
    codes, _ = claims.decide(np.array([[0.3, 0.02]]), np.array([[0.7, 0.98]]), np.full((1, 2), np.nan),
                             ["primary", claims.CHECK], shares, 0.05)
    assert codes[0, 1] == claims.HELD  # two-sided 0.04 ≤ 0.05


def test_smaller_than_the_papers_effect() -> None:
    """A precise null result against a large paper effect is 'smaller than the paper's effect', tested at the
    hypothesis's own level; a large observed effect is held."""
    held = np.array([[0.4, 0.0001]])
    contra = 1 - held
    small = np.array([[0.001, 0.9]])  # p of Δ below the paper's effect
    codes, _ = claims.decide(held, contra, small, ["primary", "primary"], {"primary": 0.05}, 0.05)
    assert list(codes[0]) == [claims.SMALLER, claims.HELD]
    effect, se, df = np.array([0.1]), np.array([0.3]), np.array([11.0])
    p = claims._paper_smaller(effect, se, df, 1, 2.45)
    assert p[0] == pytest.approx(stats.t.cdf((0.1 - 2.45) / 0.3, 11))
    assert np.isnan(claims._paper_smaller(effect, se, df, 1, -1.0)[0])  # paper against its own claim: no test
