"""The headroom experiment's statistics (issue 20): the Scheffé quadratic surface over the simplex, its optimum,
the fit job's command line on an aggregated folder, the surface_optimum strategy, and the headroom table.

    .venv/bin/pytest tests/test_headroom.py

A known quadratic surface with θ0 effects and noise: the fit recovers its coefficients and its optimum (the
true optimum found by brute force); the table's headroom and regret rows equal the θ0-paired differences
computed by hand; the optimum's JSON is what the strategy samples with.
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import headroom, inference, leaderboard, surface
from baselines.surface_optimum import SurfaceOptimum
from mos.mixing.strategy import UnboundRunsError

DATASETS = ["Mathematics", "Medicine", "General", "NLP"]
LINEAR = np.array([60.0, 50.0, 55.0, 40.0])
PAIRS = {(0, 3): 30.0, (1, 2): 20.0, (0, 1): -10.0}  # interactions: Mathematics × NLP helps, ...


def truth(W: np.ndarray) -> np.ndarray:
    W = np.atleast_2d(W)
    return W @ LINEAR + sum(c * W[:, i] * W[:, j] for (i, j), c in PAIRS.items())


def design(points: int = 30, theta0s: int = 3, noise: float = 0.5, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    W = np.vstack([rng.dirichlet(np.ones(4), points), np.eye(4)])
    theta = rng.normal(0, 2.0, theta0s)
    rows = []
    for k, w in enumerate(W):
        for t in range(theta0s):
            rows.append({"backbone": "b", "mixture": f"d{k}", "seed": t, "theta0": str(t),
                         **dict(zip(DATASETS, w, strict=True)), "value": float(truth(w)[0] + theta[t] + rng.normal(0, noise))})
    return pd.DataFrame(rows)


def brute_force_optimum(step: int = 40) -> np.ndarray:
    grid = [np.array(c) / step for c in itertools.product(range(step + 1), repeat=3) if sum(c) <= step]
    W = np.array([[*c, 1 - c.sum()] for c in grid])
    return W[int(np.argmax(truth(W)))]


def test_the_fit_recovers_a_known_surface_and_its_optimum() -> None:
    frame = design()
    s = surface.fit_surface(frame, DATASETS)
    beta = np.concatenate([LINEAR, [PAIRS.get((i, j), 0.0) for i, j in itertools.combinations(range(4), 2)]])
    assert np.abs(s.beta - beta).max() < 3.0 and s.theta0s == 3 and s.r2 > 0.9
    best = s.optimum()
    assert abs(best.sum() - 1) < 1e-9 and best.min() >= 0
    # the fitted optimum is as good, on the true surface, as the brute-force optimum (within the noise)
    assert truth(best)[0] >= truth(brute_force_optimum())[0] - 0.3
    # a prediction's SE is positive and grows outside the design's hull (a corner is far from most points)
    assert 0 < s.se(np.full(4, 0.25))[0] < s.se(np.eye(4)[0])[0] * 2
    with pytest.raises(ValueError, match="cannot fit"):
        surface.fit_surface(frame.head(8), DATASETS)


def write_summary(folder: Path, frame: pd.DataFrame) -> Path:
    """An aggregated folder with runs.csv (weights) and metrics.csv (testbed_mc accuracy = value / 100)."""
    summary = folder / "summary"
    summary.mkdir(parents=True)
    runs = frame[["backbone", "mixture", "seed", "theta0"]].assign(
        strategy="dirichlet", params="{}", paper_backbone="", paper_method="",
        weights=[json.dumps(dict(zip(DATASETS, map(float, w), strict=True))) for w in frame[DATASETS].to_numpy()])
    runs.to_csv(summary / "runs.csv", index=False)
    metrics = frame[["backbone", "mixture", "seed"]].assign(benchmark="testbed_mc", scope="overall", name="",
                                                            metric="acc", value=frame["value"] / 100, n_items=100)
    group = metrics.assign(scope="group", name="Mathematics")
    pd.concat([metrics, group]).to_csv(summary / "metrics.csv", index=False)
    return folder


def test_the_fit_command_writes_what_the_strategy_samples_with(tmp_path: Path) -> None:
    folder = write_summary(tmp_path / "design", design())
    out = tmp_path / "optimum.json"
    assert surface.main(["fit", str(folder), "--metric", "mu_mmlu", "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert set(doc["weights"]) == set(DATASETS) and doc["predicted_lo"] < doc["predicted"] < doc["predicted_hi"]
    assert doc["design_runs"] == 34 * 3
    strategy = SurfaceOptimum(fit=str(out))
    assert strategy.input_files() == [str(out)]
    got = strategy.initial_weights(dict.fromkeys(DATASETS, 100))
    assert got == pytest.approx(doc["weights"])
    with pytest.raises(UnboundRunsError, match="does not exist yet"):
        SurfaceOptimum(fit=str(tmp_path / "missing.json")).initial_weights(dict.fromkeys(DATASETS, 100))
    with pytest.raises(ValueError, match="its weights name"):
        strategy.initial_weights({"Mathematics": 1, "NLP": 1})
    assert surface.main(["fit", str(tmp_path / "nowhere"), "--metric", "mu_mmlu", "--out", str(out)]) == 2


def test_headroom_and_regret_rows_are_the_paired_differences() -> None:
    """The table's rows by hand: optimum − heuristic and mixture − optimum over shared θ0s; the share of the
    headroom = (mixture − declared best) / (optimum − declared best)."""
    rng = np.random.default_rng(3)
    thetas = 12
    level = {"opt": 60.0, "temperature": 57.0, "uniform": 56.0, "method": 58.5}
    rows = [("b", m, t, str(t), level[m] + rng.normal(0, 0.5)) for m in level for t in range(thetas)]
    per_run = pd.DataFrame(rows, columns=["backbone", "mixture", "seed", "theta0", "value"])
    fit = inference.Fit(per_run, inference.BOTH)
    a = {"fit": fit, "backbone": "b", "optimum": "opt", "heuristics": ["temperature", "uniform"],
         "declared": "temperature", "spec": {"design": []}}
    table = headroom.rows(a).set_index("mixture")

    def paired(x: str, y: str) -> float:
        return float((per_run[per_run.mixture == x]["value"].to_numpy() - per_run[per_run.mixture == y]["value"].to_numpy()).mean())

    assert table.loc["temperature", "effect"] == pytest.approx(paired("opt", "temperature"))
    assert table.loc["temperature", "declared"] and table.loc["temperature", "lo"] > 0
    assert table.loc["method", "effect"] == pytest.approx(paired("method", "opt"))
    assert table.loc["method", "share"] == pytest.approx(paired("method", "temperature") / paired("opt", "temperature"))
    assert math.isclose(table.loc["method", "share"], 1.5 / 3.0, abs_tol=0.15)


def test_the_leaderboard_regret_columns_are_the_headroom_tables_numbers() -> None:
    """The leaderboard's regret and share equal the headroom table's for every method, the optimum reads 0, and
    the headroom design's static points are dropped from its rows while the heuristics stay."""
    rng = np.random.default_rng(4)
    level = {"opt": 60.0, "temperature": 57.0, "uniform": 56.0, "method": 58.5, "d0": 55.0}
    rows = [("b", m, t, str(t), level[m] + rng.normal(0, 0.5)) for m in level for t in range(10)]
    per_run = pd.DataFrame(rows, columns=["backbone", "mixture", "seed", "theta0", "value"])
    four = json.dumps(dict.fromkeys(DATASETS, 0.25))
    runs = pd.DataFrame([{"backbone": "b", "mixture": m, "seed": t, "weights": four,
                          "strategy": {"temperature": "temperature", "uniform": "temperature", "d0": "dirichlet"}
                          .get(m, "fixed")} for m in level for t in range(10)])
    spec = {"headroom": {"backbone": "b", "optimum": "opt", "metric": "mu_both", "design": ["d0", "temperature"]},
            "best_heuristic": {"b": "temperature"}}
    fit = inference.Fit(per_run, inference.BOTH)
    got = leaderboard.regrets(runs, {"mu_both": per_run}, spec, fit, "mu_both").set_index("mixture")
    table = headroom.rows({"fit": fit, "backbone": "b", "optimum": "opt", "heuristics": ["temperature", "uniform"],
                           "declared": "temperature", "spec": {"design": ["d0"]}}).set_index("mixture")
    assert got.loc["method", "regret"] == pytest.approx(table.loc["method", "effect"])
    assert got.loc["method", ["regret_lo", "regret_hi"]].tolist() == pytest.approx(
        table.loc["method", ["lo", "hi"]].tolist())
    assert got.loc["method", "headroom_share"] == pytest.approx(table.loc["method", "share"])
    assert got.loc["opt", "regret"] == 0 and got.loc["uniform", "regret"] < 0
    assert leaderboard.design_points(runs, spec) == {"d0"}
    assert leaderboard.regrets(runs, {"mu_both": per_run}, {}, fit, "mu_both").empty


