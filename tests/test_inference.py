"""Tests of analysis/inference.py (the one statistics model of the analysis) and of the verdict logic.

    .venv/bin/pytest tests/test_inference.py

Coverage of the 95% intervals by simulation under a known effect, Holm and the MDE against hand
computations, the permutation test's null pass rate against the chance rate the scorecard states,
bounded intervals that stay in range, θ0 as a random factor, the reviewer's paired t, the seed
planner, and held / contradicted / inconclusive verdicts on constructed experiments.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis import claims, inference

ROOT = Path(__file__).resolve().parent.parent


def design(backbones: int = 3, mixtures: int = 3, seeds: int = 3) -> pd.DataFrame:
    rows = [(f"b{b}", f"m{m}", s) for b in range(backbones) for m in range(mixtures) for s in range(seeds)]
    return pd.DataFrame(rows, columns=["backbone", "mixture", "seed"])


def simulate(frame: pd.DataFrame, rng: np.random.Generator, effect: float = 0.0, block_sd: float = 1.0,
             sd: float = 1.0) -> pd.DataFrame:
    """Values with a mixture effect on m1 (vs m0), seed blocks per backbone and N(0, sd²) noise."""
    blocks = {k: rng.normal(0, block_sd) for k in set(zip(frame["backbone"], frame["seed"], strict=True))}
    value = [blocks[(b, s)] + (effect if m == "m1" else 0.0) + 3.0 * int(b[1:]) + rng.normal(0, sd)
             for b, m, s in zip(frame["backbone"], frame["mixture"], frame["seed"], strict=True)]
    return frame.assign(value=value)


# ---------------------------------------------------------------- coverage of the intervals


def test_difference_interval_covers_the_true_effect() -> None:
    """2,000 simulated experiments with Δ = 1.5: the paired interval covers it in ≥ 93% (nominal 95%)."""
    rng, frame, covered = np.random.default_rng(1), design(), 0
    for _ in range(2000):
        c = inference.Fit(simulate(frame, rng, effect=1.5)).compare("b1", "m1", "m0")
        covered += c.lo <= 1.5 <= c.hi
    assert covered / 2000 >= 0.93


def test_unpaired_interval_also_covers() -> None:
    rng, frame, covered = np.random.default_rng(2), design(seeds=4), 0
    for _ in range(1000):
        c = inference.Fit(simulate(frame, rng, effect=-2.0, block_sd=0.0), pair_by_seed=False).compare("b0", "m1", "m0")
        covered += c.lo <= -2.0 <= c.hi
    assert covered / 1000 >= 0.93


def test_bounded_cell_interval_covers_and_stays_in_range() -> None:
    """Accuracies near 100%: drawn on the logit scale, the pooled interval covers the true mean and stays ≤ 100."""
    rng, frame = np.random.default_rng(3), design(backbones=2, mixtures=4, seeds=3)
    logit = np.log(np.array([0.6, 0.8, 0.95, 0.99]) / (1 - np.array([0.6, 0.8, 0.95, 0.99])))
    true = {}
    draws = rng.normal(0, 0.3, (50_000, 4))  # the true mean of each cell in %, by Monte Carlo
    for i, m in enumerate(logit):
        true[f"m{i}"] = 100 * float(np.mean(1 / (1 + np.exp(-(m + draws[:, i])))))
    covered = total = 0
    arm = frame["mixture"].str[1:].astype(int).to_numpy()
    for _ in range(300):
        z = logit[arm] + rng.normal(0, 0.3, len(frame))
        cells = inference.cell_intervals(frame.assign(value=100 / (1 + np.exp(-z))), scale=inference.PERCENT)
        assert (cells["lo"] >= 0).all() and (cells["hi"] <= 100).all()
        assert ((cells["lo"] <= cells["mean"]) & (cells["mean"] <= cells["hi"])).all()
        covered += sum(lo <= true[m] <= hi for m, lo, hi in zip(cells["mixture"], cells["lo"], cells["hi"], strict=True))
        total += len(cells)
    assert covered / total >= 0.90  # one σ pooled over cells whose spread differs on the % scale


def test_bounded_intervals_stay_in_range() -> None:
    """Values on the bounds: the raw t interval would leave [0, 100] and [1, 10]; ours does not."""
    frame = design(backbones=1, mixtures=2, seeds=3)
    acc = frame.assign(value=[100.0, 100.0, 82.0, 50.0, 60.0, 40.0])
    cells = inference.cell_intervals(acc, scale=inference.PERCENT).set_index("mixture")
    raw_hi = cells.loc["m0", "mean"] + inference.t_crit(4) * math.sqrt((2 * 36 + 144 + 200) / 4 / 3)
    assert raw_hi > 100  # what mean ± t·s/√n would have printed
    assert cells["lo"].min() >= 0 and cells["hi"].max() <= 100
    assert cells.loc["m0", "lo"] <= cells.loc["m0", "mean"] <= cells.loc["m0", "hi"]
    # one skewed cell among steady ones: the interval is centred on the plain mean, so it contains it
    many = design(backbones=1, mixtures=5, seeds=3)
    many["value"] = [100.0, 100.0, 70.0] + [50.0, 51.0, 49.0] * 4
    cell = inference.cell_intervals(many, scale=inference.PERCENT).iloc[0]
    assert cell["mean"] == 90.0 and cell["lo"] <= 90.0 <= cell["hi"] <= 100
    judge = frame.assign(value=[1.0, 1.0, 1.5, 9.0, 10.0, 10.0])
    cells = inference.cell_intervals(judge, scale=inference.SCORE)
    assert cells["lo"].min() >= 1 and cells["hi"].max() <= 10
    with pytest.raises(ValueError, match="outside the metric's range"):
        inference.cell_intervals(frame.assign(value=[101.0, 1, 2, 3, 4, 5]), scale=inference.PERCENT)
    # differences are clipped to the metric's width
    c = inference.Comparison(90.0, 10.0, 2, 3, 3, 1.0, inference.PERCENT.width)
    assert c.hi == 100 and c.lo > -100


# ---------------------------------------------------------------- the model by hand


def test_pooled_sigma_and_paired_contrast_by_hand() -> None:
    """One backbone, two mixtures, three seeds: the paired contrast is the paired t with pooled df."""
    frame = design(backbones=1, mixtures=2, seeds=3).assign(value=[1.0, 3.0, 2.0, 2.0, 5.0, 3.5])
    fit = inference.Fit(frame)
    c = fit.compare("b0", "m1", "m0")
    d = np.array([1.0, 2.0, 1.5])  # per-seed differences
    assert c.effect == pytest.approx(1.5) and c.df == 2
    assert c.se == pytest.approx(d.std(ddof=1) / math.sqrt(3))  # two-way residual of a 2 × 3 table = paired t
    assert fit.sigma_cell == pytest.approx(math.sqrt((1.0 + 2.25) / 2 * 2 / 2))  # within-cell SS 2 + 4.5, 4 df
    unpaired = inference.Fit(frame, pair_by_seed=False).compare("b0", "m1", "m0")
    assert unpaired.se == pytest.approx(fit.sigma_cell * math.sqrt(2 / 3)) and unpaired.df == 4
    assert c.p(1) == pytest.approx(stats.t.sf(1.5 / c.se, 2)) and c.p(0) == pytest.approx(2 * c.p(-1) if c.effect < 0
                                                                                          else 2 * c.p(1))
    reviewer = inference.paired_t(frame[frame["mixture"] == "m1"].set_index("seed")["value"],
                                  frame[frame["mixture"] == "m0"].set_index("seed")["value"])
    assert (reviewer.effect, reviewer.df, reviewer.se) == pytest.approx((1.5, 2, c.se))
    with pytest.raises(ValueError, match="more than one value per run"):
        inference.Fit(pd.concat([frame, frame]))


def test_contrasts_across_backbones_and_estimability() -> None:
    fit = inference.Fit(simulate(design(), np.random.default_rng(4), effect=1.0))
    gain = fit.contrast({("b2", "m1"): 1, ("b2", "m0"): -1, ("b0", "m1"): -1, ("b0", "m0"): 1})
    assert gain.se == pytest.approx(math.sqrt(2) * fit.compare("b0", "m1", "m0").se)
    with pytest.raises(ValueError, match="not estimable"):
        fit.contrast({("b0", "m1"): 1})  # a cell mean is not a difference: the seed blocks absorb it
    with pytest.raises(KeyError, match="no runs of b0 × m9"):
        fit.contrast({("b0", "m9"): 1, ("b0", "m0"): -1})


def test_theta0_interaction_is_the_error_term() -> None:
    """Two θ0 per backbone and a mixture × θ0 interaction: differences are tested against its mean square."""
    rng = np.random.default_rng(5)
    frame = design(backbones=2, mixtures=3, seeds=6)
    frame["theta0"] = frame["seed"] % 2
    inter = {k: rng.normal(0, 3.0) for k in set(zip(frame["backbone"], frame["mixture"], frame["theta0"], strict=True))}
    frame["value"] = [inter[(b, m, t)] + rng.normal(0, 0.5) for b, m, t in
                      zip(frame["backbone"], frame["mixture"], frame["theta0"], strict=True)]
    fit = inference.Fit(frame)
    # by hand: with seeds nested in θ0 the seed blocks absorb θ0's main effect; the interaction has
    # (3 − 1)(2 − 1) df per backbone, and its mean square is the RSS gained by cell × θ0 terms over them
    assert fit.df == 4
    additive = inference.Fit(frame.drop(columns="theta0"))
    assert fit.sigma > 2 * additive.sigma > 0  # the single-θ0 model would claim far more precision
    cell_theta = frame.assign(mixture=frame["mixture"] + "_" + frame["theta0"].astype(str)).drop(columns="theta0")
    pure = inference.Fit(cell_theta)
    ss_inter = additive.sigma ** 2 * additive.df - pure.sigma ** 2 * pure.df
    assert fit.sigma ** 2 == pytest.approx(ss_inter / 4)
    runs = frame[["backbone", "mixture", "seed"]].assign(pretrain_seed=frame["theta0"])
    attached = inference.attach_theta0(frame.drop(columns="theta0"), runs)
    assert list(attached["theta0"]) == list(frame["theta0"].astype(str))


# ---------------------------------------------------------------- MDE, power, planning


def test_mde_and_power_by_hand() -> None:
    # Student-t table, 60 df: t(0.975) = 2.000, t(0.80) = 0.848; MDE = (2.000 + 0.848) · SE
    assert inference.mde(1.0, 60) == pytest.approx(2.000 + 0.848, abs=1e-3)
    assert inference.mde(2.5, 60) == pytest.approx(2.5 * (2.000 + 0.848), abs=3e-3)
    assert inference.mde(2.0, 1e9) == pytest.approx(2 * (1.959964 + 0.841621), abs=1e-4)  # the normal limit
    assert inference.power_at(inference.mde(1.0, 62), 1.0, 62) == pytest.approx(0.80, abs=0.01)
    # at large df the power is Φ(Δ/SE − 1.96) + Φ(−Δ/SE − 1.96)
    assert inference.power_at(2.0, 1.0, 1e6) == pytest.approx(stats.norm.cdf(2 - 1.959964) + stats.norm.cdf(-2 - 1.959964),
                                                              abs=1e-4)
    assert inference.power_at(0.0, 1.0, 30) == pytest.approx(0.05, abs=1e-9)
    assert inference.power_at(40.0, 0.1, 2) == pytest.approx(1.0)  # scipy's far tail is NaN; not ours


def test_seeds_needed_and_cli(capsys: pytest.CaptureFixture[str]) -> None:
    need = inference.seeds_needed(2.26, cells=34)
    n = need["pooled"]
    se = [2.26 * math.sqrt(2 / k) for k in (n - 1, n)]
    ok = [inference.t_crit(34 * (k - 1)) * s <= 2 and inference.power_at(2, s, 34 * (k - 1)) >= 0.8
          for k, s in zip((n - 1, n), se, strict=True)]
    assert ok == [False, True] and 19 <= n <= 22  # normal theory: 2 · (2.80 · 2.26 / 2)² = 20.0
    assert inference.seeds_needed(2.26, paired_sd=1.0)["paired"] < n
    assert inference.main(["plan", "--sigma", "2.26", "--cells", "34"]) == 0
    assert f"need {n} seeds per arm" in capsys.readouterr().out


# ---------------------------------------------------------------- multiplicity


def test_holm_against_a_hand_computation() -> None:
    p = np.array([0.01, 0.04, 0.03, 0.005, np.nan])
    # sorted 0.005, 0.01, 0.03, 0.04 (m = 4): 4·0.005 = 0.02, 3·0.01 = 0.03, 2·0.03 = 0.06, 1·0.04 -> max(0.06, 0.04)
    assert inference.holm(p)[:4] == pytest.approx([0.03, 0.06, 0.06, 0.02]) and np.isnan(inference.holm(p)[4])
    np.testing.assert_allclose(inference.holm(np.array([[0.5, 0.9], [0.01, 0.02]])), [[1.0, 1.0], [0.02, 0.02]])  # 2·0.5 = 1
    assert inference.holm_levels(np.array([0.01, 0.04, 0.03]), 0.05) == pytest.approx([0.05 / 3, 0.05, 0.025])


# ---------------------------------------------------------------- the selection-aware test


def test_permutation_test_null_rate_matches_the_stated_chance_rate() -> None:
    """On null data the permutation test rejects at its stated rate, which the scorecard's rank shortcut reproduces,
    while the old sign rule ('the winners differ') passed about 1 − 3·(1/3)³ = 89% of the time."""
    rng = np.random.default_rng(6)
    frame = design(backbones=3, mixtures=3, seeds=4)
    fit = inference.Fit(simulate(frame, rng))
    dsgn = inference.BestDiffersDesign(fit, ["b0", "b1", "b2"], ["m0", "m1", "m2"])
    blocks = {k: i for i, k in enumerate(dict.fromkeys(zip(frame["backbone"], frame["seed"], strict=True)))}
    block = np.array([blocks[k] for k in zip(frame["backbone"], frame["seed"], strict=True)])
    Y = rng.standard_normal((600, len(frame))) + rng.standard_normal((600, len(blocks)))[:, block]
    p_each, p_held, _ = dsgn.pvalues(Y[:, dsgn.rows], 199, np.random.default_rng(7))
    each_rate = (p_each[:, 0] <= 0.05).mean()
    assert abs(each_rate - 0.05) < 0.03  # a valid level-5% test of one arm
    stated = dsgn.null_pvalues(rng.standard_normal((4000, len(dsgn.rows))))[0]
    assert (p_held <= 0.05).mean() <= 0.05 and (stated <= 0.05).mean() <= 0.05
    for level in (0.05, 0.25, 0.5):  # the shortcut's p has the permutation p's null distribution
        assert abs((p_held <= level).mean() - (stated <= level).mean()) < 0.06, level
    # and it ranks the right way: experiments with a crossover (each arm best on some backbone) get small p
    crossover = np.zeros(len(dsgn.rows))
    for b, m in (("b0", "m0"), ("b1", "m1"), ("b2", "m2")):
        crossover[((frame["backbone"] == b) & (frame["mixture"] == m)).to_numpy()[dsgn.rows]] = 3.0
    mixed = np.vstack([rng.standard_normal((2000, len(dsgn.rows))), crossover + rng.standard_normal((100, len(dsgn.rows)))])
    assert np.median(dsgn.null_pvalues(mixed)[0][2000:]) < 0.05
    means = (Y[:, dsgn.rows] @ dsgn.A).reshape(600, 3, 3)
    sign_rule = (np.array([len(set(row)) for row in means.argmax(axis=2)]) > 1).mean()
    assert sign_rule == pytest.approx(1 - 3 / 27, abs=0.05)


def test_best_differs_finds_a_real_crossover() -> None:
    frame = design(backbones=2, mixtures=2, seeds=5)
    value = [(2.0 if (b, m) in {("b0", "m0"), ("b1", "m1")} else 0.0) + 0.1 * s
             for b, m, s in zip(frame["backbone"], frame["mixture"], frame["seed"], strict=True)]
    rng = np.random.default_rng(8)
    result = inference.best_differs_test(inference.Fit(frame.assign(value=np.array(value) + rng.normal(0, 0.3, 20))),
                                         ["b0", "b1"], ["m0", "m1"], permutations=999, seed=0)
    assert result.best == {"b0": "m0", "b1": "m1"} and result.p_held < 0.05 and result.p_contradicted > 0.5
    # m0 best on both backbones while m1 and m2 swap places behind it: one arm is best everywhere
    frame = design(backbones=2, mixtures=3, seeds=5)
    level = {("b0", "m0"): 4.0, ("b1", "m0"): 4.0, ("b0", "m1"): 2.0, ("b1", "m2"): 2.0}
    value = [level.get((b, m), 0.0) + rng.normal(0, 0.3) for b, m in zip(frame["backbone"], frame["mixture"], strict=True)]
    result = inference.best_differs_test(inference.Fit(frame.assign(value=value)), ["b0", "b1"], ["m0", "m1", "m2"],
                                         permutations=999, seed=0)
    assert result.best == {"b0": "m0", "b1": "m0"} and result.p_held > 0.5 and result.p_contradicted < 0.05


# ---------------------------------------------------------------- verdicts on constructed experiments


def constructed(effects: dict[str, float], seeds: int = 6, sd: float = 1.0) -> claims.Data:
    """One backbone, a reference arm 'ref' and one arm per effect; claims 'a vs ref' in family primary."""
    rng = np.random.default_rng(9)
    arms = ["ref", *effects]
    values = pd.DataFrame([("b", m, s, 50 + effects.get(m, 0.0) + rng.normal(0, sd)) for m in arms
                           for s in range(seeds)], columns=["backbone", "mixture", "seed", "value"])
    runs = values[["backbone", "mixture", "seed"]].assign(paper_backbone="", paper_method="")
    spec = {"alpha": 0.05, "pair_by_seed": True, "null_simulations": 2000, "seed": 0,
            "list": [{"id": m, "text": m, "kind": "contrast", "family": "primary", "metric": "mu_mmlu",
                      "direction": "greater", "backbones": ["b"], "a": {"b": m}, "b": {"b": ["ref"]}}
                     for m in effects]}
    return claims.Data(Path("constructed"), runs, spec, {"mu_mmlu": values},
                       {"table2": pd.DataFrame(), "table3": pd.DataFrame(), "table5": pd.DataFrame()}, {})


def test_verdicts_held_contradicted_inconclusive() -> None:
    hyps = {h.claim["id"]: h for h in claims.evaluate(constructed({"up": 4.0, "down": -4.0, "flat": 0.0}))}
    assert hyps["up"].verdict == "held" and hyps["down"].verdict == "contradicted"
    flat = hyps["flat"]
    assert flat.verdict == f"inconclusive (MDE = {flat.mde:.2f})" and flat.comparison.lo < 0 < flat.comparison.hi
    assert flat.p_holm == pytest.approx(min(1.0, 3 * flat.p) if flat.p == min(h.p for h in hyps.values())
                                        else flat.p_holm)
    for h in hyps.values():  # three true nulls would pass with ≈ α/3 each
        assert 0.003 < h.chance < 0.05
    # a difference that clears α alone but not after Holm over 3 hypotheses stays inconclusive
    small = {h.claim["id"]: h for h in claims.evaluate(constructed({"a": 1.2, "b": 0.0, "c": 0.0}, seeds=6))}
    assert small["a"].p < 0.05 < small["a"].p_holm and small["a"].verdict.startswith("inconclusive")


def test_python_m_inference_plan_runs() -> None:
    proc = subprocess.run([sys.executable, "-m", "analysis.inference", "plan", "--sigma", "2.26"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "seeds per arm" in proc.stdout


def test_same_verdict_probability_matches_a_simulated_rerun() -> None:
    """d' ~ N(d, 2 SE²) drawn directly: the share of draws on d's side of the 95% interval."""
    rng = np.random.default_rng(0)
    se, df = 1.0, 40
    c = stats.t.ppf(0.975, df) * se
    for effect in (4.0, 1.0, -3.0, 0.0):
        rerun = rng.normal(effect, np.sqrt(2) * se, 400_000)
        region = (rerun > c) if effect > c else (rerun < -c) if effect < -c else (np.abs(rerun) <= c)
        assert inference.same_verdict_probability(effect, se, df) == pytest.approx(region.mean(), abs=3e-3)
    # a clear effect replicates more often than a borderline one; no SE, no probability
    assert inference.same_verdict_probability(6.0, 1.0, 40) > inference.same_verdict_probability(2.5, 1.0, 40)
    assert math.isnan(inference.same_verdict_probability(1.0, 0.0, 40))