def test_projection_puts_each_dataset_on_a_corner() -> None:
    P = headroom.projection(np.eye(4))
    assert {tuple(p) for p in P} == {(0.0, 1.0), (1.0, 1.0), (1.0, 0.0), (0.0, 0.0)}
    assert headroom.projection(np.full((1, 4), 0.25))[0] == pytest.approx([0.5, 0.5])


def test_the_headroom_outside_the_design_uses_only_the_other_theta0s() -> None:
    """The optimum was chosen on the design's θ0s: its headroom is also given on the θ0s the design did not use,
    where a flattering mixture × θ0 interaction cannot inflate it. Here the optimum is +3 on the design's θ0s 0
    and 1 only (a winner's curse) and +0 elsewhere: the outside row sees +0, the pooled row more."""
    thetas = 8
    rows_ = []
    for t in range(thetas):
        curse = 3.0 if t < 2 else 0.0
        rows_ += [("b", "opt", t, str(t), 57.0 + curse + 0.1 * (t % 3)), ("b", "temperature", t, str(t), 57.0 + 0.1 * (t % 2))]
    per_run = pd.DataFrame(rows_, columns=["backbone", "mixture", "seed", "theta0", "value"])
    fit = inference.Fit(per_run, inference.BOTH)
    design = pd.DataFrame({"mixture": ["d0", "d0"] + ["temperature"] * thetas,  # the heuristic runs on every θ0
                           "theta0": ["0", "1"] + [str(t) for t in range(thetas)]})
    a = {"fit": fit, "backbone": "b", "optimum": "opt", "heuristics": ["temperature"], "declared": "temperature",
         "spec": {"design": []}, "design": design}
    table = headroom.rows(a).set_index("kind")
    outside = table.loc["headroom_outside_design"]
    opt, temp = (per_run[(per_run.mixture == m) & (per_run.seed >= 2)]["value"].to_numpy() for m in ("opt", "temperature"))
    assert outside["theta0s"] == thetas - 2 and outside["effect"] == pytest.approx(float((opt - temp).mean()))
    assert table.loc["headroom", "effect"] > outside["effect"] + 0.5
    a["design"] = pd.DataFrame({"mixture": ["d0"] * thetas, "theta0": [str(t) for t in range(thetas)]})
    assert "headroom_outside_design" not in set(headroom.rows(a)["kind"])  # every θ0 was the design's


def test_each_slice_holds_one_dataset_and_passes_through_the_optimum(tmp_path: Path) -> None:
    w_star = np.array([0.1, 0.2, 0.3, 0.4])
    for fixed in range(4):
        W, P = headroom.slice_through(w_star, fixed, steps=20)
        assert np.allclose(W.sum(axis=1), 1.0) and np.allclose(W[:, fixed], w_star[fixed]) and (W >= 0).all()
        assert np.abs(W - w_star).sum(axis=1).min() < 0.05  # the optimum lies on (a grid point near) the slice
        assert P.min() >= -1e-12 and P[:, 0].max() <= 1 + 1e-12
    frame = design()
    s = surface.fit_surface(frame, DATASETS)
    a = {"design": frame, "datasets": DATASETS, "surface": s, "predicted_weights": s.optimum(),
         "mean_weights": pd.DataFrame(columns=DATASETS), "spec": {"design": []}, "heuristics": [], "optimum": "opt",
         "metric": "mu_both"}
    written = headroom.figure(a, tmp_path / "headroom")
    assert all(p.stat().st_size > 1000 for p in written)
